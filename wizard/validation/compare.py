"""The comparison side of validation: onnxruntime sessions, feeds, and the per-output checks.

Used only by the validation child (``onnx_wizard.validation.child``) and the export child; it
imports onnxruntime inside functions, so its top level stays numpy-only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from onnx_wizard.validation.report import OutputCheck, ValidationReport, default_atol, output_atol

NP_TYPES = {
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(bool)": np.bool_,
}
STEP1, STEP2, SINGLE = "step 1 (empty cache)", "step 2 (with cache)", "single pass"
Arrays = dict[str, np.ndarray]


def session_options() -> Any:
    """Default graph optimizations, so we check what a user's onnxruntime really runs.

    Only spinning is off: after each run onnxruntime's idle workers busy-wait for more work,
    while the next thing to run here is PyTorch's reference pass on the same cores. On a busy
    2-core machine that took MiniLM's validation from 0.30-0.34 s to 0.33-0.93 s. Spinning
    changes timing, never results. (ORT_ENABLE_BASIC would load ~0.06 s faster, but then the
    check would skip the fusions a user's default session runs.)"""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


class Validation:
    """Collects checks, gaps and errors while the export's files are compared one by one."""

    atol: float
    reason: str

    def __init__(self, folder: Path, config: Any, task: str, atol: float | None) -> None:
        self.folder, self.config, self.task, self.user_atol = folder, config, task, atol
        self.checks: list[OutputCheck] = []
        self.not_validated: list[str] = []
        self.errors: list[str] = []
        self.dtype = ""
        self.sessions: dict[str, Any] = {}  # one session per file: loading one costs ~0.2 s
        chosen = default_atol(task, "fp32") if atol is None else (atol, "set by you")
        self.atol, self.reason = chosen

    def open(self, name: str) -> Any | None:
        if name in self.sessions:
            return self.sessions[name]
        import onnxruntime as ort

        try:
            session = ort.InferenceSession(
                str(self.folder / name), session_options(), providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            self.errors.append(f"{name} does not load in onnxruntime: {first_line(exc)}")
            session = None
        self.sessions[name] = session
        if session is not None and not self.dtype:
            # The first file that loads decides the export dtype, and so the tolerance.
            types = {o.type for o in session.get_outputs()}
            self.dtype = "fp16" if "tensor(float16)" in types else "fp32"
            self.dtype = "bf16" if "tensor(bfloat16)" in types else self.dtype
            if self.user_atol is None:
                self.atol, self.reason = default_atol(self.task, self.dtype)
        return session

    def run(self, name: str, session: Any, available: Arrays) -> Arrays | None:
        feeds: Arrays = {}
        for spec in session.get_inputs():
            if spec.name in available:
                value = available[spec.name]
            elif spec.name.startswith("past_key_values"):
                value = self.empty_past(spec.shape, len(available["input_ids"]))
            else:
                self.not_validated.append(f"{name}: needs input {spec.name!r}, unknown here")
                return None
            feeds[spec.name] = np.asarray(value).astype(NP_TYPES.get(spec.type, np.float32))
        names = [o.name for o in session.get_outputs()]
        try:
            return dict(zip(names, session.run(names, feeds), strict=True))
        except Exception as exc:
            self.errors.append(f"{name} fails in onnxruntime on real inputs: {first_line(exc)}")
            return None

    def empty_past(self, shape: list[Any], batch: int) -> np.ndarray:
        # [batch, heads, 0, head_dim]; heads/head_dim from the graph, else from the config.
        dims = []
        for axis, dim in enumerate(shape):
            if isinstance(dim, int):
                dims.append(dim)
            elif axis == 0:
                dims.append(batch)
            elif axis in (1, 3) and len(shape) == 4:
                dims.append(_heads(self.config) if axis == 1 else _head_dim(self.config))
            else:
                dims.append(0)
        return np.zeros(dims, dtype=np.float32)

    def compare(self, submodel: str, stage: str, got: Arrays, refs: Arrays, skip: str = "") -> None:
        skipped = [n for n in got if skip and n.startswith("present.") and skip in n]
        if skipped:
            self.not_validated.append(
                f"{submodel}.onnx {', '.join(skipped)} ({stage}): placeholders by design, the "
                "cross-attention cache is reused from step 1"
            )
        for name, value in got.items():
            if name in skipped:
                continue
            if name not in refs:
                self.not_validated.append(f"{submodel}.onnx {name} ({stage}): no PyTorch output")
                continue
            self.checks.append(self.check(submodel, stage, name, value, refs[name]))

    def check(self, submodel: str, stage: str, name: str, got: Any, ref: Any) -> OutputCheck:
        ours, theirs = np.asarray(got, np.float64), np.asarray(ref, np.float64)
        finite = np.abs(theirs[np.isfinite(theirs)])
        peak = float(finite.max()) if finite.size else 0.0
        atol = output_atol(self.atol, self.dtype, peak, user_set=self.user_atol is not None)
        shape, detail = tuple(int(d) for d in ours.shape), ""
        if ours.shape != theirs.shape:
            diff, detail = float("inf"), f"shape {shape}, PyTorch {tuple(theirs.shape)}"
        elif np.isnan(ours).any() or np.isnan(theirs).any():
            side = "ONNX" if np.isnan(ours).any() else "PyTorch"
            diff, detail = float("nan"), f"NaN in the {side} output"
        else:  # equal infinities (e.g. masked scores) count as equal, not as inf - inf = NaN
            gap = np.where(ours == theirs, 0.0, np.abs(ours - theirs))
            diff = float(gap.max()) if gap.size else 0.0
        passed = bool(diff <= atol)  # False for NaN
        return OutputCheck(submodel, name, diff, atol, passed, shape, stage, detail)

    def report(self, description: str) -> ValidationReport:
        return ValidationReport.from_checks(
            tuple(self.checks),
            atol=self.atol,
            atol_reason=self.reason,
            inputs_description=description,
            error="; ".join(self.errors) or None,
            not_validated=tuple(self.not_validated),
            dtype=self.dtype or "fp32",
        )


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"[:500]


def _heads(config: Any) -> int:
    for key in ("num_key_value_heads", "num_attention_heads", "n_head", "num_heads"):
        if isinstance(getattr(config, key, None), int):
            return int(getattr(config, key))
    raise ValueError("cannot tell the number of attention heads from config.json")


def _head_dim(config: Any) -> int:
    for key in ("head_dim", "d_kv"):
        if isinstance(getattr(config, key, None), int):
            return int(getattr(config, key))
    hidden = getattr(config, "hidden_size", None) or getattr(config, "n_embd", None)
    heads = getattr(config, "num_attention_heads", None) or getattr(config, "n_head", None)
    if hidden and heads:
        return int(hidden) // int(heads)
    raise ValueError("cannot tell the attention head size from config.json")
