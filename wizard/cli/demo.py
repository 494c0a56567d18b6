"""``onnx-wizard demo``: walk the wizard on a built-in sample, non-interactively and offline.

It drives the same engine and state machine as the interactive wizard, accepting each step's
recommended answer, and prints what every step found. It is the README's first command.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any
from uuid import uuid4

from onnx_wizard.flow import engine, machine
from onnx_wizard.flow.steps import Step, StepView, WizardState
from onnx_wizard.inspection.samples import SAMPLES

# The demo walks as far as the engine goes today: to the reviewed plan.
LAST_STEP = Step.REVIEW


def _field_lines(view: StepView) -> list[str]:
    lines = []
    for item in view.fields:
        if item.name.startswith("check:"):
            continue  # the prerequisite table is summarised instead
        value = item.value
        if isinstance(value, (list, tuple)):
            value = ", ".join(str(v) for v in value) or "(none)"
        lines.append(f"    {item.label:<26} {value if value not in (None, '') else '(default)'}")
    return lines


def _checks_line(state: WizardState) -> str:
    checks = state.facts.checks or ()
    failed = sum(1 for c in checks if c["status"] == "fail")
    warned = sum(1 for c in checks if c["status"] == "warn")
    return (
        f"    {len(checks)} checks: {failed} failed, {warned} warnings (details: onnx-wizard check)"
    )


def walk(sample: str, output: str) -> tuple[WizardState, list[dict[str, Any]]]:
    """Drive the wizard from SOURCE to LAST_STEP with its recommended answers."""
    state = machine.start({"source": f"sample:{sample}", "output": output})
    visited: list[dict[str, Any]] = []
    while True:
        view = machine.view(state)
        visited.append({"step": view.step.value, "title": view.title, "state": state})
        if state.step is LAST_STEP:
            return state, visited
        moved = engine.go_next(state)
        if moved.step is state.step:
            problem = machine.view(moved).error or "; ".join(moved.errors.values())
            raise RuntimeError(f"the demo stopped at {state.step.value}: {problem}")
        state = moved


def run_demo(sample: str, output: str | None, *, as_json: bool = False) -> int:
    if sample not in SAMPLES:
        from onnx_wizard.errors import WizardError

        raise WizardError(
            f"There is no built-in sample called {sample!r}.",
            f"Use one of: {', '.join(SAMPLES)}.",
        )
    # A fresh folder each run, so a second demo never meets the first one's files.
    # The folder is only named here, not made: the demo stops at the reviewed plan, and a
    # folder made "just in case" would stay behind empty after every demo.
    target = output or str(
        Path(tempfile.gettempdir()) / f"onnx-wizard-demo-{uuid4().hex[:8]}" / sample
    )
    if not as_json:
        print(f"onnx-wizard demo: sample:{sample}, a {SAMPLES[sample].description}.")
        print("The sample has RANDOM weights: it is for trying the tool, not for real use.\n")
    state, visited = walk(sample, target)
    plan = engine.current_plan(state)
    if as_json:
        payload = {
            "sample": sample,
            "steps": [v["step"] for v in visited],
            "report": dict(state.facts.report or {}),
            "checks": [dict(c) for c in state.facts.checks or ()],
            "plan": plan.to_dict(),
            "command": plan.to_command(),
        }
        print(json.dumps(payload, indent=2, default=list))
        return 0
    for number, entry in enumerate(visited, start=1):
        step_state: WizardState = entry["state"]
        print(f"[{number}/{len(visited)}] {entry['title']}")
        if step_state.step is Step.PREREQUISITES:
            print(_checks_line(step_state))
        else:
            print("\n".join(_field_lines(machine.view(step_state))))
    print("\nEquivalent command (run it yourself, or let the wizard run it):")
    print(f"  {plan.to_command()}")
    return 0
