"""What an export folder holds: its ONNX files by base and dtype, and the quantization verdicts."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onnx_wizard.errors import WizardError

# The suffix Transformers.js appends to a file's base name for each dtype (its
# DEFAULT_DTYPE_SUFFIX_MAPPING); fp32 has none.
DTYPE_SUFFIXES: dict[str, str] = {
    "fp16": "_fp16",
    "q8": "_quantized",
    "int8": "_int8",
    "uint8": "_uint8",
    "q4": "_q4",
    "q4f16": "_q4f16",
    "bnb4": "_bnb4",
}
# Longest first, so "_q4f16" is never read as "_q4" plus a stray "f16".
_SUFFIX_ORDER = sorted(DTYPE_SUFFIXES.items(), key=lambda item: len(item[1]), reverse=True)

QUANTIZATION_RECORD = "quantization.json"


@dataclass(frozen=True)
class OnnxFile:
    """One ONNX file of the export: ``model_q4.onnx`` is base ``model``, dtype ``q4``."""

    name: str
    base: str
    dtype: str


def split_name(name: str) -> OnnxFile:
    stem = name.removesuffix(".onnx")
    for dtype, suffix in _SUFFIX_ORDER:
        if stem.endswith(suffix) and len(stem) > len(suffix):
            return OnnxFile(name, stem.removesuffix(suffix), dtype)
    return OnnxFile(name, stem, "fp32")


def file_name(base: str, dtype: str) -> str:
    """The file Transformers.js loads for ``base`` at ``dtype``."""
    return f"{base}{DTYPE_SUFFIXES.get(dtype, '')}.onnx"


@dataclass(frozen=True)
class VariantRow:
    """One row of quantization.json: a variant, its files and whether it passed its check."""

    variant: str
    kind: str
    files: tuple[str, ...]
    verdict: str
    metric: str | None = None
    value: float | None = None
    threshold: float | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"

    def accuracy_text(self) -> str:
        if self.metric is None or self.value is None:
            return "not measured"
        text = f"{self.metric.replace('_', ' ')} {self.value:.4g}"
        return f"{text} (needs {self.threshold:.4g})" if self.threshold is not None else text


@dataclass(frozen=True)
class QuantizationRecord:
    """What the quantization step wrote: its rows, the commands that redo it, and facts."""

    rows: tuple[VariantRow, ...]
    commands: tuple[str, ...]
    facts: dict[str, Any]


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _row(item: dict[str, Any]) -> VariantRow:
    files = item.get("files") or ([item["file"]] if isinstance(item.get("file"), str) else [])
    return VariantRow(
        variant=str(item.get("variant") or item.get("dtype") or "?"),
        kind=str(item.get("kind") or "transformers.js"),
        files=tuple(str(f) for f in files),
        verdict=str(item.get("verdict") or "unknown"),
        metric=item.get("metric") if isinstance(item.get("metric"), str) else None,
        value=_number(item.get("value")),
        threshold=_number(item.get("threshold")),
        raw=item,
    )


def _commands(data: dict[str, Any]) -> tuple[str, ...]:
    raw = data.get("commands") or data.get("equivalent_commands") or []
    commands: list[str] = []
    for entry in raw if isinstance(raw, list) else [raw]:
        if isinstance(entry, str):
            commands.append(entry)
        elif isinstance(entry, dict) and isinstance(entry.get("command"), str):
            commands.append(entry["command"])
    return tuple(commands)


def read_quantization(folder: Path) -> QuantizationRecord | None:
    """The folder's quantization.json, or None when the folder was never quantized."""
    path = folder / QUANTIZATION_RECORD
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise WizardError(
            f"{path} cannot be read as JSON ({error}), so which variants passed is unknown.",
            f"Rerun `onnx-wizard quantize {folder}`, or delete {path.name} to publish fp32 only.",
        ) from None
    if isinstance(data, list):
        data = {"rows": data}
    if not isinstance(data, dict):
        raise WizardError(
            f"{path} holds no variant rows.",
            f"Rerun `onnx-wizard quantize {folder}`, or delete {path.name} to publish fp32 only.",
        )
    items = data.get("rows") or data.get("variants") or data.get("results") or []
    rows = tuple(_row(item) for item in items if isinstance(item, dict))
    facts = {k: v for k, v in data.items() if k not in ("rows", "variants", "results")}
    return QuantizationRecord(rows, _commands(data), facts)


def onnx_root(folder: Path) -> Path:
    """Where the ONNX files are: ``onnx/`` in a folder already in the Hub layout, else the top."""
    nested = folder / "onnx"
    if nested.is_dir() and any(nested.glob("*.onnx")):
        return nested
    return folder


def list_onnx_files(root: Path) -> list[OnnxFile]:
    return [split_name(p.name) for p in sorted(root.glob("*.onnx")) if p.is_file()]
