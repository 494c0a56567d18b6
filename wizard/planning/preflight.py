"""Pre-flight: stop a doomed run before it starts, from what inspection already knows.

:func:`preflight` returns findings (no weight files, weights the export cannot read, a peak RAM
above what this machine has free, too little disk for the output), each with a message, a fix,
whether it blocks the run and the remedies that would clear it. The CLI refuses a blocking one
unless ``--force``; the faces show them on the model and review steps and ask "go anyway".
Reads only file names and sizes; imports nothing heavy.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from onnx_wizard.planning.memory import available_bytes, format_size
from onnx_wizard.planning.plan import ExportPlan

RUNTIME_OVERHEAD = 2**30 // 2  # Python, torch and optimum before any weights (inspection/weights)
DISK_MARGIN = 1.1  # the export's files are not exactly the weights' size: keep 10% spare
# Weight formats optimum's PyTorch export cannot load, and what to do about each.
FOREIGN_WEIGHTS = {
    "tf_model.h5": "TensorFlow weights: load them with from_tf=True and save_pretrained() them "
    "as safetensors first",
    "flax_model.msgpack": "Flax weights: load them with from_flax=True and save_pretrained() "
    "them as safetensors first",
    ".gguf": "GGUF (llama.cpp) weights: export the original Hugging Face model instead",
    ".ckpt": "a raw checkpoint: load it into the model class and save_pretrained() it first",
    ".onnx": "this folder already holds ONNX files: use them directly",
}
PYTORCH_WEIGHTS = (".safetensors", ".bin", ".pt", ".pth")


@dataclass(frozen=True)
class Finding:
    kind: str  # no_weights, foreign_weights, missing_shards, memory, disk
    message: str
    fix: str
    blocking: bool
    remedies: tuple[dict[str, str], ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["remedies"] = [dict(r) for r in self.remedies]
        return data


def _weight_findings(report: Mapping[str, Any]) -> list[Finding]:
    if report.get("source_kind") == "hub" or not report.get("path"):
        return []  # only the configs were fetched; the weights are on the Hub
    folder = Path(str(report["path"]))
    try:
        names = [p.name for p in folder.rglob("*") if p.is_file()]
    except OSError:
        return []
    pytorch = [n for n in names if n.endswith(PYTORCH_WEIGHTS)]
    index = folder / "model.safetensors.index.json"
    if not pytorch and not index.is_file():
        foreign = [
            why
            for key, why in FOREIGN_WEIGHTS.items()
            if any(n == key or (key.startswith(".") and n.endswith(key)) for n in names)
        ]
        if foreign:
            return [
                Finding(
                    "foreign_weights",
                    f"{folder} has no PyTorch weights the export can read; it holds {foreign[0]}.",
                    foreign[0][0].upper() + foreign[0][1:] + ".",
                    True,
                )
            ]
        return [
            Finding(
                "no_weights",
                f"{folder} has a config.json but no weight files (model.safetensors or "
                "pytorch_model.bin), so the export would fail at 'Load model'.",
                "Download the weights too, e.g. `huggingface-cli download MODEL_ID --local-dir "
                f"{folder}`, or point at the folder that save_pretrained() wrote.",
                True,
            )
        ]
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map", {})
            shards = sorted({str(s) for s in weight_map.values()})
        except (OSError, ValueError, AttributeError):
            shards = []
        missing = [s for s in shards if not (folder / s).is_file()]
        if missing:
            return [
                Finding(
                    "missing_shards",
                    f"{len(missing)} of {len(shards)} weight shards listed in "
                    f"model.safetensors.index.json are missing from {folder} "
                    f"(first: {missing[0]}).",
                    "Download the missing shards (huggingface-cli download resumes).",
                    True,
                )
            ]
    return []


def _fp32_bytes(report: Mapping[str, Any]) -> int | None:
    parameters = report.get("parameters")
    return int(parameters) * 4 if isinstance(parameters, int) and parameters > 0 else None


def _merges(report: Mapping[str, Any], plan: ExportPlan | None) -> bool:
    merges = "decoder_model_merged.onnx" in (report.get("expected_files") or ())
    return merges and not (plan and (plan.no_post_process or plan.monolith))


def _memory_finding(
    report: Mapping[str, Any], plan: ExportPlan | None, limit: int, gpu: bool
) -> Finding | None:
    fp32 = _fp32_bytes(report)
    if fp32 is None:
        return None
    merges = _merges(report, plan)
    # Same model as inspection's estimate: load (1x) + trace copy (1x) + validation (1x) +
    # the decoder merge (2x); the floor is what no remedy here removes.
    peak = RUNTIME_OVERHEAD + fp32 * (3 + (2 if merges else 0))
    if peak <= limit:
        return None
    floor = RUNTIME_OVERHEAD + fp32 * 3
    remedies: list[dict[str, str]] = []
    if merges:
        remedies.append(
            {
                "action": "no_post_process",
                "note": f"skip the decoder merge: about {format_size(floor)} instead "
                f"(--no-post-process)",
            }
        )
    if gpu:
        remedies.append(
            {
                "action": "set_device",
                "note": "export on the GPU in fp16 (--device cuda --dtype fp16), which keeps "
                "the weights off this machine's RAM",
            }
        )
    need, have = format_size(peak), format_size(limit)
    if floor > limit and not gpu:
        return Finding(
            "memory",
            f"The export needs about {need} of RAM at its peak and this machine can give it "
            f"{have}; even with every remedy it needs about {format_size(floor)}, so this machine "
            "cannot export this model.",
            "Run it on a machine with more free RAM (or a GPU), close what uses memory here, or "
            "pick a smaller variant of the model.",
            True,
            tuple(remedies),
        )
    return Finding(
        "memory",
        f"The export needs about {need} of RAM at its peak, more than the {have} it may use "
        "here, so it would be stopped (or killed) part-way.",
        "Apply a remedy below"
        + (" (the first brings it under the limit)." if floor <= limit else "."),
        True,
        tuple(remedies),
    )


def _disk_finding(
    report: Mapping[str, Any], plan: ExportPlan | None, output: Path
) -> Finding | None:
    fp32 = _fp32_bytes(report)
    if fp32 is None:
        return None
    files = report.get("expected_files") or ()
    # Encoder-decoders write encoder + decoder + decoder-with-past (+ merged): ~2.5x the weights.
    factor = 2.5 if len(files) > 1 and _merges(report, plan) else 2.0 if len(files) > 1 else 1.0
    if plan is not None and plan.dtype in ("fp16", "bf16"):
        factor /= 2
    needed = int(fp32 * factor * DISK_MARGIN)
    existing = next((p for p in (output, *output.parents) if p.exists()), None)
    if existing is None:
        return None
    free = shutil.disk_usage(existing).free
    if needed <= free:
        return None
    return Finding(
        "disk",
        f"The export writes about {format_size(needed)} (staged beside {output.name}, then moved "
        f"in place) and {existing} has {format_size(free)} free.",
        "Free disk space there, or choose an output folder on a disk with more room.",
        True,
    )


def preflight(
    report: Mapping[str, Any],
    plan: ExportPlan | None = None,
    *,
    memory_limit: int | None = None,
    gpu: bool = False,
    output: str | os.PathLike[str] | None = None,
) -> list[Finding]:
    """Everything that would make this run fail, from the inspection ``report`` (its dict) and
    the ``plan`` (when known). ``memory_limit`` defaults to the RAM free now."""
    findings = _weight_findings(report)
    limit = memory_limit if memory_limit is not None else available_bytes()
    memory = _memory_finding(report, plan, limit, gpu)
    findings += [memory] if memory else []
    target = output or (plan.output if plan else None)
    if target:
        disk = _disk_finding(report, plan, Path(target).expanduser().absolute())
        findings += [disk] if disk else []
    return findings


def blocking(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.blocking]


def render_findings(findings: list[Finding]) -> str:
    """Findings as plain text: the problem, the fix and numbered remedies."""
    lines: list[str] = []
    for finding in findings:
        lines.append(f"{'blocked' if finding.blocking else 'warning'}: {finding.message}")
        lines.append(f"  to fix: {finding.fix}")
        for number, remedy in enumerate(finding.remedies, start=1):
            lines.append(f"  {number}. {remedy['note']}")
    return "\n".join(lines)
