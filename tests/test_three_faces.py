"""One script, three faces: the engine alone, the terminal app and the notebook widget agree.

The same walk (a sample model, through Back, a failed run at opset 13, Apply and retry, to DONE)
is driven headlessly through the engine, through the Textual app with Pilot (clicking its
buttons) and through the notebook widget (clicking its buttons). At every stop the test records
(step, status, the actions offered, the plan's command); any divergence between faces fails.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from onnx_wizard.flow import engine, machine
from onnx_wizard.flow.steps import WizardState

pytestmark = pytest.mark.slow

SCRIPT: list[tuple[str, ...]] = [
    ("press", "next"),  # SOURCE -> PREREQUISITES (the checks run)
    ("press", "back"),
    ("press", "next"),
    ("press", "next"),  # -> MODEL
    ("press", "next"),  # -> TASK
    ("press", "next"),  # -> EXPORT_OPTIONS
    ("answer", "opset", "13"),
    ("press", "next"),  # -> QUANTIZATION
    ("press", "next"),  # -> REVIEW
    ("press", "run"),  # fails at opset 13 -> RECOVER
    ("press", "apply"),  # apply and retry -> VALIDATE
    ("press", "next"),  # -> DONE
]
Stop = tuple[str, str, tuple[str, ...], str | None]


def stop(state: WizardState, output: Path) -> Stop:
    view = machine.view(state)
    command = None
    if state.facts.report is not None:
        command = engine.current_plan(state).to_command().replace(str(output), "<OUT>")
    return (view.step.value, view.status, view.action_names, command)


def engine_walk(output: Path) -> list[Stop]:
    state = machine.start({"source": "sample:bert-classifier", "output": str(output)})
    stops = [stop(state, output)]
    for command in SCRIPT:
        if command[0] == "answer":
            state = machine.answer(state, command[1], command[2])
        else:
            state = engine.act(state, command[1])
            while machine.view(state).work is not None:
                state = engine.work(state)
        stops.append(stop(state, output))
    return stops


def notebook_walk(output: Path) -> list[Stop]:
    from onnx_wizard.widgets.notebook import Wizard

    wizard = Wizard(model="sample:bert-classifier", output=str(output), offer_resume=False)
    stops = [stop(wizard.state, output)]
    for command in SCRIPT:
        if command[0] == "answer":
            wizard.forms[wizard.view.step].controls[command[1]].widget.value = command[2]
        else:
            button = wizard.button(command[1])
            assert not button.disabled, (command, wizard.view.step)
            button.click()
            wizard.wait(300)
            assert wizard.last_error is None, wizard.last_error
        stops.append(stop(wizard.state, output))
    return stops


def tui_walk(output: Path) -> list[Stop]:
    from textual.widgets import Input

    from onnx_wizard.widgets.tui.app import WizardApp
    from onnx_wizard.widgets.tui.recovery import RecoveryModal

    async def settled(app: Any, pilot: Any) -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            await pilot.pause(0.05)
            view = machine.view(app.state)
            idle = app.settled and view.work is None
            # The dialog is up exactly while the state is in recovery (a dismissed one is gone).
            modal_ready = (view.layout == "recover") == isinstance(app.screen, RecoveryModal)
            if idle and modal_ready:
                return
        raise AssertionError(f"the app never settled on {app.state.step}")

    def clickable(app: Any, selector: str) -> bool:
        """Mounted, laid out and enabled: a click on a button not yet laid out (a region of
        size zero, as in a dialog still composing on a slow machine) lands elsewhere."""
        found = list(app.screen.query(selector))
        return bool(found) and found[0].region.area > 0 and not found[0].disabled

    async def walk() -> list[Stop]:
        prefill = {"source": "sample:bert-classifier", "output": str(output)}
        app = WizardApp(prefill=prefill, offer_resume=False)
        stops: list[Stop] = []
        async with app.run_test(size=(120, 40)) as pilot:
            await settled(app, pilot)
            stops.append(stop(app.state, output))
            for command in SCRIPT:
                if command[0] == "answer":
                    app.query_one(f"#field-{command[1]}", Input).value = command[2]
                    await pilot.pause()
                else:
                    prefix = "rec" if isinstance(app.screen, RecoveryModal) else "act"
                    selector = f"#{prefix}-{command[1]}"
                    deadline = time.monotonic() + 10
                    while not clickable(app, selector) and time.monotonic() < deadline:
                        await pilot.pause(0.05)  # a dialog just pushed is still composing
                    taken = app.actions_taken
                    await pilot.click(selector)
                    while app.actions_taken == taken and time.monotonic() < deadline + 10:
                        await pilot.pause(0.05)  # a slow machine may not have handled it yet
                    assert app.actions_taken > taken, f"{selector} was clicked but never acted on"
                await settled(app, pilot)
                stops.append(stop(app.state, output))
            await pilot.press("ctrl+q")
        return stops

    return asyncio.run(walk())


def test_the_same_walk_gives_the_same_stops_in_every_face(
    tmp_path: Path, sample_bert: Path
) -> None:
    by_engine = engine_walk(tmp_path / "engine")
    assert [s[0] for s in by_engine][-3:] == ["recover", "validate", "done"]
    assert by_engine[-1][1] == "success" and "--opset 14" in str(by_engine[-1][3])
    by_notebook = notebook_walk(tmp_path / "notebook")
    by_tui = tui_walk(tmp_path / "tui")
    for number, (a, b, c) in enumerate(zip(by_engine, by_notebook, by_tui, strict=True)):
        assert a == b, f"notebook differs at stop {number}: {a} != {b}"
        assert a == c, f"terminal app differs at stop {number}: {a} != {c}"
    for face in ("engine", "notebook", "tui"):
        assert (tmp_path / face / "model.onnx").is_file()
