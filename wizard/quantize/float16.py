"""fp16 conversion that loads: graph I/O kept fp32, ops that need fp32 blocked (child side only).

onnxruntime's converter (``onnxruntime.transformers.float16``) is the one that works here, where
onnxconverter_common's output fails to load; merged decoders still need the repairs below.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
# The fp16 step as a user can run it by hand (our block lists, via this module).
FP16_CALL = (
    "from onnx_wizard.quantize.float16 import to_fp16; m = to_fp16(m, {{'fp16_strict': {strict}}})"
)


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
    scratch_dir: Path,
    options: dict[str, Any],
    prepare: Callable[[onnx.ModelProto], onnx.ModelProto] | None = None,
) -> onnx.ModelProto:
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
    with tempfile.TemporaryDirectory(dir=scratch_dir) as scratch:
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
    return merged


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
