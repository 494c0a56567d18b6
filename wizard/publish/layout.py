"""Stage the onnx-community layout from an export folder: ``onnx/`` with the proven variants,
``config.json`` with ``transformers.js_config``, generation, tokenizer and processor files.

Works for onnx-wizard's own exports, a plain optimum folder, a folder already in the Hub layout
and a folder with one loose ``.onnx`` file. Big files are hard-linked into the staging folder
(copied when linking is impossible); files that change (config.json, renamed graphs) are written
new, so the export itself is never modified.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onnx_wizard.errors import WizardError
from onnx_wizard.inspection.tasks import transformersjs_files
from onnx_wizard.publish.external_data import plan_data_files, write_with_locations
from onnx_wizard.publish.tjs_config import with_transformers_js_config
from onnx_wizard.publish.variants import (
    QuantizationRecord,
    VariantRow,
    file_name,
    list_onnx_files,
    onnx_root,
    read_quantization,
    split_name,
)

# Non-ONNX files Transformers.js (or the Hub) reads, copied as they are when present.
CONFIG_FILES = ("generation_config.json", "preprocessor_config.json", "processor_config.json")
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "chat_template.jinja",
    "chat_template.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
    "tokenizer.model",
)
# Files that are never an ONNX graph's external data.
TEXT_SUFFIXES = (".onnx", ".json", ".txt", ".md", ".model", ".jinja", ".py", ".yaml", ".csv")
DEVICE_FOR_DTYPE = {
    "fp32": "any device; maximum accuracy",
    "fp16": "WebGPU (desktop)",
    "q4f16": "WebGPU (desktop)",
    "q4": "WebGPU (mobile), smallest download",
    "q8": "WASM (CPU)",
    "int8": "WASM (CPU)",
    "uint8": "WASM (CPU)",
    "bnb4": "WASM (CPU), smallest download",
}


@dataclass(frozen=True)
class StagedFile:
    path: str  # relative to the staging folder, "/"-separated, as it goes into the repo
    bytes: int
    role: str


@dataclass(frozen=True)
class LeftOut:
    path: str  # relative to the export folder
    reason: str


@dataclass(frozen=True)
class StagedVariant:
    dtype: str
    files: tuple[str, ...]  # the ONNX files in the repo (external data counted in ``bytes``)
    bytes: int
    accuracy: str
    device: str


@dataclass
class StagedLayout:
    """The staged folder and what went into it, what was left out, and why."""

    folder: Path
    source: Path
    files: list[StagedFile] = field(default_factory=list)
    variants: list[StagedVariant] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    quantization: QuantizationRecord | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    @property
    def dtype(self) -> str:
        """The dtype Transformers.js loads by default (the card's usage snippet uses it)."""
        return str(self.config.get("transformers.js_config", {}).get("dtype") or "fp32")

    def to_dict(self) -> dict[str, Any]:
        return {
            "staged": str(self.folder),
            "source": str(self.source),
            "files": [vars(f) for f in self.files],
            "total_bytes": self.total_bytes,
            "variants": [{**vars(v), "files": list(v.files)} for v in self.variants],
            "left_out": [vars(item) for item in self.left_out],
            "dtype": self.dtype,
            "transformers_js_config": self.config.get("transformers.js_config", {}),
            "notes": list(self.notes),
        }


def _place(source: Path, target: Path) -> None:
    """Hard-link ``source`` to ``target`` (no copy of gigabytes), else copy it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _read_config(folder: Path) -> dict[str, Any]:
    path = folder / "config.json"
    if not path.is_file():
        raise WizardError(
            f"{folder} has no config.json; Transformers.js needs it to know the model.",
            "Copy config.json from the source model into the folder (optimum exports write it).",
        )
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise WizardError(
            f"{path} is not valid JSON ({error}).", "Copy config.json from the source model again."
        ) from None
    if not isinstance(config, dict):
        raise WizardError(f"{path} is not a JSON object.", "Copy it from the source model again.")
    return config


class _Stager:
    def __init__(self, export: Path, staging: Path, include_unused: bool) -> None:
        self.export = export
        self.root = onnx_root(export)
        self.layout = StagedLayout(folder=staging, source=export)
        self.include_unused = include_unused
        self.external: dict[str, int] = {}  # staged ONNX file name -> data chunks
        # Reading a graph's external data references needs onnx (seconds to import); a folder
        # with nothing but graphs and text files cannot hold external data, so skip it there.
        self.may_hold_data = any(
            p.is_file() and not p.name.endswith(TEXT_SUFFIXES) for p in self.root.iterdir()
        )

    def relative(self, path: Path) -> str:
        return path.relative_to(self.export).as_posix()

    def add(self, source: Path, repo_path: str, role: str, *, link: bool = True) -> None:
        target = self.layout.folder / repo_path
        if link:
            _place(source, target)
        self.layout.files.append(StagedFile(repo_path, target.stat().st_size, role))

    def add_onnx(self, source: Path, staged_name: str, dtype: str) -> int:
        """Stage one graph and its external data; return the bytes staged for it."""
        repo_path = f"onnx/{staged_name}"
        pairs, rewrite = plan_data_files(source, staged_name) if self.may_hold_data else ([], False)
        if rewrite:
            target = self.layout.folder / repo_path
            target.parent.mkdir(parents=True, exist_ok=True)
            write_with_locations(source, target, {d.name: n for d, n in pairs})
            self.add(source, repo_path, f"model ({dtype})", link=False)
        else:
            self.add(source, repo_path, f"model ({dtype})")
        for data, name in pairs:
            self.add(data, f"onnx/{name}", f"external data of {staged_name}")
        if pairs:
            self.external[staged_name] = len(pairs)
        return sum(f.bytes for f in self.layout.files if f.path in self._paths(repo_path, pairs))

    @staticmethod
    def _paths(repo_path: str, pairs: list[tuple[Path, str]]) -> set[str]:
        return {repo_path, *(f"onnx/{name}" for _, name in pairs)}

    def leave_out(self, name: str, reason: str) -> None:
        self.layout.left_out.append(LeftOut(self.relative(self.root / name), reason))


def _fp32_bases(stager: _Stager) -> dict[str, str]:
    """fp32 base name -> file name in the export, normalising a single loose graph."""
    files = list_onnx_files(stager.root)
    bases = {f.base: f.name for f in files if f.dtype == "fp32"}
    if not bases:
        raise WizardError(
            f"{stager.root} holds no fp32 ONNX file (model.onnx or encoder_model.onnx, ...).",
            "Publish the folder onnx-wizard export (or optimum-cli export onnx) wrote.",
        )
    if transformersjs_files(tuple(f"{b}.onnx" for b in bases)):
        return bases
    if len(bases) == 1:  # one loose graph such as bert.onnx: Transformers.js loads it as model
        (only,) = bases.values()
        stager.layout.notes.append(
            f"{only} is published as onnx/model.onnx, the name Transformers.js loads."
        )
        return {"model": only}
    if "encoder_model" in bases and "decoder_model_merged" not in bases:
        raise WizardError(
            "This encoder-decoder export has no decoder_model_merged.onnx, the one decoder "
            "Transformers.js loads.",
            "Export again without --no-post-process (it merges the two decoders).",
        )
    raise WizardError(
        f"Transformers.js cannot tell which of {', '.join(sorted(bases.values()))} to load.",
        "Name the graphs as optimum does: model.onnx, or encoder_model.onnx and "
        "decoder_model_merged.onnx.",
    )


def _used_bases(bases: dict[str, str], include_unused: bool) -> list[str]:
    if include_unused:
        return sorted(bases)
    wanted = transformersjs_files(tuple(f"{b}.onnx" for b in bases))
    if not wanted:  # a normalised loose graph
        return sorted(bases)
    return [Path(p).stem for p in wanted]


def _row_reason(row: VariantRow) -> str | None:
    if row.kind != "transformers.js":
        return f"{row.variant} is an ONNX Runtime preset, not a file Transformers.js loads"
    if not row.passed:
        return f"{row.variant} failed its check against fp32 ({row.accuracy_text()})"
    return None


def _fresh_staging(export: Path, staging: Path, *, replace: bool) -> None:
    """Empty ``staging`` for a new layout, never touching the export or a user's folder."""
    if staging == export or export in staging.parents or staging in export.parents:
        raise WizardError(
            f"The staging folder {staging} overlaps the export {export}.",
            "Stage somewhere outside the export, e.g. --staging ./hub-staging",
        )
    if staging.exists() and any(staging.iterdir()) and not replace:
        raise WizardError(
            f"The staging folder {staging} is not empty; publish rebuilds it from scratch.",
            "Pass a new or empty folder to --staging (or leave it out to use the default).",
        )
    try:
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(parents=True)
    except OSError as error:
        raise WizardError(
            f"Cannot create the staging folder {staging} ({error.strerror or error}).",
            "Pass a folder you can write to: --staging ~/hub-staging",
        ) from None


def stage_layout(
    export: str | os.PathLike[str],
    staging: Path,
    *,
    include_unused: bool = False,
    replace: bool = False,
) -> StagedLayout:
    """Build the onnx-community layout for ``export`` in ``staging``.

    ``replace`` empties a staging folder that is not empty: only for the default staging
    folder, which only publish creates."""
    export_dir = Path(export).expanduser().absolute()
    if not export_dir.is_dir():
        raise WizardError(
            f"The folder {str(export_dir)!r} does not exist.",
            "Pass the folder onnx-wizard export wrote, e.g. onnx-wizard publish ./onnx-out ...",
        )
    config = _read_config(export_dir)
    _fresh_staging(export_dir, staging.expanduser().absolute(), replace=replace)
    stager = _Stager(export_dir, staging.expanduser().absolute(), include_unused)
    layout = stager.layout
    record = layout.quantization = read_quantization(export_dir)
    names = [p.name for p in sorted(stager.root.glob("*.onnx"))]
    bases = _fp32_bases(stager)
    used = _used_bases(bases, include_unused)

    fp32_bytes = sum(stager.add_onnx(stager.root / bases[b], f"{b}.onnx", "fp32") for b in used)
    layout.variants.append(
        StagedVariant(
            "fp32",
            tuple(f"onnx/{b}.onnx" for b in used),
            fp32_bytes,
            "reference",
            DEVICE_FOR_DTYPE["fp32"],
        )
    )
    claimed = {bases[b] for b in bases}
    for base in sorted(set(bases) - set(used)):
        stager.leave_out(
            bases[base], "Transformers.js never loads it (pass --all-onnx to publish it anyway)"
        )
    _stage_variants(stager, record, used, claimed)
    for name in names:
        if name not in claimed:
            stager.leave_out(name, "no quantization.json row says this variant passed its check")
    reported = {item.path.split("/")[0] for item in layout.left_out}
    for sub in sorted(p for p in export_dir.iterdir() if p.is_dir() and p != stager.root):
        if sub.name not in reported and any(sub.rglob("*.onnx")):
            stager.leave_out(
                sub.name + "/",
                "a subfolder (ONNX Runtime presets are not part of the Transformers.js layout)",
            )

    for name in (*CONFIG_FILES, *TOKENIZER_FILES):
        if (export_dir / name).is_file():
            role = "tokenizer" if name in TOKENIZER_FILES else "config"
            stager.add(export_dir / name, name, role)
    if not (export_dir / "tokenizer.json").is_file() and _is_text_model(config):
        layout.notes.append(
            "There is no tokenizer.json: Transformers.js cannot tokenize text "
            "without it (save the tokenizer with a fast tokenizer class)."
        )
    available = {v.dtype for v in layout.variants}
    layout.config = with_transformers_js_config(config, available, stager.external)
    (staging / "config.json").write_text(json.dumps(layout.config, indent=2) + "\n", "utf-8")
    stager.add(staging / "config.json", "config.json", "config", link=False)
    return layout


def _stage_variants(
    stager: _Stager,
    record: QuantizationRecord | None,
    used: list[str],
    claimed: set[str],
) -> None:
    for row in record.rows if record else ():
        # Row paths are relative to the export folder; variants sit beside the fp32 graphs.
        beside = [Path(f).name for f in row.files if (stager.export / f).parent == stager.root]
        claimed.update(beside)
        reason = _row_reason(row)
        if reason:
            for name in row.files:
                stager.layout.left_out.append(LeftOut(name, reason))
            continue
        by_base = {split_name(name).base: name for name in beside}
        missing = [file_name(b, row.variant) for b in used if b not in by_base]
        absent = [n for n in by_base.values() if not (stager.root / n).is_file()]
        if missing or absent:
            why = (
                f"lacks {', '.join(missing)}"
                if missing
                else f"{', '.join(absent)} is not in the folder"
            )
            for name in row.files:
                stager.layout.left_out.append(LeftOut(name, f"{row.variant} is incomplete: {why}"))
            continue
        staged = [b for b in (used if not stager.include_unused else by_base) if b in by_base]
        total = sum(
            stager.add_onnx(stager.root / by_base[b], file_name(b, row.variant), row.variant)
            for b in staged
        )
        for base in set(by_base) - set(staged):
            stager.leave_out(
                by_base[base],
                "Transformers.js never loads it (pass --all-onnx to publish it anyway)",
            )
        stager.layout.variants.append(
            StagedVariant(
                row.variant,
                tuple(f"onnx/{file_name(b, row.variant)}" for b in staged),
                total,
                row.accuracy_text(),
                DEVICE_FOR_DTYPE.get(row.variant, "see Transformers.js docs"),
            )
        )


def _is_text_model(config: dict[str, Any]) -> bool:
    return "vocab_size" in config and not any(
        k in config for k in ("num_channels", "image_size", "num_mel_bins", "vision_config")
    )
