"""The terminal app's behaviour without an export: fields, answers, resume, doctor, recovery modal.

Every state comes from the real engine (real inspection of the built-in samples, the real
knowledge base); the app runs headless under Textual's Pilot.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Button, Checkbox, Input, Select, SelectionList, Static, Switch, TextArea

from onnx_wizard.flow import engine, machine
from onnx_wizard.flow.steps import Field, Step
from onnx_wizard.flow.text import table_text
from onnx_wizard.widgets.tui import theme
from onnx_wizard.widgets.tui.app import WizardApp
from onnx_wizard.widgets.tui.dialogs import LogScreen, ResumeModal
from onnx_wizard.widgets.tui.doctor import DoctorScreen
from onnx_wizard.widgets.tui.fields import (
    INPUT_WIDGETS,
    CommandBox,
    FieldRow,
    TableView,
    answer_value,
)
from onnx_wizard.widgets.tui.recovery import RecoveryModal
from onnx_wizard.widgets.tui.run_pane import RunPane
from onnx_wizard.widgets.tui.stepview import StepBar
from tests.test_tui_support import (
    OPSET_LOG,
    REMOTE_CODE_LOG,
    failed_with,
    idle,
    opset_failure,
    pilot_test,
    start,
    wait_until,
    walk,
)

SIZE = (100, 40)


def text_of(widget: Any) -> str:
    if isinstance(widget, TableView):  # a rich table: read the engine's cells it lays out
        return table_text(widget.table)
    return str(widget.render())


def test_each_field_kind_has_its_widget() -> None:
    expected = {
        "text": Input,
        "path": Input,
        "number": Input,
        "choice": Select,
        "bool": Switch,
        "multichoice": SelectionList,
    }
    for kind, widget_type in expected.items():
        item = Field("x", kind, "X", choices=(("a", "A"), (None, "none")))
        assert isinstance(INPUT_WIDGETS[kind](item), widget_type), kind
    # Select options carry indexes, because a choice may be None (optimize: "none").
    choice = Field("optimize", "choice", "Optimization", choices=((None, "none"), ("O1", "O1")))
    assert answer_value(choice, 1) == "O1"
    assert answer_value(choice, 0) is None


@pilot_test
async def test_prefill_fills_the_source_step_and_samples_answer_it(tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    app = WizardApp(prefill={"source": "sample:bert-classifier", "output": out})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not isinstance(app.screen, ResumeModal)  # nothing saved yet: no offer
        assert app.query_one("#field-source", Input).value == "sample:bert-classifier"
        assert app.query_one("#field-output", Input).value == out
        await pilot.click("#sample-t5")
        await pilot.pause()
        assert app.state.answers["source"] == "sample:t5"
        assert app.query_one("#field-source", Input).value == "sample:t5"


@pilot_test
async def test_a_bad_value_shows_the_engines_error_and_next_stays(tmp_path: Path) -> None:
    state = walk(start("bert-classifier", str(tmp_path / "out")), Step.EXPORT_OPTIONS)
    app = WizardApp(state, offer_resume=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.query_one("#field-opset", Input).focus()
        await pilot.press("9", "9")
        await pilot.pause()
        row = app.query_one("#row-opset", FieldRow)
        assert row.has_class("has-error")
        assert "at most 23" in text_of(row.query_one(".error", Static))
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: idle(app), 10, "the engine")
        assert app.state.step is Step.EXPORT_OPTIONS
        await pilot.press("ctrl+u", "1", "4")  # 99 -> 14: valid, the error goes
        await pilot.pause()
        assert not row.has_class("has-error")
        assert app.state.answers["opset"] == 14


@pilot_test
async def test_back_then_next_restores_the_exact_view(tmp_path: Path) -> None:
    state = walk(start("gpt2", str(tmp_path / "out")), Step.ARCHITECTURE)
    app = WizardApp(state, offer_resume=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.query_one("#field-with_past", Switch).value = False  # an answer to keep
        await pilot.pause()
        before = machine.view(app.state)
        await pilot.press("ctrl+b")
        await wait_until(pilot, lambda: app.state.step is Step.TASK and idle(app), 10, "TASK")
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: app.state.step is Step.ARCHITECTURE and idle(app), 10, "")
        assert machine.view(app.state) == before
        assert app.query_one("#field-with_past", Switch).value is False


@pilot_test
async def test_session_is_saved_after_a_step_and_offered_on_the_next_start(
    tmp_path: Path, wizard_home: Path
) -> None:
    out = tmp_path / "out"
    app = WizardApp(prefill={"source": "sample:bert-classifier", "output": str(out)})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: app.state.step is Step.PREREQUISITES, 60, "checks")
        await pilot.press("ctrl+q")
    assert app.session_path is not None and wizard_home in app.session_path.parents
    saved = json.loads(app.session_path.read_text())
    assert saved["state"]["step"] == "prerequisites"
    assert app.return_code == 0
    assert not out.exists() and sorted(tmp_path.iterdir()) == [tmp_path / "wizard-home"]

    prefill = {"source": "sample:bert-classifier", "output": str(out)}
    again = WizardApp(prefill=prefill)
    async with again.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(again.screen, ResumeModal), 5, "the offer")
        await pilot.press("r")
        await wait_until(pilot, lambda: again.state.step is Step.PREREQUISITES, 10, "resumed")
        await wait_until(pilot, lambda: bool(again.query("#checks")), 10, "the checks table")

    other = WizardApp(prefill={"source": "sample:gpt2", "output": str(tmp_path / "else")})
    async with other.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not isinstance(other.screen, ResumeModal)  # another model and output: no offer

    fresh = WizardApp(prefill=prefill)
    async with fresh.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(fresh.screen, ResumeModal), 5, "the offer")
        await pilot.click("#resume-no")
        await pilot.pause()
        assert fresh.state.step is Step.SOURCE
        assert fresh.state.answers["source"] == "sample:bert-classifier"  # their own prefill


@pilot_test
async def test_doctor_diagnoses_a_pasted_log_and_a_log_file(tmp_path: Path) -> None:
    app = WizardApp(offer_resume=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert isinstance(app.screen, DoctorScreen)
        app.screen.query_one(TextArea).text = OPSET_LOG
        await pilot.press("ctrl+r")
        screen = app.screen
        await wait_until(pilot, lambda: bool(screen.query(".diagnosis")), 10, "diagnoses")
        shown = " ".join(text_of(w) for w in screen.query(".diagnosis"))
        assert "An operator needs a newer ONNX opset" in shown
        assert "--opset 14" in screen.query_one(CommandBox).command

        log = tmp_path / "export.log"
        log.write_text(REMOTE_CODE_LOG)
        screen.query_one("#doctor-path", Input).value = str(log)
        screen.query_one("#doctor-path", Input).focus()
        await pilot.press("enter")

        def remote_code_shown() -> bool:
            return "own code" in " ".join(text_of(w) for w in screen.query(".diagnosis"))

        await wait_until(pilot, remote_code_shown, 10, "the file's diagnosis")
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.screen_stack[0]  # back on the wizard


@pilot_test
async def test_recovery_modal_shows_the_diff_and_edit_plan_keeps_answers(tmp_path: Path) -> None:
    state = walk(start("bert-classifier", str(tmp_path / "out")), Step.REVIEW, {"opset": 13})
    log = tmp_path / "attempt-1.log"
    log.write_text(OPSET_LOG)
    state = machine.advance(opset_failure(machine.advance(state), str(log)))
    app = WizardApp(state, offer_resume=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, RecoveryModal)
        assert "newer ONNX opset" in text_of(modal.query_one("#diagnosis"))
        diff = text_of(modal.query_one("#table-diff"))
        assert "opset" in diff and "13" in diff and "14" in diff and "After the fix" in diff
        assert not modal.query_one("#rec-apply", Button).disabled
        assert not modal.query_one("#consent", Checkbox).display  # no yes needed for an opset
        await pilot.click("#rec-log")
        await pilot.pause()
        assert isinstance(app.screen, LogScreen)
        assert any("opset version 13" in line for line in app.screen.lines)
        await pilot.press("escape")
        await pilot.press("e")
        await wait_until(pilot, lambda: app.state.step is Step.EXPORT_OPTIONS, 5, "options")
        assert app.query_one("#field-opset", Input).value == "13"


@pilot_test
async def test_remote_code_fix_needs_an_explicit_yes(tmp_path: Path) -> None:
    state = walk(start("bert-classifier", str(tmp_path / "out")), Step.REVIEW)
    state = machine.advance(failed_with(machine.advance(state), REMOTE_CODE_LOG))
    app = WizardApp(state, offer_resume=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, RecoveryModal)
        assert "trust_remote_code" in text_of(modal.query_one("#table-diff"))
        apply = modal.query_one("#rec-apply", Button)
        assert apply.disabled and modal.query_one("#consent", Checkbox).display
        await pilot.press("a")  # refused without the yes
        await pilot.pause()
        assert app.screen is modal and app.state.step is Step.RECOVER
        await pilot.click("#consent")
        await pilot.pause()
        assert not apply.disabled
        assert "Python code" in str(modal.query_one("#consent", Checkbox).label)


@pilot_test
async def test_unrecognised_failure_offers_log_edit_and_stop(tmp_path: Path) -> None:
    state = walk(start("bert-classifier", str(tmp_path / "out")), Step.REVIEW)
    run = {"status": "failed", "detail": "exit code 1", "files": [], "attempts": [], "log": ""}
    diagnosis = engine.unrecognised_failure("RuntimeError: something new")  # what the engine says
    state = machine.advance(machine.with_facts(machine.advance(state), run=run))
    state = machine.with_facts(state, diagnosis=diagnosis)
    app = WizardApp(state, offer_resume=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, RecoveryModal)
        assert "does not recognise" in text_of(modal.query_one("#diagnosis"))
        assert "something new" in text_of(modal.query_one("#explanation"))
        assert modal.query_one("#rec-apply", Button).disabled
        await pilot.press("s")
        await wait_until(pilot, lambda: app.state.step is Step.DONE, 5, "DONE")
        assert machine.view(app.state).status == "failed"


@pilot_test
async def test_run_pane_draws_events_and_searches_the_log(tmp_path: Path) -> None:
    state = machine.advance(walk(start("bert-classifier", str(tmp_path / "out")), Step.REVIEW))
    app = WizardApp(state, offer_resume=False, autorun=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        pane = app.query_one(RunPane)
        for event in (
            {"event": "attempt", "number": 1, "command": "optimum-cli export onnx ..."},
            {"event": "started", "pid": 1, "command": "..."},
            {"event": "stage", "stage": "load", "label": "loading the model"},
            {"event": "log", "line": "Using framework PyTorch: 2.13.0+cpu"},
            {"event": "memory", "rss": 300 * 2**20, "peak": 400 * 2**20},
            {"event": "stage", "stage": "export", "label": "exporting submodel 1/1"},
            {"event": "log", "line": "Post-processing the exported models..."},
        ):
            pane.handle(event)
        await pilot.pause()
        assert pane.stage_states == {"load": "done", "export": "running"} | {
            "post_process": "",
            "validate": "",
        }
        assert "300.0 MiB" in text_of(app.query_one("#run-memory"))
        assert "400.0 MiB" in text_of(app.query_one("#run-peak"))
        await pilot.press("ctrl+f")
        assert app.focused is app.query_one("#log-search")
        await pilot.press(*"framework")
        await pilot.pause()
        assert text_of(app.query_one("#log-count")) == "1 of 3 lines"
        pane.handle({"event": "finished", "status": "failed"})
        assert pane.stage_states["export"] == "failed"


def test_theme_follows_the_terminal_background() -> None:
    assert theme.prefers_light({"COLORFGBG": "0;15"})
    assert not theme.prefers_light({"COLORFGBG": "15;0"})
    assert not theme.prefers_light({})
    assert theme.prefers_light({"COLORFGBG": "15;0", "ONNX_WIZARD_THEME": "light"})
    assert theme.theme_name({"COLORFGBG": "0;7"}) == theme.LIGHT.name


@pytest.mark.parametrize("width", [80, 120])
@pilot_test
async def test_step_bar_fits_the_terminal(tmp_path: Path, width: int) -> None:
    state = walk(start("bert-classifier", str(tmp_path / "out")), Step.TASK)
    app = WizardApp(state, offer_resume=False)
    async with app.run_test(size=(width, 24)) as pilot:
        await pilot.pause()
        bar = app.query_one(StepBar)
        line = text_of(bar)
        assert "Task" in line and "4/11" in line  # the KV-cache step counts, passed by
        assert len(line) <= width - 2
        assert ("Checks" in line) is (width >= 120)  # full names only where they fit
        assert ("KV cache" in line) is (width >= 120)
