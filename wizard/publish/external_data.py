"""External data files, named the way Transformers.js looks for them: ``model.onnx_data``.

Transformers.js fetches ``<file>_data``, then ``<file>_data_1``, ... and nothing else, while
other producers write ``model.onnx.data`` or one file per tensor. When the names differ, the
graph is rewritten to point at the new names (only its small protobuf: the weights stay where
they are and are linked, not loaded). onnx is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from onnx_wizard.errors import WizardError

MAX_CHUNKS = 100  # Transformers.js refuses more (MAX_EXTERNAL_DATA_CHUNKS)


def chunk_names(onnx_name: str, count: int) -> list[str]:
    return [f"{onnx_name}_data" + ("" if i == 0 else f"_{i}") for i in range(count)]


def _tensors(graph: Any) -> Iterator[Any]:
    """Every tensor of a graph that may carry external data, subgraphs included."""
    yield from graph.initializer
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            if attribute.HasField("g"):
                yield from _tensors(attribute.g)
            for subgraph in attribute.graphs:
                yield from _tensors(subgraph)


def _external_entries(model: Any) -> Iterator[Any]:
    """The ``location`` entry of every tensor stored outside the graph file."""
    import onnx

    for tensor in _tensors(model.graph):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        for entry in tensor.external_data:
            if entry.key == "location":
                yield entry


def external_locations(path: Path) -> list[str]:
    """The external data files ``path`` refers to, in order of first use (loads no weights)."""
    import onnx

    try:
        model = onnx.load_model(str(path), load_external_data=False)
    except Exception as error:  # onnx raises DecodeError and friends for a damaged file
        raise WizardError(
            f"{path} is not a readable ONNX file ({type(error).__name__}).",
            "Export the model again; publish only sends files that load.",
        ) from None
    seen: dict[str, None] = {}
    for entry in _external_entries(model):
        seen.setdefault(entry.value, None)
    return list(seen)


def write_with_locations(source: Path, target: Path, renames: dict[str, str]) -> None:
    """Write ``source``'s graph to ``target`` with its external data locations renamed."""
    import onnx

    model = onnx.load_model(str(source), load_external_data=False)
    for entry in _external_entries(model):
        entry.value = renames.get(entry.value, entry.value)
    # Serialised directly: onnx.save would try to handle the (unloaded) external tensors itself.
    target.write_bytes(model.SerializeToString())


def plan_data_files(source: Path, staged_name: str) -> tuple[list[tuple[Path, str]], bool]:
    """For ONNX file ``source`` staged as ``staged_name``: (data file -> staged name) pairs, and
    whether the graph must be rewritten because the names change."""
    locations = external_locations(source)
    if not locations:
        return [], False
    if len(locations) > MAX_CHUNKS:
        raise WizardError(
            f"{source.name} keeps its weights in {len(locations)} external files; Transformers.js "
            f"loads at most {MAX_CHUNKS}.",
            "Save it with one data file: onnx.save(onnx.load(path), path, "
            "save_as_external_data=True, all_tensors_to_one_file=True, "
            f"location='{source.name}_data')",
        )
    wanted = chunk_names(staged_name, len(locations))
    pairs: list[tuple[Path, str]] = []
    for location, name in zip(locations, wanted, strict=True):
        data = source.parent / location
        if not data.is_file():
            raise WizardError(
                f"{source.name} refers to external data {location!r}, which is not in "
                f"{source.parent}.",
                "Put the data file back beside the ONNX file (or export again).",
            )
        pairs.append((data, name))
    return pairs, locations != wanted
