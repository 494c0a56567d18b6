"""No pane says the export is running once it is not: after a passed, a cancelled and a failed
run, every text on the terminal app's screen and every HTML of the notebook face is checked.

The states are the ones the engine lands on after each outcome (a passed run goes straight to
its results, a failed one to recovery, a cancelled one stays on the run step), built with the
machine from recorded facts, so no export runs here.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import pytest

from onnx_wizard.flow import machine
from onnx_wizard.flow.steps import Step, WizardState
from tests.test_machine import DECODER, at

# Words that claim an export is under way.
RUNNING = re.compile(r"export is running|is running\b|\bexporting\b|cancel it at any time", re.I)

VALIDATION = {
    "passed": True,
    "summary": "All 1 output(s) match PyTorch, each within its tolerance.",
    "results": [{"name": "model/logits", "passed": True, "detail": "max diff 1e-6"}],
}
DIAGNOSIS = {
    "id": "OW-TEST-001",
    "title": "The export failed",
    "explanation": "A test failure.",
    "remedies": [{"label": "Export with opset 14", "answers": {"opset": 14}}],
}


def ended(outcome: str) -> list[WizardState]:
    """The run step as the run ended, and where the engine goes from there."""
    running = machine.next(at(Step.REVIEW, DECODER))
    assert running.step is Step.RUN
    if outcome == "passed":
        done = machine.with_facts(running, run={"status": "ok"}, validation=VALIDATION)
        return [done, machine.advance(done)]
    if outcome == "cancelled":
        return [machine.with_facts(running, run={"status": "cancelled", "detail": "Cancelled."})]
    failed = machine.with_facts(running, run={"status": "failed", "error": "boom"})
    return [failed, machine.with_facts(machine.advance(failed), diagnosis=DIAGNOSIS)]


OUTCOMES = ("passed", "cancelled", "failed")


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_the_engine_view_never_says_running_after_the_run(outcome: str) -> None:
    for state in ended(outcome):
        view = machine.view(state)
        assert view.status != "running", (outcome, state.step)
        words = [view.help, view.outcome, view.error or ""]
        words += [str(f.value) for f in view.fields] + [a.busy for a in ()]
        assert not [w for w in words if RUNNING.search(w)], (outcome, state.step, words)


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_no_terminal_pane_says_running_after_the_run(outcome: str) -> None:
    from textual.widgets import Static

    from onnx_wizard.widgets.tui.app import WizardApp

    async def texts(state: WizardState) -> list[str]:
        app = WizardApp(state, offer_resume=False, autorun=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            return [str(w.render()) for w in app.screen.query(Static) if w.display]

    for state in ended(outcome):
        shown = asyncio.run(texts(state))
        assert shown, state.step
        claims = [text for text in shown if RUNNING.search(text)]
        assert not claims, (outcome, state.step, claims)


def html_of(widget: Any) -> Iterator[str]:
    """Every HTML value in a widget tree (what the notebook shows)."""
    value = getattr(widget, "value", None)
    if widget.__class__.__name__ == "HTML" and isinstance(value, str):
        yield value
    for child in getattr(widget, "children", ()) or ():
        yield from html_of(child)


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_no_notebook_html_says_running_after_the_run(outcome: str) -> None:
    from onnx_wizard.widgets.notebook import Wizard

    for state in ended(outcome):
        wizard = Wizard(model="sample:gpt2", offer_resume=False)
        wizard._state = state  # what the wizard holds once the run ended
        wizard._render()
        shown = list(html_of(wizard))
        assert any(shown), state.step
        claims = [re.sub("<[^>]+>", " ", h) for h in shown if RUNNING.search(h)]
        assert not claims, (outcome, state.step, claims)
