"""Consent lives in the engine: an action that runs remote code or replaces files needs a yes.

These drive ``engine.act`` directly, the way a buggy or hostile face could, and show that the
engine itself refuses; the yes it records names that exact action and is never reused.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from onnx_wizard.flow import engine, machine
from onnx_wizard.flow.actions import consent_key
from onnx_wizard.flow.steps import Step
from tests.test_machine import ENCODER, at

REMOTE_FIX = {
    "id": "OW-REMOTE-001",
    "title": "The model ships its own code",
    "explanation": "auto_map in config.json",
    "remedies": [
        {
            "label": "Run the model's code",
            "answers": {"trust_remote_code": True},
            "needs_consent": True,
        },
        {"label": "Export with opset 14", "answers": {"opset": 14}},
    ],
}


def at_recover(diagnosis: dict) -> object:
    state = machine.with_facts(machine.next(at(Step.REVIEW)), run={"status": "failed"})
    return machine.with_facts(machine.next(state), diagnosis=diagnosis)


def test_apply_of_a_remote_code_fix_is_refused_without_yes() -> None:
    state = at_recover(REMOTE_FIX)
    view = machine.view(state)
    apply = view.action("apply")
    assert apply is not None and apply.needs_consent and "trust_remote_code" in apply.consent
    with pytest.raises(engine.ActionRefused, match="explicit yes"):
        engine.act(state, "apply")
    applied = engine.act(state, "apply", yes=True)
    assert applied.step is Step.RUN and applied.answers["trust_remote_code"] is True
    key = consent_key(Step.RECOVER, "apply", state.answers, state.facts)
    assert key in applied.facts.consents
    assert "trust_remote_code:sample:x" in applied.facts.consents  # the run checks this one


def test_a_yes_to_one_fix_does_not_cover_another() -> None:
    state = at_recover(REMOTE_FIX)
    opset = machine.answer(state, "remedy", 1)
    assert not machine.view(opset).action("apply").needs_consent  # type: ignore[union-attr]
    applied = engine.act(opset, "apply")  # no yes needed: it only changes the opset
    assert applied.answers["opset"] == 14 and not applied.facts.consents


def test_turning_on_remote_code_on_the_model_step_needs_yes() -> None:
    state = machine.answer(at(Step.MODEL), "trust_remote_code", True)
    assert machine.view(state).work == "inspect"  # the model is read again, with its code
    state = machine.with_facts(state, report=ENCODER)  # what engine.work records
    assert machine.view(state).action("next").needs_consent  # type: ignore[union-attr]
    with pytest.raises(engine.ActionRefused):
        engine.act(state, "next")
    moved = engine.act(state, "next", yes=True)
    assert moved.step is Step.TASK and "trust_remote_code:sample:x" in moved.facts.consents


def test_a_run_with_remote_code_but_no_yes_is_refused_before_any_process(tmp_path: Path) -> None:
    state = machine.with_answers(at(Step.REVIEW), {"trust_remote_code": True})
    state = machine.advance(state)
    assert machine.view(state).work == "export"
    events: list[dict] = []
    done = engine.run_export_step(state, on_event=events.append)
    assert done.facts.run is not None and done.facts.run["status"] == "failed"
    assert "nobody said yes" in done.facts.run["detail"]
    assert events == []  # no child process was started


def test_replacing_a_non_empty_output_needs_yes(tmp_path: Path) -> None:
    output = tmp_path / "out"
    output.mkdir()
    (output / "keep.txt").write_text("mine")
    state = machine.start({"source": "sample:x", "output": str(output), "overwrite": True})
    action = machine.view(state).action("next")
    assert action is not None and str(output) in action.consent
    with pytest.raises(engine.ActionRefused):
        engine.act(state, "next")
    assert (output / "keep.txt").read_text() == "mine"


def test_actions_not_offered_are_refused() -> None:
    state = at(Step.REVIEW, ENCODER)
    with pytest.raises(engine.ActionRefused, match="not offered"):
        engine.act(state, "apply")
