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

import numpy as np
import onnx

# Ops kept in fp32 by the fp16 conversion, on top of onnxruntime's own block list: they have no
# fp16 kernel in ONNX Runtime or lose too much (random ops, resize, top-k, ranges).
FP16_BLOCK = (
    "RandomNormalLike",
    "RandomUniformLike",
    "RandomNormal",
    "RandomUniform",
    "Resize",
    "Upsample",
    "TopK",
    "Range",
    "CumSum",
    "Min",
    "Max",
    "Multinomial",
)
# A recovery attempt also keeps the normalisations and softmax in fp32.
FP16_BLOCK_STRICT = (
    *FP16_BLOCK,
    "LayerNormalization",
    "SimplifiedLayerNormalization",
    "SkipLayerNormalization",
    "Softmax",
    "ReduceMean",
    "Pow",
    "Sqrt",
    "Erf",
)
# The fp16 step as a user can run it by hand (our block lists, via onnx_wizard.quantize.recipes).
FP16_CALL = (
    "from onnx_wizard.quantize.recipes import to_fp16; m = to_fp16(m, {{'fp16_strict': {strict}}})"
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

        return fp16_from_halves(source, out, options, threshold, prepare=four_bit)
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


def to_fp16(model: onnx.ModelProto, options: dict[str, Any]) -> onnx.ModelProto:
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    extra = FP16_BLOCK_STRICT if options.get("fp16_strict") else FP16_BLOCK
    block = sorted({*DEFAULT_OP_BLOCK_LIST, *extra})
    converted = convert_float_to_float16(
        model,
        keep_io_types=True,
        op_block_list=block,
        node_block_list=list(options.get("exclude") or []),
    )
    _identity_for_outer_outputs(converted.graph)
    return converted


def _identity_for_outer_outputs(graph: onnx.GraphProto) -> None:
    """ONNX Runtime refuses an If branch that returns an outer-scope value directly, which the
    fp16 conversion produces on merged decoders ("Subgraph output (logits) is an outer scope
    value"): route each such output through an Identity node inside the branch."""
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type != onnx.AttributeProto.GRAPH:
                continue
            branch = attribute.g
            _identity_for_outer_outputs(branch)
            local = {o for n in branch.node for o in n.output}
            local |= {i.name for i in branch.input} | {t.name for t in branch.initializer}
            for output in branch.output:
                if output.name not in local:
                    renamed = f"{output.name}/branch_identity"
                    identity = onnx.helper.make_node(
                        "Identity", [output.name], [renamed], name=f"{renamed}_node"
                    )
                    branch.node.append(identity)
                    output.name = renamed


def fp16(source: Path, out: Path, options: dict[str, Any], threshold: int) -> str:
    model = onnx.load(str(source))
    if is_fp16(model):
        raise ValueError(f"{source.name} is already float16")
    if merged_halves(source):
        return fp16_from_halves(source, out, options, threshold)
    save(to_fp16(model, options), out, threshold)
    call = FP16_CALL.format(strict=bool(options.get("fp16_strict")))
    return f"import onnx; m = onnx.load({str(source)!r}); {call}; onnx.save(m, {str(out)!r})"


def merged_halves(source: Path) -> tuple[Path, Path] | None:
    """The two decoders a merged decoder was made from, when they sit beside it."""
    if not source.stem.startswith("decoder_model_merged"):
        return None
    halves = (
        source.with_name("decoder_model.onnx"),
        source.with_name("decoder_with_past_model.onnx"),
    )
    return halves if all(h.is_file() for h in halves) else None


def fp16_from_halves(
    source: Path,
    out: Path,
    options: dict[str, Any],
    threshold: int,
    prepare: Callable[[onnx.ModelProto], onnx.ModelProto] | None = None,
) -> str:
    """fp16 for a merged decoder: convert its two halves, merge them again, fp32 at the edges.

    onnxruntime's float16 converter breaks the If branches of a merged decoder (duplicate
    names, dropped Casts: "Node input '/decoder/Cast_2_output_0' is not a graph input"), while
    each half converts cleanly; optimum's ``merge_decoders`` then joins them as the export did."""
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16
    from optimum.onnx.graph_transformations import merge_decoders

    halves = merged_halves(source)
    assert halves is not None
    extra = FP16_BLOCK_STRICT if options.get("fp16_strict") else FP16_BLOCK
    block = sorted({*DEFAULT_OP_BLOCK_LIST, *extra})
    with tempfile.TemporaryDirectory(dir=out.parent) as scratch:
        converted = []
        for half in halves:
            model = onnx.load(str(half))
            if prepare is not None:
                model = prepare(model)
            model = convert_float_to_float16(model, keep_io_types=False, op_block_list=block)
            path = Path(scratch) / half.name
            onnx.save_model(model, str(path))
            converted.append(str(path))
        merged_path = Path(scratch) / "merged.onnx"
        merge_decoders(converted[0], converted[1], strict=False, save_path=str(merged_path))
        merged = onnx.load(str(merged_path))
    fp32_at_the_edges(merged)
    save(merged, out, threshold)
    return (
        "# by hand: convert decoder_model.onnx and decoder_with_past_model.onnx with "
        "convert_float_to_float16(keep_io_types=False), then optimum.onnx.graph_transformations"
        f".merge_decoders(...) into {out.name}, with Casts to float32 at the inputs and outputs"
    )


def fp32_at_the_edges(model: onnx.ModelProto) -> None:
    """Make every float16 graph input and output float32, with a Cast inside the graph."""
    graph, half, full = model.graph, onnx.TensorProto.FLOAT16, onnx.TensorProto.FLOAT
    renames: dict[str, str] = {}
    casts = []
    for item in graph.input:
        if item.type.tensor_type.elem_type == half:
            inner = f"{item.name}/as_fp16"
            renames[item.name] = inner
            casts.append(
                onnx.helper.make_node("Cast", [item.name], [inner], to=half, name=f"{inner}_cast")
            )
            item.type.tensor_type.elem_type = full
    _rename_uses(graph, renames)
    for node in graph.node:
        for index, name in enumerate(node.output):
            for item in graph.output:
                if item.name == name and item.type.tensor_type.elem_type == half:
                    node.output[index] = f"{name}/as_fp16"
    tails = []
    for item in graph.output:
        if item.type.tensor_type.elem_type == half:
            tails.append(
                onnx.helper.make_node(
                    "Cast",
                    [f"{item.name}/as_fp16"],
                    [item.name],
                    to=full,
                    name=f"{item.name}/as_fp32_cast",
                )
            )
            item.type.tensor_type.elem_type = full
    nodes = [*casts, *graph.node, *tails]
    del graph.node[:]
    graph.node.extend(nodes)


def _rename_uses(graph: onnx.GraphProto, renames: dict[str, str]) -> None:
    for node in graph.node:
        for index, name in enumerate(node.input):
            if name in renames:
                node.input[index] = renames[name]
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                _rename_uses(attribute.g, renames)


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


def rank_matmuls(source: Path, feeds: dict[str, np.ndarray], bits: int) -> list[str]:
    """Weight MatMuls, most sensitive first, by a one-pass per-node measure.

    One fp32 run exposes every weight MatMul's input; each node's error is then simulated in
    numpy: ``|A W - q(A) q(W)| / |A W|`` with the activations quantized per tensor (uint8, as
    dynamic quantization does) and the weights per output channel (int8) or per block of 32
    along K (4-bit, activations left in float). Cheap: no quantize+run trial per node."""
    import onnxruntime as ort

    model = onnx.load(str(source))
    weights = {t.name: t for t in model.graph.initializer}
    nodes = [
        n
        for n in model.graph.node
        if n.op_type == "MatMul" and n.input[1] in weights and len(weights[n.input[1]].dims) == 2
    ]
    if not nodes:
        return []
    known = {o.name for o in model.graph.output}
    for node in nodes:
        if node.input[0] not in known:
            model.graph.output.append(onnx.helper.make_empty_tensor_value_info(node.input[0]))
            known.add(node.input[0])
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "probe.onnx"
        save(model, path)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        values = dict(zip(names, session.run(None, feeds), strict=True))
    errors: dict[str, float] = {}
    for node in nodes:
        a = np.asarray(values[node.input[0]], dtype=np.float32).reshape(-1, 1)
        a = a.reshape(-1, int(weights[node.input[1]].dims[0]))
        w = onnx.numpy_helper.to_array(weights[node.input[1]]).astype(np.float32)
        exact = a @ w
        approx = (_fake_quant_activations(a) if bits == 8 else a) @ _fake_quant_weights(w, bits)
        errors[node.name] = float(
            np.linalg.norm(exact - approx) / max(float(np.linalg.norm(exact)), 1e-12)
        )
    return sorted(errors, key=errors.__getitem__, reverse=True)


def _fake_quant_activations(a: np.ndarray) -> np.ndarray:
    low, high = min(float(a.min()), 0.0), max(float(a.max()), 0.0)
    scale = (high - low) / 255 or 1.0
    zero = np.round(-low / scale)
    return (np.clip(np.round(a / scale) + zero, 0, 255) - zero) * scale


def _fake_quant_weights(w: np.ndarray, bits: int) -> np.ndarray:
    if bits == 8:
        scale = np.abs(w).max(axis=0, keepdims=True) / 127
        scale[scale == 0] = 1.0
        return np.round(w / scale) * scale
    rows = w.shape[0] - w.shape[0] % 32 or w.shape[0]
    blocks = w[:rows].reshape(-1, min(32, rows), w.shape[1])
    scale = np.abs(blocks).max(axis=1, keepdims=True) / 7
    scale[scale == 0] = 1.0
    out = w.copy()
    out[:rows] = (np.clip(np.round(blocks / scale), -8, 7) * scale).reshape(rows, w.shape[1])
    return out
