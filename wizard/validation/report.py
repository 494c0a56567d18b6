"""Validation of an ONNX export against PyTorch on real inputs: result types and the engine API.

optimum's own check only warns when outputs drift beyond ``--atol`` and uses dummy inputs. Here
every output is compared on real tokenizer inputs and a mismatch is a failure. The heavy work
(torch, transformers, onnxruntime) runs in the child process ``onnx_wizard.validation.child``,
which prints one JSON report on its last stdout line; this module stays light.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# Tolerances, and why. The check is max |onnxruntime - torch| per output, with the PyTorch model
# always run in fp32 as the reference. Float error grows with the values, so each default is a
# floor that widens to a fraction of the output's largest magnitude ("peak"):
# - fp32: 1e-4, or 0.01% of the peak. optimum defaults to 1e-5, which tiny random models meet (we
#   measure 1e-9..1e-6 on the samples), but real checkpoints legitimately drift past it through
#   onnxruntime's fused kernels and another summation order: optimum's own reports show gpt2
#   presents at 1.6e-5 (huggingface/optimum#609) and t5-large logits at 3.3e-3 (#449, logits in
#   the tens). A real export bug (wrong mask, cache or op) moves outputs by a sizeable fraction of
#   their values (gemma-2b logits off by 1.9e3 in #1755), far beyond this.
# - fp16: 1e-2, or 0.5% of the peak: half precision keeps ~3 significant digits, so logits of 30
#   round in steps of ~0.03 before any accumulation.
# - bf16: 5e-2, or 2% of the peak: bfloat16 keeps only ~2-3 significant digits.
# A tolerance the user sets is used exactly as given, never widened.
FP32_ATOL, FP32_RELATIVE = 1e-4, 1e-4
FP16_ATOL, FP16_RELATIVE = 1e-2, 5e-3
BF16_ATOL, BF16_RELATIVE = 5e-2, 2e-2
RULES = {  # dtype -> (floor, fraction of the peak, why)
    "fp32": (
        FP32_ATOL,
        FP32_RELATIVE,
        "for fp32 exports: optimum's 1e-5 only suits tiny random "
        "models, real weights drift past it without anything being wrong",
    ),
    "fp16": (
        FP16_ATOL,
        FP16_RELATIVE,
        "because the export dtype is fp16, which keeps only ~3 significant digits",
    ),
    "bf16": (
        BF16_ATOL,
        BF16_RELATIVE,
        "because the export dtype is bf16, which keeps only ~2-3 significant digits",
    ),
}

CHILD_MODULE = "onnx_wizard.validation.child"
LIBRARIES = ("transformers", "sentence_transformers")


def default_atol(task: str, dtype: str) -> tuple[float, str]:
    """The default tolerance for ``task`` exported as ``dtype``, with the reason in plain words.

    Today only the dtype changes it (every supported task compares logits or hidden states); the
    task is part of the signature so per-task rules can follow without changing callers."""
    floor, relative, why = RULES.get(dtype, RULES["fp32"])
    share = f"{relative * 100:g}%"
    return floor, f"default {_fmt(floor)} (or {share} of an output's largest value) {why}"


def output_atol(atol: float, dtype: str, peak: float, *, user_set: bool) -> float:
    """The tolerance for one output whose largest reference magnitude is ``peak``."""
    if user_set or not math.isfinite(peak):
        return atol
    return max(atol, RULES.get(dtype, RULES["fp32"])[1] * peak)


def _items_named(entry: str) -> int:
    """How many files or outputs one ``not_validated`` entry names: "decoder.onnx a, b, c
    (step 2): why" names three, "model.onnx: why" one."""
    head = entry.split(": ", 1)[0].split(" (", 1)[0]
    return head.count(",") + 1


def _fmt(value: float) -> str:
    mantissa, exponent = f"{value:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _num_out(value: float) -> float | str:
    # JSON has no NaN/Infinity; keep the report strictly valid JSON.
    return value if math.isfinite(value) else str(value)


def _num_in(value: float | str) -> float:
    return float(value)


