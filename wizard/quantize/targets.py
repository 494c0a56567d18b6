"""The quantization targets the wizard knows, their file names, thresholds and recommendations."""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from onnx_wizard.errors import WizardError

Kind = Literal["transformers.js", "onnxruntime"]
# How a variant is made; the child's recipes dispatch on it.
Family = Literal["fp16", "int8", "int4", "static"]


@dataclass(frozen=True)
class Target:
    name: str
    kind: Kind
    family: Family
    why: str
    suffix: str = "_quantized"  # appended to each file's stem
    folder: str = ""  # a subfolder for ONNX Runtime presets, so names never collide
    weight_type: str = "int8"  # int8 | uint8 | auto (uint8 when the graph has Conv/GQA/MHA)
    bits: int = 8
    block_size: int = 0
    then_fp16: bool = False

    def output_name(self, source: str) -> str:
        """Where the variant of fp32 file ``source`` (relative path) goes, relative too."""
        path = Path(source)
        name = f"{path.stem}{self.suffix}{path.suffix}"
        return str(path.parent / self.folder / name) if self.folder else str(path.with_name(name))


TRANSFORMERS_JS: tuple[Target, ...] = (
    Target(
        "fp16",
        "transformers.js",
        "fp16",
        "half the size, near-fp32 accuracy; WebGPU desktop",
        suffix="_fp16",
        bits=16,
    ),
    Target(
        "q8",
        "transformers.js",
        "int8",
        "8-bit weights, a quarter of the size; the WASM (CPU) default",
        weight_type="auto",
    ),
    Target("int8", "transformers.js", "int8", "8-bit signed weights, forced", suffix="_int8"),
    Target(
        "uint8",
        "transformers.js",
        "int8",
        "8-bit unsigned weights, forced",
        suffix="_uint8",
        weight_type="uint8",
    ),
    Target(
        "q4",
        "transformers.js",
        "int4",
        "4-bit MatMul weights (block 32); smallest download, WebGPU mobile",
        suffix="_q4",
        bits=4,
        block_size=32,
    ),
    Target(
        "q4f16",
        "transformers.js",
        "int4",
        "4-bit weights, fp16 elsewhere; WebGPU desktop",
        suffix="_q4f16",
        bits=4,
        block_size=32,
        then_fp16=True,
    ),
    Target(
        "bnb4",
        "transformers.js",
        "int4",
        "4-bit NF4 weights (block 64)",
        suffix="_bnb4",
        bits=4,
        block_size=64,
    ),
)

ORT_PRESETS: tuple[Target, ...] = (
    Target(
        "arm64",
        "onnxruntime",
        "int8",
        "dynamic int8 for ARM64 CPUs (Apple silicon, Graviton)",
        folder="ort-arm64",
    ),
    Target(
        "avx2",
        "onnxruntime",
        "int8",
        "dynamic int8 (uint8 weights) for x86 CPUs with AVX2",
        folder="ort-avx2",
        weight_type="uint8",
    ),
    Target(
        "avx512",
        "onnxruntime",
        "int8",
        "dynamic int8 for x86 CPUs with AVX-512",
        folder="ort-avx512",
    ),
    Target(
        "avx512_vnni",
        "onnxruntime",
        "int8",
        "dynamic int8 for x86 CPUs with AVX-512 VNNI",
        folder="ort-avx512_vnni",
    ),
    Target(
        "tensorrt",
        "onnxruntime",
        "static",
        "static int8 QDQ (symmetric) for TensorRT; needs calibration samples",
        folder="ort-tensorrt",
    ),
    Target(
        "cpu-qdq",
        "onnxruntime",
        "static",
        "static int8 QDQ for ONNX Runtime CPU; calibrated on your samples",
        folder="ort-cpu-qdq",
        weight_type="int8",
    ),
)

TARGETS: dict[str, Target] = {t.name: t for t in (*TRANSFORMERS_JS, *ORT_PRESETS)}
ALIASES = {"quantized": "q8", "avx512-vnni": "avx512_vnni", "static": "cpu-qdq"}
# Every suffix a variant file may carry: such files are never taken as fp32 sources.
VARIANT_SUFFIXES = tuple(sorted({t.suffix for t in TARGETS.values()}, key=len, reverse=True))

