"""Shared helpers for the terminal app's tests: engine walks, waiting on a Pilot, fixed facts."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from textual.pilot import Pilot

from onnx_wizard.flow import engine, machine
from onnx_wizard.flow.steps import Step, WizardState

# Prerequisite results as the engine records them, fixed so screenshots do not depend on this
# machine's free memory and disk (one of each status, to show the whole table).
FIXED_CHECKS: tuple[dict[str, str], ...] = (
    {"name": "python", "status": "ok", "detail": "Python 3.11.7", "fix": ""},
    {"name": "torch", "status": "ok", "detail": "torch 2.13.0+cpu", "fix": ""},
    {"name": "transformers", "status": "ok", "detail": "transformers 4.57.6", "fix": ""},
    {"name": "optimum", "status": "ok", "detail": "optimum 2.1.0", "fix": ""},
    {"name": "onnxruntime", "status": "ok", "detail": "onnxruntime 1.32.0", "fix": ""},
    {
        "name": "onnxslim",
        "status": "warn",
        "detail": "not installed; needed for --slim",
        "fix": "pip install onnxslim",
    },
    {
        "name": "ram",
        "status": "fail",
        "detail": "0.9 GiB free of 8.0 GiB; export needs ~2-3x the weights' size",
        "fix": "close other programs, or export on a machine with more memory",
    },
    {"name": "disk", "status": "ok", "detail": "74.2 GiB free", "fix": ""},
)

# The real failure optimum prints for an opset that is too old (from the knowledge base).
OPSET_LOG = (
    "$ optimum-cli export onnx --model ./tiny-bert --task text-classification --opset 13 out\n"
    "torch.onnx.errors.UnsupportedOperatorError: Exporting the operator "
    "'aten::scaled_dot_product_attention' to ONNX opset version 13 is not supported. Support for "
    "this operator was added in version 14, try exporting with this version.\n"
)


def pilot_test(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run an async Pilot test on its own event loop (no pytest asyncio plugin needed)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))  # type: ignore[arg-type]

    return run


def walk(state: WizardState, target: Step, answers: Mapping[str, Any] | None = None) -> WizardState:
    """Drive the real engine with its defaults (plus ``answers`` where asked) to ``target``."""
    for _ in range(20):
        if state.step is target:
            return state
        for name, value in (answers or {}).items():
            if any(f.name == name for f in machine.view(state).fields):
                state = machine.answer(state, name, value)
        moved = engine.go_next(state)
        assert moved.step is not state.step, machine.view(moved).error or dict(moved.errors)
        state = moved
    raise AssertionError(f"never reached {target}")


def start(sample: str, output: str) -> WizardState:
    return machine.start({"source": f"sample:{sample}", "output": output})


def with_fixed_checks(state: WizardState) -> WizardState:
    return machine.with_facts(state, checks=FIXED_CHECKS, gpu=False)


# transformers refusing a model's own code without trust_remote_code (a consent remedy).
REMOTE_CODE_LOG = (
    "ValueError: The repository ./custom contains custom code which must be executed to "
    "correctly load the model.\n"
    "Please pass the argument `trust_remote_code=True` to allow custom code to be run.\n"
)


def failed_with(state: WizardState, log: str, log_path: str = "") -> WizardState:
    """A RUN state that failed with ``log``, diagnosed by the real knowledge base and with the
    engine's own remedy choices (as ``engine.run_export_step`` records them); ``advance`` takes
    it to RECOVER."""
    from onnx_wizard.knowledge import diagnose

    best = dict(diagnose(log)[0].to_dict())
    best["remedies"] = engine.remedy_choices(state, best)
    run = {"status": "failed", "detail": "", "files": [], "attempts": [], "log": log_path}
    return machine.with_facts(state, run=run, diagnosis=best)


def opset_failure(state: WizardState, log_path: str = "") -> WizardState:
    return failed_with(state, OPSET_LOG, log_path)


async def wait_until(
    pilot: Pilot[Any], predicate: Callable[[], bool], timeout: float, what: str
) -> float:
    """Let the app run until ``predicate()`` holds; the seconds it took. Fails after timeout."""
    began = time.monotonic()
    while not predicate():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await pilot.pause(0.05)
    return time.monotonic() - began


def idle(app: Any) -> bool:
    """No engine call, export or redraw in flight (the app's forward/back are usable)."""
    return bool(app.settled)
