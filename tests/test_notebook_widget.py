"""The notebook wizard, headless: set widget values, click buttons, check panes, flags and state."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import ipywidgets as widgets
import pytest

from onnx_wizard.flow import engine, machine, session
from onnx_wizard.flow.steps import Step, thaw
from onnx_wizard.widgets.notebook import Wizard

WAIT = 120.0  # seconds; an export of the tiny sample takes 8-15 s on a 2-core machine


def click(wizard: Wizard, button: widgets.Button) -> None:
    assert not button.disabled, f"{button.description} is disabled on {wizard.view.step.value}"
    button.click()
    wizard.wait(WAIT)
    assert wizard.last_error is None, wizard.last_error


def walk_to(wizard: Wizard, step: Step) -> None:
    for _ in range(12):
        if wizard.view.step is step:
            return
        click(wizard, wizard.next_button)
    raise AssertionError(f"never reached {step.value}; at {wizard.view.step.value}")


def until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def shown(wizard: Wizard, step: Step) -> bool:
    return wizard.current_pane is wizard.panes[step]


@pytest.mark.slow
def test_click_through_a_real_export_to_the_results(tmp_path: Path, sample_bert: Path) -> None:
    output = tmp_path / "bert-onnx"
    wizard = Wizard(model="sample:bert-classifier", output=str(output))
    assert wizard.view.step is Step.SOURCE and shown(wizard, Step.SOURCE)
    assert wizard.forms[Step.SOURCE].controls["source"].widget.value == "sample:bert-classifier"
    assert wizard.back_button.disabled and not wizard.next_button.disabled
    assert "Step 1 of" in wizard.header.value

    click(wizard, wizard.next_button)
    assert wizard.state.step is Step.PREREQUISITES and shown(wizard, Step.PREREQUISITES)
    assert "python" in wizard.forms[Step.PREREQUISITES].info.value
    assert not wizard.back_button.disabled

    walk_to(wizard, Step.TASK)
    task = wizard.forms[Step.TASK].controls["task"].widget
    assert isinstance(task, widgets.Dropdown) and task.label.endswith("(text-classification)")

    walk_to(wizard, Step.REVIEW)
    assert wizard.next_button.description == "Run export"
    assert "optimum-cli export onnx" in wizard.forms[Step.REVIEW].info.value

    started = time.monotonic()
    wizard.next_button.click()  # returns at once: the export runs in a worker thread
    assert time.monotonic() - started < 2.0
    assert wizard.busy and wizard.next_button.disabled and wizard.back_button.disabled
    until(lambda: wizard.cancel_button.layout.display == "")  # drawn from the RUN view
    assert wizard.view.step is Step.RUN and wizard.view.status == "running"
    wizard.wait(WAIT)
    assert wizard.last_error is None, wizard.last_error
    view = wizard.view
    assert view.step is Step.RUN and view.status == "success" and shown(wizard, Step.RUN)
    assert wizard.state.facts.run is not None and wizard.state.facts.run["status"] == "ok"
    assert {bar.bar_style for bar in wizard.run_pane.bars.values()} == {"success"}
    stages = [e["stage"] for e in wizard.run_pane.events if e["event"] == "stage"]
    assert stages[:1] == ["load"] and "validate" in stages
    assert "Post-processing" in wizard.run_pane.log_text
    assert wizard.cancel_button.layout.display == "none" and not wizard.next_button.disabled

    click(wizard, wizard.next_button)
    assert wizard.view.step is Step.VALIDATE and shown(wizard, Step.VALIDATE)
    assert "model.onnx" in wizard.results.value and "passed" in wizard.results.value
    assert "<svg" in wizard.results.value and "Validation passed" in wizard.results.value
    wizard.forms[Step.VALIDATE].controls["publish"].widget.value = True
    click(wizard, wizard.next_button)
    assert wizard.view.step is Step.PUBLISH and shown(wizard, Step.PUBLISH)
    repo = wizard.forms[Step.PUBLISH].controls["repo_id"]
    assert isinstance(wizard.forms[Step.PUBLISH].controls["private"].widget, widgets.Checkbox)
    repo.widget.value = "not a repo"
    assert "owner/name" in repo.error.value
    repo.widget.value = "me/bert-onnx"
    assert wizard.state.answers["repo_id"] == "me/bert-onnx"
    assert wizard.next_button.description == "Finish"
    click(wizard, wizard.next_button)
    assert wizard.view.step is Step.DONE and shown(wizard, Step.DONE)
    assert "model.onnx" in wizard.results.value
    assert wizard.next_button.layout.display == "none" and wizard.back_button.disabled
    assert (output / "model.onnx").is_file()
    assert wizard.session_path is not None and wizard.session_path.is_file()
    assert session.find_resumable(str(output)) is None  # a finished session is not offered


@pytest.mark.slow
def test_a_failed_export_shows_the_fix_as_a_plan_diff(tmp_path: Path, sample_bert: Path) -> None:
    output = tmp_path / "out"
    wizard = Wizard(model="sample:bert-classifier", output=str(output), opset=13)
    state = wizard.run_to_end()
    assert state.step is Step.RECOVER and shown(wizard, Step.RECOVER)
    assert not output.exists()
    assert "An operator needs a newer ONNX opset" in wizard.forms[Step.RECOVER].info.value
    assert "recovery" not in wizard.forms[Step.RECOVER].controls  # Apply / Stop answer it
    assert "<td>opset</td>" in wizard.diff.value and ">14</pre>" in wizard.diff.value
    assert wizard.consent.layout.display == "none"  # changing the opset needs no consent
    assert not wizard.apply_button.disabled and not wizard.stop_button.disabled
    assert wizard.next_button.layout.display == "none"
    assert "UnsupportedOperatorError" in wizard.run_pane.log_text
    assert {b.bar_style for b in wizard.run_pane.bars.values()} & {"danger"}

    # A restarted kernel: a new widget offers the saved session, and Edit goes to the review
    # without applying the fix.
    resumed = Wizard()
    assert resumed.resume_box.layout.display == "" and "sample:bert-classifier" in (
        resumed.resume_note.value
    )
    click(resumed, resumed.resume_button)
    assert resumed.view.step is Step.RECOVER and resumed.resume_box.layout.display == "none"
    click(resumed, resumed.edit_button)
    assert resumed.view.step is Step.REVIEW
    assert "--opset 13" in (resumed.state.facts.command or "")

    # A fix that needs consent (remote code, installs) is applied only after an explicit yes.
    diagnosis = thaw(wizard.state.facts.diagnosis)
    diagnosis["remedies"][0]["needs_consent"] = True
    session.save_session(machine.with_facts(wizard.state, diagnosis=diagnosis))
    asking = Wizard()
    click(asking, asking.resume_button)
    assert asking.consent.layout.display == "" and not asking.consent.value
    assert asking.apply_button.disabled
    asking.consent.value = True
    assert not asking.apply_button.disabled

    click(wizard, wizard.apply_button)
    assert wizard.view.step is Step.REVIEW and shown(wizard, Step.REVIEW)
    assert "--opset 14" in (wizard.state.facts.command or "")


@pytest.mark.slow
def test_cancel_stops_the_export_and_returns_to_review(tmp_path: Path, sample_bert: Path) -> None:
    output = tmp_path / "out"
    wizard = Wizard(model="sample:bert-classifier", output=str(output))
    walk_to(wizard, Step.REVIEW)
    wizard.next_button.click()
    until(lambda: any(e["event"] == "started" for e in wizard.run_pane.events))
    assert not wizard.cancel_button.disabled  # the engine handed over the running export
    wizard.cancel_button.click()
    wizard.wait(WAIT)
    assert wizard.view.step is Step.RUN and wizard.view.status == "cancelled"
    assert wizard.run_pane.overall.bar_style == "warning"
    assert not output.exists()
    click(wizard, wizard.next_button)
    assert wizard.view.step is Step.REVIEW


def test_answers_go_to_the_engine_and_errors_show_on_the_field(
    tmp_path: Path, sample_bert: Path
) -> None:
    wizard = Wizard(model="sample:bert-classifier", output=str(tmp_path / "out"))
    walk_to(wizard, Step.EXPORT_OPTIONS)
    opset = wizard.forms[Step.EXPORT_OPTIONS].controls["opset"]
    opset.widget.value = "fourteen"
    assert "must be a number" in opset.error.value
    assert opset.widget.value == "fourteen"  # the rejected entry stays next to its error
    wizard.next_button.click()
    wizard.wait(WAIT)
    assert wizard.view.step is Step.EXPORT_OPTIONS  # the engine refused to go on
    opset.widget.value = "17"
    assert opset.error.value == "" and wizard.state.answers["opset"] == 17

    optimize = wizard.forms[Step.EXPORT_OPTIONS].controls["optimize"].widget
    assert isinstance(optimize, widgets.Dropdown) and optimize.label.startswith("none")
    optimize.value = 2  # the index of the third choice: O2
    assert wizard.state.answers["optimize"] == "O2"

    click(wizard, wizard.next_button)
    presets = wizard.forms[Step.QUANTIZATION].controls["ort_presets"].widget
    assert isinstance(presets, widgets.SelectMultiple)
    presets.value = ("avx2", "arm64")
    assert set(wizard.state.answers["ort_presets"]) == {"avx2", "arm64"}
    click(wizard, wizard.back_button)
    assert wizard.view.step is Step.EXPORT_OPTIONS
    assert wizard.forms[Step.EXPORT_OPTIONS].controls["opset"].widget.value == "17"


def test_a_bad_model_shows_on_the_source_field(tmp_path: Path) -> None:
    wizard = Wizard(model=str(tmp_path / "missing"), output=str(tmp_path / "out"))
    click(wizard, wizard.next_button)
    assert wizard.view.step is Step.SOURCE
    assert "does not exist" in wizard.forms[Step.SOURCE].controls["source"].error.value.lower()


def test_an_exception_in_a_callback_is_shown_in_the_widget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wizard = Wizard(model="sample:bert-classifier", output=str(tmp_path / "out"))

    def broken(state: object, action: str) -> object:
        raise RuntimeError("the engine broke <b>here</b>")

    monkeypatch.setattr(engine, "act", broken)
    wizard.next_button.click()
    wizard.wait(WAIT)
    assert wizard.last_error is not None and "the engine broke" in wizard.last_error
    assert "the engine broke &lt;b&gt;here&lt;/b&gt;" in wizard.error_area.value
    assert "Traceback" in wizard.error_area.value
    assert wizard.view.step is Step.SOURCE and not wizard.busy
    assert not wizard.next_button.disabled  # the user can try again


def test_prefilled_answers_are_checked_by_the_engine() -> None:
    with pytest.raises(ValueError, match="Unknown answer"):
        Wizard(model="sample:bert-classifier", colour="blue")


def test_a_run_interrupted_by_a_kernel_restart_can_be_started_again(
    tmp_path: Path, sample_bert: Path
) -> None:
    # What a kernel that died mid-export leaves behind: a session saved on RUN, with no result.
    state = machine.start({"source": "sample:bert-classifier", "output": str(tmp_path / "out")})
    while state.step is not Step.REVIEW:
        state = engine.go_next(state)
    session.save_session(engine.act(state, "run"))

    wizard = Wizard()
    click(wizard, wizard.resume_button)
    assert wizard.view.step is Step.RUN and wizard.view.status == "running"
    assert wizard.next_button.description == "Start export" and not wizard.next_button.disabled
    assert wizard.cancel_button.disabled  # nothing runs yet, so there is nothing to cancel