# Accuracy each variant must keep, by measure (see measure.py for what each value is).
DEFAULT_THRESHOLDS: dict[str, dict[str, float]] = {
    "cosine": {"fp16": 0.999, "int8": 0.99, "static": 0.98, "int4": 0.9},
    "top1_agreement": {"fp16": 1.0, "int8": 0.9, "static": 0.8, "int4": 0.7},
    "token_agreement": {"fp16": 0.9, "int8": 0.75, "static": 0.6, "int4": 0.5},
}

# Seed guidance: which dtype for which runtime, with a one-line why.
RECOMMENDATIONS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    (
        "WebGPU (desktop)",
        ("fp16", "q4f16"),
        "good GPU utilisation at half (or an eighth of) the size, accuracy close to fp32",
    ),
    ("WebGPU (mobile)", ("q4",), "smallest download and memory; accuracy drops the most"),
    (
        "WASM (CPU fallback)",
        ("q8",),
        "8-bit integer kernels are the fastest on CPU; Transformers.js's WASM default",
    ),
    ("Maximum accuracy", ("fp32",), "no quantization loss, the largest files"),
)
# The dtype Transformers.js should load by default, by device, best first.
DEVICE_PREFERENCE: dict[str, tuple[str, ...]] = {
    "wasm": ("q8", "uint8", "int8", "q4", "fp16", "fp32"),
    "webgpu": ("fp16", "q4f16", "q4", "fp32"),
}


def parse_targets(text: str | list[str]) -> list[Target]:
    """``"q8,fp16,avx2"`` (or a list) -> targets, in the order given, without repeats."""
    names = text.split(",") if isinstance(text, str) else list(text)
    chosen: list[Target] = []
    unknown: list[str] = []
    for raw in names:
        name = raw.strip().lower()
        if not name:
            continue
        if name in ("all-transformers.js", "transformers.js", "tjs"):
            chosen += [t for t in TRANSFORMERS_JS if t not in chosen]
            continue
        if name == "cpu":
            name = detect_cpu_preset()
        target = TARGETS.get(ALIASES.get(name, name))
        if target is None:
            unknown.append(raw.strip())
        elif target not in chosen:
            chosen.append(target)
    if unknown or not chosen:
        known = ", ".join(TARGETS)
        what = (
            f"Unknown quantization target(s): {', '.join(unknown)}."
            if unknown
            else ("No quantization target was given.")
        )
        raise WizardError(what, f"Choose from: {known} (or 'cpu' for this machine's preset).")
    return chosen


def detect_cpu_preset(cpuinfo: str | None = None, machine: str | None = None) -> str:
    """The ONNX Runtime preset matching this CPU: avx512_vnni, avx512, avx2 or arm64."""
    machine = (machine or platform.machine()).lower()
    if machine in ("arm64", "aarch64") or machine.startswith("armv8"):
        return "arm64"
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            cpuinfo = ""
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        if line.startswith(("flags", "Features")):
            flags.update(line.partition(":")[2].split())
            break
    if "avx512_vnni" in flags or "avx512vnni" in flags:
        return "avx512_vnni"
    if "avx512f" in flags:
        return "avx512"
    return "avx2"


def threshold_for(target: Target, metric: str, overrides: dict[str, float] | None) -> float:
    """The figure ``target`` must reach: an override by variant name, else the family default."""
    if overrides and target.name in overrides:
        return float(overrides[target.name])
    family = "fp16" if target.family == "fp16" else target.family
    return DEFAULT_THRESHOLDS[metric][family]


def recommendation_rows() -> list[dict[str, str]]:
    return [
        {"target": where, "dtype": " or ".join(dtypes), "why": why}
        for where, dtypes, why in RECOMMENDATIONS
    ]


def task_kind(folder: Path, files: list[str], task: str | None) -> str:
    """features | classifier | generator | seq2seq, from the task or the files and config."""
    task = (task or "").replace("-with-past", "").replace("auto", "")
    if task in ("text2text-generation", "translation", "summarization") or any(
        f.startswith("encoder_model") for f in files
    ):
        return "seq2seq"
    if task == "text-generation":
        return "generator"
    if task in ("text-classification", "token-classification", "sequence-classification"):
        return "classifier"
    if task:
        return "features"
    architectures = " ".join(read_json(folder / "config.json").get("architectures") or [])
    if "CausalLM" in architectures or "LMHead" in architectures:
        return "generator"
    if "Classification" in architectures:
        return "classifier"
    return "features"


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}
