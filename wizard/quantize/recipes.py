"""How each variant file is made with onnxruntime's own tools (child side only).

One function per family; each takes the fp32 file and writes the variant file, returning the
Python call that reproduces it by hand. Options a recovery attempt may change: ``per_channel``,
``reduce_range``, ``exclude`` (node names kept in float), ``block_size``, ``fp16_block``.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import onnx

from onnx_wizard.quantize.float16 import FP16_CALL, fp16_from_halves, merged_halves, to_fp16

HALVES_NOTE = (
    "# by hand: convert decoder_model.onnx and decoder_with_past_model.onnx with "
    "convert_float_to_float16(keep_io_types=False), then optimum.onnx.graph_transformations"
    ".merge_decoders(...) into {out}, with Casts to float32 at the inputs and outputs"
)
UINT8_OPS = {"Conv", "GroupQueryAttention", "MultiHeadAttention"}
EXTERNAL_DATA_BYTES = 1_800_000_000  # a single protobuf cannot pass 2 GB; stay well under


def log_quantizers_to_stderr() -> None:
    """onnxruntime's quantizers log INFO lines per node. In the child, stderr is the variant's
    log file (the parent shows one line per variant), so keep them all there, with a time."""
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )


def op_types(model: onnx.ModelProto) -> set[str]:
    found: set[str] = set()

    def walk(graph: onnx.GraphProto) -> None:
        for node in graph.node:
            found.add(node.op_type)
            for attribute in node.attribute:
                if attribute.type == onnx.AttributeProto.GRAPH:
                    walk(attribute.g)

    walk(model.graph)
    return found


def weight_type_for(target_weight: str, model: onnx.ModelProto) -> str:
    if target_weight == "auto":
        return "uint8" if op_types(model) & UINT8_OPS else "int8"
    return target_weight


def save(model: onnx.ModelProto, path: Path, threshold: int = EXTERNAL_DATA_BYTES) -> list[Path]:
    """Write ``model``; past ``threshold`` bytes of weights, into ``<file>.onnx_data`` beside it
    (the name Transformers.js looks for). Returns the files written."""
    weights = sum(len(t.raw_data) for t in model.graph.initializer)
    if weights <= threshold:
        onnx.save_model(model, str(path))
        return [path]
    data = path.with_name(path.name + "_data")
    data.unlink(missing_ok=True)
    onnx.save_model(
        model,
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=data.name,
        size_threshold=1024,
    )
    return [path, data]


def _through_temp(write: Callable[[Path], None], out: Path, threshold: int) -> list[Path]:
    """Let an onnxruntime tool write to a scratch file, then save it under our naming rules."""
    with tempfile.TemporaryDirectory(dir=out.parent) as scratch:
        temp = Path(scratch) / "variant.onnx"
        write(temp)
        return save(onnx.load(str(temp)), out, threshold)


def dynamic_int8(source: Path, out: Path, options: dict[str, Any], threshold: int) -> str:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(str(source))
    weight = weight_type_for(options.get("weight_type", "int8"), model)
    kwargs: dict[str, Any] = {
        "per_channel": bool(options.get("per_channel")),
        "reduce_range": bool(options.get("reduce_range")),
        "nodes_to_exclude": list(options.get("exclude") or []),
        # Quantize inside If branches (merged decoders); only weight MatMuls, never Q @ K^T.
        "extra_options": {"EnableSubgraph": True, "MatMulConstBOnly": True},
    }
    big = sum(len(t.raw_data) for t in model.graph.initializer) > threshold

    def write(temp: Path) -> None:
        quantize_dynamic(
            source,
            temp,
            weight_type=QuantType.QUInt8 if weight == "uint8" else QuantType.QInt8,
            use_external_data_format=big,
            **kwargs,
        )

    _through_temp(write, out, threshold)
    args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    return (
        "from onnxruntime.quantization import QuantType, quantize_dynamic; "
        f"quantize_dynamic({str(source)!r}, {str(out)!r}, weight_type=QuantType."
        f"{'QUInt8' if weight == 'uint8' else 'QInt8'}, {args})"
    )


def int4(source: Path, out: Path, options: dict[str, Any], threshold: int) -> str:
    model = onnx.load(str(source))
    exclude = list(options.get("exclude") or [])
    block = int(options.get("block_size") or 32)
    if options.get("bnb4"):
        from onnxruntime.quantization.matmul_bnb4_quantizer import MatMulBnb4Quantizer

        quantizer: Any = MatMulBnb4Quantizer(model, 1, block, nodes_to_exclude=exclude)  # NF4
        call = (
            "from onnxruntime.quantization.matmul_bnb4_quantizer import "
            f"MatMulBnb4Quantizer as Q; q = Q(onnx.load({str(source)!r}), 1, {block}, "
            f"nodes_to_exclude={exclude!r})"
        )
    else:
        from onnxruntime.quantization.matmul_nbits_quantizer import (
            DefaultWeightOnlyQuantConfig,
            MatMulNBitsQuantizer,
        )

        config = DefaultWeightOnlyQuantConfig(block_size=block, is_symmetric=True)
        quantizer = MatMulNBitsQuantizer(
            model, block_size=block, is_symmetric=True, nodes_to_exclude=exclude, algo_config=config
        )
        call = (
            "from onnxruntime.quantization.matmul_nbits_quantizer import "
            "DefaultWeightOnlyQuantConfig as C, MatMulNBitsQuantizer as Q; "
            f"q = Q(onnx.load({str(source)!r}), block_size={block}, is_symmetric=True, "
            f"nodes_to_exclude={exclude!r}, algo_config=C(block_size={block}, "
            "is_symmetric=True))"
        )
    if options.get("then_fp16") and merged_halves(source):

        def four_bit(half: onnx.ModelProto) -> onnx.ModelProto:
            return int4_model(half, block, exclude)

        save(fp16_from_halves(source, out.parent, options, prepare=four_bit), out, threshold)
        return HALVES_NOTE.format(out=out.name)
    quantizer.process()
    result = quantizer.model.model
    call = f"import onnx; {call}; q.process(); m = q.model.model"
    if options.get("then_fp16"):
        result = to_fp16(result, options)
        call += f"; {FP16_CALL.format(strict=bool(options.get('fp16_strict')))}"
    save(result, out, threshold)
    return f"{call}; onnx.save(m, {str(out)!r})"


def int4_model(model: onnx.ModelProto, block: int, exclude: list[str]) -> onnx.ModelProto:
    from onnxruntime.quantization.matmul_nbits_quantizer import (
        DefaultWeightOnlyQuantConfig,
        MatMulNBitsQuantizer,
    )

    config = DefaultWeightOnlyQuantConfig(block_size=block, is_symmetric=True)
    quantizer = MatMulNBitsQuantizer(
        model, block_size=block, is_symmetric=True, nodes_to_exclude=exclude, algo_config=config
    )
    quantizer.process()
    return quantizer.model.model


def fp16(source: Path, out: Path, options: dict[str, Any], threshold: int) -> str:
    model = onnx.load(str(source))
    if is_fp16(model):
        raise ValueError(f"{source.name} is already float16")
    if merged_halves(source):
        save(fp16_from_halves(source, out.parent, options), out, threshold)
        return HALVES_NOTE.format(out=out.name)
    save(to_fp16(model, options), out, threshold)
    call = FP16_CALL.format(strict=bool(options.get("fp16_strict")))
    return f"import onnx; m = onnx.load({str(source)!r}); {call}; onnx.save(m, {str(out)!r})"


def is_fp16(model: onnx.ModelProto) -> bool:
    kinds = [t.data_type for t in model.graph.initializer if t.data_type in (1, 10)]
    return bool(kinds) and kinds.count(onnx.TensorProto.FLOAT16) > len(kinds) / 2


def static_qdq(
    source: Path, out: Path, options: dict[str, Any], threshold: int, reader: Any
) -> str:
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    tensorrt = options.get("preset") == "tensorrt"
    extra: dict[str, Any] = {"WeightSymmetric": True}
    if tensorrt:  # TensorRT reads symmetric int8 activations and wants QDQ on the weights too
        extra.update(
            ActivationSymmetric=True, AddQDQPairToWeight=True, QDQKeepRemovableActivations=True
        )
    kwargs: dict[str, Any] = {
        "quant_format": QuantFormat.QDQ,
        "per_channel": True,
        "reduce_range": bool(options.get("reduce_range")),
        "activation_type": QuantType.QInt8 if tensorrt else QuantType.QUInt8,
        "weight_type": QuantType.QInt8,
        "nodes_to_exclude": list(options.get("exclude") or []),
        "extra_options": extra,
    }
    big = os.path.getsize(source) > threshold

    def write(temp: Path) -> None:
        quantize_static(source, temp, reader, use_external_data_format=big, **kwargs)

    _through_temp(write, out, threshold)
    shown = ", ".join(f"{k}={v}" for k, v in kwargs.items())
    return (
        "from onnxruntime.quantization import QuantFormat, QuantType, quantize_static; "
        f"quantize_static({str(source)!r}, {str(out)!r}, reader, {shown})  "
        "# reader: a CalibrationDataReader over the tokenized calibration samples"
    )