@dataclass(frozen=True)
class OutputCheck:
    """One ONNX output compared with PyTorch's matching output."""

    submodel: str  # file stem: "model", "encoder_model", "decoder_model_merged", ...
    output: str
    max_abs_diff: float  # NaN when either side has NaN, inf when shapes differ
    atol: float
    passed: bool
    shape: tuple[int, ...]
    stage: str = "single pass"  # or "step 1 (empty cache)", "step 2 (with cache)"
    detail: str = ""  # why it failed, when the number alone does not say

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["max_abs_diff"] = _num_out(self.max_abs_diff)
        data["shape"] = list(self.shape)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OutputCheck:
        return cls(
            submodel=str(data["submodel"]),
            output=str(data["output"]),
            max_abs_diff=_num_in(data["max_abs_diff"]),
            atol=float(data["atol"]),
            passed=bool(data["passed"]),
            shape=tuple(int(d) for d in data.get("shape", ())),
            stage=str(data.get("stage", "single pass")),
            detail=str(data.get("detail", "")),
        )


@dataclass(frozen=True)
class ValidationReport:
    """What was compared, on which inputs, with which tolerance, and the verdict."""

    passed: bool
    atol: float
    atol_reason: str
    inputs_description: str
    checks: tuple[OutputCheck, ...] = ()
    error: str | None = None
    not_validated: tuple[str, ...] = ()  # files or outputs that were NOT checked, and why
    dtype: str = "fp32"

    @classmethod
    def from_checks(cls, checks: tuple[OutputCheck, ...], **fields: Any) -> ValidationReport:
        """A report whose verdict follows from its checks: nothing compared is never a pass."""
        error = fields.pop("error", None)
        passed = error is None and bool(checks) and all(c.passed for c in checks)
        if error is None and not checks:
            error = "No output could be compared with PyTorch, so nothing was validated."
        return cls(passed=passed, checks=checks, error=error, **fields)

    @classmethod
    def failure(
        cls, error: str, *, atol: float, atol_reason: str, inputs_description: str = "none"
    ) -> ValidationReport:
        return cls(
            passed=False,
            atol=atol,
            atol_reason=atol_reason,
            inputs_description=inputs_description,
            error=error,
        )

    @property
    def failed_checks(self) -> tuple[OutputCheck, ...]:
        return tuple(c for c in self.checks if not c.passed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "atol": self.atol,
            "atol_reason": self.atol_reason,
            "inputs_description": self.inputs_description,
            "checks": [c.to_dict() for c in self.checks],
            "error": self.error,
            "not_validated": list(self.not_validated),
            "dtype": self.dtype,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValidationReport:
        return cls(
            passed=bool(data["passed"]),
            atol=float(data["atol"]),
            atol_reason=str(data["atol_reason"]),
            inputs_description=str(data["inputs_description"]),
            checks=tuple(OutputCheck.from_dict(c) for c in data.get("checks", ())),
            error=data.get("error"),
            not_validated=tuple(str(n) for n in data.get("not_validated", ())),
            dtype=str(data.get("dtype", "fp32")),
        )

    def summary(self) -> str:
        """One line: the verdict and the number that decided it."""
        count = sum(_items_named(entry) for entry in self.not_validated)
        skipped = f"; {count} item(s) not validated (listed below)" if count else ""
        if self.error is not None and not self.checks:
            return f"Validation could not run: {self.error}"
        failed = self.failed_checks
        if failed:
            worst = max(failed, key=lambda c: _sort_key(c.max_abs_diff))
            return (
                f"Validation FAILED: {len(failed)} of {len(self.checks)} outputs beyond tolerance; "
                f"{worst.submodel}/{worst.output} ({worst.stage}) differs by "
                f"{worst.max_abs_diff:.3g} (atol {worst.atol:.3g}){skipped}"
            )
        if self.error is not None:
            return f"Validation FAILED: {self.error}{skipped}"
        worst = max(self.checks, key=lambda c: _sort_key(c.max_abs_diff))
        many = len(self.checks) != 1
        outputs = f"{len(self.checks)} outputs, each" if many else "1 output"
        return (
            f"Validation passed: {outputs} within its tolerance; largest diff "
            f"{worst.max_abs_diff:.3g} ({worst.submodel}/{worst.output}, tolerance "
            f"{worst.atol:.3g}){skipped}"
        )

    def render_text(self) -> str:
        """A small plain-text table of every check, with tolerance, inputs and gaps."""
        header = ("submodel", "stage", "output", "shape", "max |diff|", "atol", "verdict")
        rows = [
            (
                c.submodel,
                c.stage,
                c.output,
                "x".join(str(d) for d in c.shape),
                f"{c.max_abs_diff:.2e}",
                f"{c.atol:.1e}",
                f"{'ok' if c.passed else 'FAIL'} {c.detail}".rstrip(),
            )
            for c in self.checks
        ]
        widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
        lines = [self.summary(), ""]
        if rows:
            for row in (header, tuple("-" * w for w in widths), *rows):
                cells = (v.ljust(w) for v, w in zip(row, widths, strict=True))
                lines.append("  ".join(cells).rstrip())
            lines.append("")
        reason = self.atol_reason
        if _fmt(self.atol) not in reason:
            reason = f"{_fmt(self.atol)}, {reason}"
        lines.append(f"tolerance: {reason}")
        lines.append(f"export dtype: {self.dtype}")
        lines.append(f"inputs: {self.inputs_description}")
        lines += [f"not validated: {n}" for n in self.not_validated]
        if self.error is not None:
            lines.append(f"error: {self.error}")
        return "\n".join(lines)


def _sort_key(value: float) -> float:
    return math.inf if math.isnan(value) else value


def validate_export(
    model_path: str,
    onnx_dir: str,
    task: str,
    *,
    atol: float | None = None,
    timeout: float = 600,
    library: str | None = None,
    tokenizer: str | None = None,
) -> ValidationReport:
    """Compare every output of the export in ``onnx_dir`` with the PyTorch model at
    ``model_path`` on real inputs, in a child process. Never raises for a broken export: a
    missing file, a crash or a timeout comes back as a failed report with ``error`` set.

    ``library`` is the one optimum exported with ("transformers" or "sentence_transformers");
    None detects it from the model folder as optimum does (modules.json or
    config_sentence_transformers.json mean sentence-transformers). ``tokenizer`` names the
    tokenizer to use when the model folder has none; without either, validation runs on
    generated inputs and the report says so."""
    base_atol, reason = (atol, "set by you") if atol is not None else default_atol(task, "fp32")

    def failed(error: str) -> ValidationReport:
        return ValidationReport.failure(error, atol=base_atol, atol_reason=reason)

    library = library.replace("-", "_") if library else None  # inspection says "sentence-..."
    if library not in (None, *LIBRARIES):
        return failed(
            f"Validation does not cover library {library!r}; it covers {', '.join(LIBRARIES)}."
        )

    if not (Path(model_path) / "config.json").is_file():
        return failed(f"No PyTorch model to compare with: {model_path} has no config.json.")
    folder = Path(onnx_dir)
    if not folder.is_dir():
        return failed(f"The ONNX folder {onnx_dir} does not exist.")
    if not any(folder.glob("*.onnx")) and not any(folder.glob("onnx/*.onnx")):
        return failed(f"There is no .onnx file in {onnx_dir}: the export did not write one.")

    command = [sys.executable, "-m", CHILD_MODULE, "--model", model_path, "--onnx-dir", onnx_dir]
    command += ["--task", task]
    if library is not None:
        command += ["--library", library]
    if atol is not None:
        command += ["--atol", repr(float(atol))]
    if tokenizer is not None:  # a tokenizer from elsewhere, for a folder without one
        command += ["--tokenizer", tokenizer]
    from onnx_wizard.lifeline import child_environment

    try:
        # The child ends if this process dies (onnx_wizard.lifeline); run() kills it on timeout.
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=child_environment()
        )
    except subprocess.TimeoutExpired:
        return failed(f"Validation did not finish within {timeout:g} s and was stopped.")
    report = _parse_report(done.stdout)
    if report is not None:
        return report
    tail = "\n".join(done.stderr.strip().splitlines()[-8:]) or "(no output)"
    if done.returncode < 0:
        why = f"was killed by signal {-done.returncode} (often: out of memory)"
    else:
        why = f"crashed with exit code {done.returncode}"
    return failed(f"The validation process {why} before reporting:\n{tail}")


def _parse_report(stdout: str) -> ValidationReport | None:
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        return None
    try:
        return ValidationReport.from_dict(json.loads(lines[-1]))
    except (ValueError, KeyError, TypeError):
        return None


__all__ = [
    "OutputCheck",
    "ValidationReport",
    "default_atol",
    "output_atol",
    "validate_export",
]
