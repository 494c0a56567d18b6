"""The interactive path through the engine: fail, see the remedy as a plan diff, apply, pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from onnx_wizard.flow import engine, machine
from onnx_wizard.flow.steps import Step, WizardState

pytestmark = pytest.mark.slow


def walk_to(state: WizardState, target: Step) -> WizardState:
    for _ in range(20):
        if state.step is target:
            return state
        moved = engine.go_next(state)
        assert moved.step is not state.step, machine.view(moved).error or moved.errors
        state = moved
    raise AssertionError(f"never reached {target}")


def test_failed_run_offers_the_remedy_as_a_diff_and_recovers(tmp_path: Path) -> None:
    output = tmp_path / "out"
    state = machine.start({"source": "sample:bert-classifier", "output": str(output)})
    state = walk_to(state, Step.EXPORT_OPTIONS)
    state = machine.answer(state, "opset", 13)
    state = walk_to(state, Step.REVIEW)
    assert "--opset 13" in (state.facts.command or "")
    state = machine.advance(state)
    assert state.step is Step.RUN and machine.view(state).status == "running"

    events: list[dict] = []
    state = engine.run_export_step(state, on_event=events.append)
    assert state.facts.run is not None and state.facts.run["status"] == "failed"
    assert not output.exists()
    assert any(e["event"] == "stage" for e in events)
    state = machine.advance(state)
    assert state.step is Step.RECOVER
    diagnosis = state.facts.diagnosis
    assert diagnosis is not None and diagnosis["category"] == "unsupported_operator_opset"
    first = diagnosis["remedies"][0]
    assert first["answers"] == {"opset": 14}
    assert tuple(first["diff"]["opset"]) == (13, 14)

    state = engine.act(state, "apply")  # apply and retry: the run starts at once
    assert state.step is Step.RUN and machine.view(state).work == "export"
    assert "--opset 14" in engine.current_plan(state).to_command()
    state = engine.work(state)  # a passed run moves to its results by itself
    assert state.facts.run is not None and state.facts.run["status"] == "ok", state.facts.run
    assert state.step is Step.VALIDATE and state.facts.validation is not None
    assert state.facts.validation["passed"] is True
    assert (output / "model.onnx").is_file()
