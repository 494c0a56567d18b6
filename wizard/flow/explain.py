"""Words that explain what the engine knows where a choice is made: model size and memory, the
files each KV-cache choice writes, the real defaults of the export options, the way on from an
unsupported model.

Pure functions over the inspection report and the checks (``Facts``); ``flow.views`` puts their
results into the steps' fields and status, so the terminal app, the notebook and the CLI say the
same.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from onnx_wizard.flow.steps import Facts

Report = Mapping[str, Any]

# "12.3 GiB free of 31.0 GiB; ..." is how the "ram" check words its detail.
_FREE_RAM = re.compile(r"([\d.]+) GiB free")
GIB = 1024**3


def size_text(n: float) -> str:
    """Bytes as people read them: 169.5 KB, 537.4 MB, 1.3 GB."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} bytes"


def weights_text(report: Report) -> str:
    """Where the weights are and how big, or plainly that none were found."""
    files = [str(f) for f in report.get("weight_files") or ()]
    size = report.get("weight_bytes")
    if not files:
        return "none found: the export downloads them, or fails if there are none"
    what = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
    dtype = report.get("dtype")
    amount = size_text(size) if isinstance(size, (int, float)) and size else "size unknown"
    return f"found: {what} ({amount}{', ' + str(dtype) if dtype else ''})"


def free_ram_bytes(facts: Facts) -> float | None:
    """Free RAM as the environment check measured it, None before the checks ran."""
    for check in facts.checks or ():
        if check.get("name") == "ram":
            found = _FREE_RAM.search(str(check.get("detail") or ""))
            if found:
                return float(found.group(1)) * GIB
    return None


def ram_text(report: Report, facts: Facts) -> str:
    """The export's estimated peak RAM set against what is free now."""
    estimate = report.get("ram_estimate_bytes")
    if not isinstance(estimate, (int, float)) or not estimate:
        return "unknown (no weights to measure)"
    text = f"about {size_text(estimate)} at the peak of the export"
    free = free_ram_bytes(facts)
    if free is None:
        return text
    verdict = (
        "enough" if free >= estimate else "NOT enough: close other programs or use a bigger machine"
    )
    return f"{text}; {size_text(free)} free now ({verdict})"


def needs_remote_code(report: Report) -> bool:
    """Whether the model ships its own code (the only case where trusting it means anything)."""
    return bool(report.get("needs_remote_code") or report.get("auto_map"))


def unsupported_text(report: Report, output: Any = None) -> str:
    """Why an unsupported model cannot go on here (no fallback route fits), and what can."""
    kind = report.get("model_type") or "this model type"
    library = report.get("library") or "transformers"
    closest = ", ".join(str(c) for c in report.get("closest") or ())
    near = f" (closest supported types: {closest})" if closest else ""
    return (
        f"optimum cannot export this {library} model ({kind}) to ONNX yet{near}, and the "
        "wizard's fallback routes (a related type's ONNX config, torch.onnx) cover "
        "transformers models only. Ways on: export it with its library's own ONNX export and "
        "give a failing log to the doctor (`onnx-wizard doctor LOGFILE`, or Doctor in the "
        "app); or go back and pick another model."
    )


# ---- the KV-cache and file choices --------------------------------------------------------------

_DECODER_ONLY_FILES = {
    True: "model.onnx, taking and returning past_key_values (the KV cache)",
    False: "model.onnx without past_key_values: every new word reruns the whole text",
}
ENCODER_DECODER_FILES: dict[str, str] = {
    "merged": (
        "encoder_model.onnx + decoder_model.onnx + decoder_with_past_model.onnx + "
        "decoder_model_merged.onnx. Transformers.js loads the encoder and the merged decoder "
        "(one decoder in memory at run time); making the merge needs about twice the model's "
        "size in RAM during the export."
    ),
    "separate": (
        "encoder_model.onnx + decoder_model.onnx + decoder_with_past_model.onnx, no merge: the "
        "export needs less memory, but at run time both decoders are loaded (about twice the "
        "decoder's memory) and Transformers.js cannot load them."
    ),
    "separate-nopast": (
        "encoder_model.onnx + decoder_model.onnx: the decoder rereads all words written so far "
        "at every step."
    ),
    "monolith": (
        "one model.onnx holding encoder and decoder: simplest to load, but it reruns the "
        "encoder for every new word and Transformers.js cannot load it."
    ),
}


def choices_text(report: Report, with_past: bool) -> str:
    """Every file choice open now, with what it writes and costs, before anything is toggled."""
    if not report.get("is_encoder_decoder"):
        return "\n".join(
            f"{'With' if past else 'Without'} a KV cache: {_DECODER_ONLY_FILES[past]}."
            for past in (True, False)
        )
    names = ("merged", "separate") if with_past else ("separate-nopast", "monolith")
    labels = {
        "merged": "Merged",
        "separate": "Separate",
        "separate-nopast": "Separate",
        "monolith": "Single file",
    }
    return "\n".join(f"{labels[name]}: {ENCODER_DECODER_FILES[name]}" for name in names)


# ---- the export options' real defaults ----------------------------------------------------------

# optimum's OnnxConfig.DEFAULT_ONNX_OPSET: 18 for every one of the 176 model configs in
# optimum-onnx 0.1.0 (checked), so one number is the truth for any model it can export.
DEFAULT_OPSET = 18
# optimum's dummy input shapes when none are given (what the export traces and checks with).
SHAPE_DEFAULTS = (2, 16)


def atol_placeholder(task: str | None, dtype: str) -> str:
    from onnx_wizard.validation.report import default_atol

    floor, _ = default_atol(task or "", dtype)
    return f"{floor:g} (default)"


def output_placeholder(source: Any) -> str:
    """The folder an empty output means: named after the model, so it follows the model."""
    from onnx_wizard.planning.answers import default_output

    if not source:
        return "folder (empty: named after the model)"
    return f"{default_output({'spec': str(source)})} (default)"


def atol_default_text(report: Report, task: str | None, dtype: str) -> str:
    """What an empty tolerance means, from the validation's own rule."""
    from onnx_wizard.validation.report import default_atol

    _, words = default_atol(task or str(report.get("task") or ""), dtype)
    return f"Empty: {words}."


def only_choice_text(label: str, why: str) -> str:
    """Why a choice offers a single option."""
    return f"Only {label} here: {why}."
