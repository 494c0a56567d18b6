"""Inspect a model before exporting it: task, KV cache, files to expect, size and RAM, warnings.

Reads only small files (config.json, safetensors headers, index files) with the standard library,
so ``onnx-wizard inspect`` answers in a fraction of a second and never loads weights or imports
torch, transformers or optimum. optimum's facts come from ``supported_tasks`` (cached JSON).
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.util
import struct
import textwrap
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from onnx_wizard.inspection.supported_tasks import TaskTable, load_table
from onnx_wizard.inspection.tasks import (
    detect_library,
    detect_task,
    expected_files,
    is_encoder_decoder,
    task_modality,
    transformersjs_files,
)
from onnx_wizard.inspection.weights import (
    DTYPE_BYTES,
    PROTOBUF_LIMIT,
    WeightInfo,
    config_dtype,
    estimate_parameters,
    ram_estimate,
    read_weights,
)


@dataclass(frozen=True)
class ModelReport:
    """Everything ``inspect`` learned about a model; ``to_dict`` is the ``--json`` output."""

    spec: str
    source_kind: str
    label: str
    path: str
    model_type: str | None
    architectures: tuple[str, ...]
    library: str
    task: str | None
    task_reasons: tuple[str, ...]
    task_candidates: tuple[str, ...]
    with_past: bool
    with_past_applies: bool
    is_encoder_decoder: bool
    is_decoder: bool
    modality: str
    expected_files: tuple[str, ...]
    transformersjs_files: tuple[str, ...]
    parameters: int | None
    parameters_source: str
    weight_bytes: int | None
    weight_files: tuple[str, ...]
    dtype: str | None
    ram_estimate_bytes: int | None
    supported: bool
    closest: tuple[str, ...]
    needs_remote_code: bool
    known_to_transformers: bool
    notes: tuple[str, ...]
    table_versions: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def closest_supported(name: str, table: TaskTable, architectures: list[str]) -> tuple[str, ...]:
    """Supported model types whose names (or whose classes' names) are most like this model's."""
    supported = sorted(table.supported.get("transformers", {}))
    found = difflib.get_close_matches(name, supported, n=5, cutoff=0.5) if name else []
    if architectures:
        classes = [c for c, e in table.architectures.items() if e["model_type"] in supported]
        for match in difflib.get_close_matches(architectures[0], classes, n=5, cutoff=0.6):
            found.append(table.architectures[match]["model_type"])
    return tuple(dict.fromkeys(found))[:5]


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None  # looks on disk; imports nothing


def _human(n: float, units: tuple[str, ...] = (" GB", " MB", " KB")) -> str:
    for unit, size in zip(units, (1e9, 1e6, 1e3), strict=True):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return f"{int(n)}{'' if units[0] == 'B' else ' bytes'}"


def _notes(report: ModelReport, config: dict[str, Any], table: TaskTable) -> list[str]:
    """Plain-language warnings about what will or may go wrong in the export."""
    notes = []
    mt, library, task = report.model_type, report.library, report.task or ""
    optimum = table.versions.get("optimum", "?")
    if library == "transformers" and mt and mt not in table.transformers_model_types:
        notes.append(
            f"transformers {table.versions.get('transformers')} does not know model_type {mt!r}. "
            + (
                "Its auto_map points at code in the model repository."
                if "auto_map" in config
                else "A newer transformers may, but optimum-onnx pins transformers<4.58."
            )
        )
    if not report.supported and library == "transformers":
        closest = ", ".join(report.closest) or "none"
        notes.append(
            f"optimum {optimum} has no ONNX export for model_type {mt!r} (closest supported: "
            f"{closest}). `onnx-wizard export MODEL OUTDIR --auto-fix` tries the fallback routes "
            "(a related type's ONNX config, torch.onnx), each validated against PyTorch."
        )
    if "auto_map" in config:
        notes.append(
            "The config has auto_map: loading it runs Python code from the model repository "
            "(trust_remote_code=True). Read that code before you allow it."
        )
    module = {"sentence-transformers": "sentence_transformers"}.get(library, library)
    if library != "transformers" and not _installed(module):
        notes.append(f"{library} is not installed, and optimum needs it for this model.")
        if library == "sentence-transformers":
            notes.append("Without it optimum exports the bare transformer: no pooling layer.")
    if task.startswith("text-classification") and config.get("pad_token_id") is None:
        notes.append(
            "config.json has no pad_token_id: optimum takes it from the tokenizer, or needs "
            "--pad_token_id for a text-classification export."
        )
    if task.startswith("text-generation") and report.is_encoder_decoder:
        notes.append("optimum refuses text-generation for an encoder-decoder config.")
    if report.with_past and report.is_decoder:
        notes.append("model.onnx takes and returns past_key_values.N.key/value (the KV cache).")
    if "decoder_model_merged.onnx" in report.expected_files:
        notes.append(
            "Transformers.js loads only encoder_model + decoder_model_merged; decoder_model and "
            "decoder_with_past_model serve ONNX Runtime in Python. The merge needs ~2x the "
            "model's size in RAM; --no-post-process skips it."
        )
    if report.expected_files and not report.transformersjs_files:
        notes.append("Transformers.js cannot load these files as they are.")
    fp32 = (report.parameters or 0) * 4
    if fp32 > PROTOBUF_LIMIT:
        notes.append(
            f"At fp32 the weights take {_human(fp32)}, over ONNX's 2 GB protobuf limit: "
            "they go to an external data file (model.onnx_data)."
        )
    if report.dtype in ("float16", "bfloat16"):
        notes.append(
            f"The weights are {report.dtype}; the export loads them as float32 by default "
            "(twice the size). --dtype fp16 keeps half precision, on GPU."
        )
    how = {
        "safetensors index": "come from the index file's total size.",
        "estimate from config": "are estimated from the config's sizes.",
        "unknown": "are unknown (the config has no sizes to estimate from).",
    }.get(report.parameters_source)
    if how:
        notes.append(f"No safetensors weights were read here, so parameters and sizes {how}")
    return notes


def inspect_folder(
    folder: Path, spec: str | None = None, kind: str = "local", label: str | None = None
) -> ModelReport:
    """Inspect a local folder holding config.json (or a diffusers model_index.json)."""
    from onnx_wizard.inspection.source import check_model_folder

    config = check_model_folder(folder)
    table = load_table()
    library, library_reason = detect_library(folder, config)
    detection = detect_task(config, library, table)
    architectures = [a for a in config.get("architectures") or [] if isinstance(a, str)]
    if library == "timm" and isinstance(config.get("architecture"), str):
        architectures = [config["architecture"]]
    elif library == "diffusers" and isinstance(config.get("_class_name"), str):
        architectures = [config["_class_name"]]
    model_type = config.get("model_type") if isinstance(config.get("model_type"), str) else None
    if model_type is None and library == "transformers" and architectures:
        model_type = table.model_type_of(architectures[0])
    encdec = library == "transformers" and is_encoder_decoder(
        {**config, "model_type": model_type}, table
    )
    files = expected_files(model_type, detection.task, encdec, library, table)
    notes: list[str] = []
    try:
        weights = read_weights(folder, config, recursive=library == "diffusers")
    except (OSError, ValueError, KeyError, TypeError, struct.error) as error:
        notes.append(f"A safetensors file could not be read ({error}); sizes are estimates.")
        params = estimate_parameters(config)
        source = "estimate from config" if params is not None else "unknown"
        weights = WeightInfo(params, source, None, config_dtype(config), ())
    fp32: int | None = weights.parameters * 4 if weights.parameters is not None else None
    if fp32 is None and weights.weight_bytes is not None:
        fp32 = weights.weight_bytes * 4 // DTYPE_BYTES.get(weights.dtype or "float32", 4)
    merges = "decoder_model_merged.onnx" in files and library != "diffusers"
    unknown_class = library == "transformers" and any(
        a not in table.architectures for a in architectures
    )
    report = ModelReport(
        spec=spec or str(folder),
        source_kind=kind,
        label=label or str(folder),
        path=str(folder),
        model_type=model_type,
        architectures=tuple(architectures),
        library=library,
        task=detection.task,
        task_reasons=(library_reason, *detection.reasons),
        task_candidates=detection.candidates,
        with_past=detection.with_past,
        with_past_applies=detection.with_past_applies,
        is_encoder_decoder=encdec,
        is_decoder=detection.base_task == "text-generation" and not encdec,
        modality=task_modality(detection.task, config),
        expected_files=files,
        transformersjs_files=() if library == "diffusers" else transformersjs_files(files),
        parameters=weights.parameters,
        parameters_source=weights.source,
        weight_bytes=weights.weight_bytes,
        weight_files=weights.files,
        dtype=weights.dtype or config_dtype(config),
        ram_estimate_bytes=ram_estimate(fp32, merges),
        supported=detection.supported,
        closest=()
        if detection.supported or library != "transformers"
        else closest_supported(model_type or "", table, architectures),
        needs_remote_code="auto_map" in config or unknown_class,
        known_to_transformers=bool(model_type) and model_type in table.transformers_model_types,
        notes=(),
        table_versions=dict(table.versions),
    )
    return dataclasses.replace(report, notes=tuple(notes + _notes(report, config, table)))


def inspect_model(spec: str) -> ModelReport:
    """Inspect a local folder, Hub id (configs only) or ``sample:NAME``."""
    from onnx_wizard.inspection.source import resolve_source

    source = resolve_source(spec)
    return inspect_folder(source.path, spec=source.spec, kind=source.kind, label=source.label)


def _wrap(lead: str, text: str) -> str:
    # Never break inside a word or at its hyphens: task names such as text-generation stay whole.
    return textwrap.fill(
        text,
        100,
        initial_indent=lead,
        subsequent_indent=" " * len(lead),
        break_on_hyphens=False,
        break_long_words=False,
    )


def _file_lines(report: ModelReport) -> list[str]:
    """Each ONNX file the export writes, and the path Transformers.js loads it from, if any."""
    if not report.expected_files:
        return ["Files        unknown until the export runs"]
    loaded = set(report.transformersjs_files)
    width = max(len(name) for name in report.expected_files)
    if not report.supported:
        # A fallback route's files: ORTModel and Transformers.js choose their code by a
        # model_type optimum does not register, so only ONNX Runtime itself is certain.
        return [
            _wrap(
                "Files        ",
                "written into the output folder by the fallback route that exports it (optimum "
                "cannot), for ONNX Runtime; which files depends on that route.",
            )
        ]
    lines = [
        _wrap(
            "Files        ",
            "written into the output folder, where ONNX Runtime and optimum's ORTModel load "
            "them; Transformers.js loads the marked ones from the onnx/ folder of a published "
            "repo:",
        )
    ]
    for name in report.expected_files:
        target = f"onnx/{name}"
        where = f"-> Transformers.js: {target}" if target in loaded else ""
        lines.append(f"               {name.ljust(width)}  {where}".rstrip())
    if not loaded:
        lines.append("             Transformers.js loads none of them.")
    return lines


def render_text(report: ModelReport) -> str:
    """The report for humans: the answers first, the reasons and warnings after."""
    r = report
    kind = " / ".join(filter(None, [r.model_type, ", ".join(r.architectures)])) or "unknown"
    lines = [
        f"Model        {r.label}",
        f"Kind         {kind} · {r.library} · {r.modality}",
        f"Supported    {'yes' if r.supported else 'NO'} "
        f"(optimum {r.table_versions.get('optimum', '?')} ONNX exporter)",
        f"Task         {r.task or 'unknown'}",
    ]
    lines += [_wrap("  because    ", reason) for reason in r.task_reasons]
    if len(r.task_candidates) > 1:
        lines.append(_wrap("  or         ", ", ".join(r.task_candidates[1:])))
    if r.closest:
        lines.append(f"Closest      {', '.join(r.closest)}")
    past = "yes" if r.with_past else ("no" if r.with_past_applies else "not applicable")
    if not r.supported and r.is_decoder and not r.is_encoder_decoder:
        # optimum's -with-past choice does not exist here; the fallback routes decide.
        past = "by the fallback route: kept when an export with it validates"
    arch = "encoder-decoder" if r.is_encoder_decoder else "decoder" if r.is_decoder else "single"
    lines.append(f"KV cache     {past} ({arch} model)")
    lines += _file_lines(r)
    count = _human(r.parameters, ("B", "M", "K")) if r.parameters else "unknown"
    size = f"{count} parameters"
    size += f" ({r.parameters_source})"
    if r.weight_bytes:
        size += f", {_human(r.weight_bytes)} of weights"
    lines.append(f"Size         {size}{', ' + r.dtype if r.dtype else ''}")
    if r.ram_estimate_bytes:
        lines.append(f"RAM          about {_human(r.ram_estimate_bytes)} peak for the export")
    if r.needs_remote_code:
        lines.append("Remote code  yes: needs trust_remote_code=True")
    lines += ["Notes"] + [_wrap("  - ", note) for note in r.notes] if r.notes else []
    return "\n".join(lines)
