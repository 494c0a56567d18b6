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


def click(wizard: Wizard, action: str) -> None:
    button = wizard.button(action)
    assert not button.disabled, f"{button.description} is disabled on {wizard.view.step.value}"
    button.click()
    wizard.wait(WAIT)
    assert wizard.last_error is None, wizard.last_error


def forward(wizard: Wizard) -> None:
    primary = wizard.view.primary
    assert primary is not None, wizard.view.step
    click(wizard, primary.name)


def walk_to(wizard: Wizard, step: Step) -> None:
    for _ in range(12):
        if wizard.view.step is step:
            return
        forward(wizard)
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
    assert "back" not in wizard.buttons and not wizard.button("next").disabled
    assert wizard.button("next").button_style == "primary"
    assert "Step 1 of" in wizard.header.value

    click(wizard, "next")
    assert wizard.state.step is Step.PREREQUISITES and shown(wizard, Step.PREREQUISITES)
    assert "python" in wizard.forms[Step.PREREQUISITES].info.value
    assert not wizard.button("back").disabled

    walk_to(wizard, Step.TASK)
    task = wizard.forms[Step.TASK].controls["task"].widget
    assert isinstance(task, widgets.Dropdown) and task.label.endswith("(text-classification)")

    walk_to(wizard, Step.REVIEW)
    assert wizard.button("run").description == "Run export ›"
    assert "optimum-cli export onnx" in wizard.forms[Step.REVIEW].info.value

    started = time.monotonic()
    wizard.button("run").click()  # returns at once: the export runs in a worker thread
    assert time.monotonic() - started < 2.0
    assert wizard.busy
    until(lambda: "cancel" in wizard.buttons)  # drawn from the RUN view
    until(lambda: not wizard.button("cancel").disabled or not wizard.busy)
    wizard.wait(WAIT)
    assert wizard.last_error is None, wizard.last_error
    # A passed run goes straight to its results: no extra click, no stale "running" line.
    view = wizard.view
    assert view.step is Step.VALIDATE and view.status == "success" and shown(wizard, Step.VALIDATE)
    assert wizard.state.facts.run is not None and wizard.state.facts.run["status"] == "ok"
    assert {bar.bar_style for bar in wizard.run_pane.bars.values()} == {"success"}
    stages = [e["stage"] for e in wizard.run_pane.events if e["event"] == "stage"]
    assert stages[:1] == ["load"] and "validate" in stages
    assert "Post-processing" in wizard.run_pane.log_text
    assert "model.onnx" in wizard.tables.value and "passed" in wizard.tables.value
    assert "Checks against PyTorch" in wizard.tables.value
    assert "cancel" not in wizard.buttons

    wizard.forms[Step.VALIDATE].controls["publish"].widget.value = True
    click(wizard, "next")
    assert wizard.view.step is Step.PUBLISH and shown(wizard, Step.PUBLISH)
    repo = wizard.forms[Step.PUBLISH].controls["repo_id"]
    assert isinstance(wizard.forms[Step.PUBLISH].controls["private"].widget, widgets.Checkbox)
    repo.widget.value = "not a repo"
    assert "owner/name" in repo.error.value
    repo.widget.value = "me/bert-onnx"
    assert wizard.state.answers["repo_id"] == "me/bert-onnx"
    assert wizard.button("stage").description == "Prepare files ›"
    click(wizard, "stage")  # local only: the layout and the card, nothing sent
    assert "Staged files" in wizard.tables.value and "onnx/model.onnx" in wizard.tables.value
    assert "library_name: transformers.js" in wizard.forms[Step.PUBLISH].info.value
    assert wizard.button("finish").description == "Finish without uploading"
    click(wizard, "finish")
    assert wizard.view.step is Step.DONE and shown(wizard, Step.DONE)
    staged = output.parent / ".bert-onnx.onnx-wizard-publish"
    assert (staged / "onnx" / "model.onnx").is_file() and str(staged) in wizard.outcome.value
    assert "model.onnx" in wizard.tables.value and "<svg" in wizard.tables.value
    assert list(wizard.buttons) == ["close"]
    assert "ORTModelForSequenceClassification" in wizard.forms[Step.DONE].info.value
    assert (output / "model.onnx").is_file()
    result = wizard.result
    assert result is not None and result.passed and result.output == output
    assert wizard.session_path is not None and wizard.session_path.is_file()
    assert session.find_resumable(output=str(output)) is None  # a finished session: no offer


@pytest.mark.slow
def test_a_failed_export_shows_the_fix_as_a_plan_diff(tmp_path: Path, sample_bert: Path) -> None:
    output = tmp_path / "out"
    wizard = Wizard(model="sample:bert-classifier", output=str(output), opset=13)
    state = wizard.run_to_end()
    assert state.step is Step.RECOVER and shown(wizard, Step.RECOVER)
    assert not output.exists()
    assert "An operator needs a newer ONNX opset" in wizard.forms[Step.RECOVER].info.value
    assert "<td>opset</td>" in wizard.tables.value and "<td>14</td>" in wizard.tables.value
    assert wizard.consent.layout.display == "none"  # changing the opset needs no consent
    assert list(wizard.buttons) == ["back", "apply", "edit", "stop"]
    assert not wizard.button("apply").disabled and not wizard.button("stop").disabled
    assert wizard.button("stop").button_style == "danger"
    assert "UnsupportedOperatorError" in wizard.run_pane.log_text
    assert {b.bar_style for b in wizard.run_pane.bars.values()} & {"danger"}
    assert wizard.result is None

    # A restarted kernel: a new widget for the same output offers the saved session (another
    # model's wizard does not), and Edit plan goes to the options without applying the fix.
    assert Wizard(model="sample:gpt2", output=str(tmp_path / "other")).resume_box.layout.display
    resumed = Wizard(model="sample:bert-classifier", output=str(output))
    assert resumed.resume_box.layout.display == "" and "sample:bert-classifier" in (
        resumed.resume_note.value
    )
    resumed.resume_button.click()
    resumed.wait(WAIT)
    assert resumed.view.step is Step.RECOVER and resumed.resume_box.layout.display == "none"
    click(resumed, "edit")
    assert resumed.view.step is Step.EXPORT_OPTIONS
    assert resumed.state.answers["opset"] == 13

    # A fix that needs consent (remote code, installs) is applied only after an explicit yes.
    diagnosis = thaw(wizard.state.facts.diagnosis)
    diagnosis["remedies"][0]["needs_consent"] = True
    session.save_session(machine.with_facts(wizard.state, diagnosis=diagnosis))
    asking = Wizard(model="sample:bert-classifier", output=str(output))
    asking.resume_button.click()
    asking.wait(WAIT)
    assert asking.consent.layout.display == "" and not asking.consent.value
    assert "Yes, apply this change" in asking.consent.description
    assert asking.button("apply").disabled
    asking.consent.value = True
    assert not asking.button("apply").disabled

    click(wizard, "apply")  # apply and retry: the fixed plan runs at once and passes
    assert wizard.view.step is Step.VALIDATE and wizard.view.status == "success"
    assert "--opset 14" in (wizard.state.facts.command or "")
    assert wizard.result is not None


@pytest.mark.slow
def test_cancel_stops_the_export_and_offers_to_run_again(tmp_path: Path, sample_bert: Path) -> None:
    output = tmp_path / "out"
    wizard = Wizard(model="sample:bert-classifier", output=str(output))
    walk_to(wizard, Step.REVIEW)
    wizard.button("run").click()
    until(lambda: any(e["event"] == "started" for e in wizard.run_pane.events))
    until(lambda: "cancel" in wizard.buttons and not wizard.button("cancel").disabled)
    wizard.button("cancel").click()
    wizard.wait(WAIT)
    assert wizard.view.step is Step.RUN and wizard.view.status == "cancelled"
    assert "Cancelled" in wizard.outcome.value
    assert "running" not in wizard.header.value.lower().split("status:")[-1]
    assert wizard.run_pane.overall.bar_style == "warning"
    assert not output.exists()
    assert list(wizard.buttons) == ["back", "run"]
    click(wizard, "back")
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
    wizard.button("next").click()
    wizard.wait(WAIT)
    assert wizard.view.step is Step.EXPORT_OPTIONS  # the engine refused to go on
    opset.widget.value = "17"
    assert opset.error.value == "" and wizard.state.answers["opset"] == 17

    optimize = wizard.forms[Step.EXPORT_OPTIONS].controls["optimize"].widget
    assert isinstance(optimize, widgets.Dropdown) and optimize.label.startswith("none")
    optimize.value = 2  # the index of the third choice: O2
    assert wizard.state.answers["optimize"] == "O2"

    click(wizard, "next")
    presets = wizard.forms[Step.QUANTIZATION].controls["ort_presets"].widget
    assert isinstance(presets, widgets.SelectMultiple)
    presets.value = ("avx2", "arm64")
    assert set(wizard.state.answers["ort_presets"]) == {"avx2", "arm64"}
    click(wizard, "back")
    assert wizard.view.step is Step.EXPORT_OPTIONS
    assert wizard.forms[Step.EXPORT_OPTIONS].controls["opset"].widget.value == "17"


def test_a_bad_model_shows_on_the_source_field(tmp_path: Path) -> None:
    wizard = Wizard(model=str(tmp_path / "missing"), output=str(tmp_path / "out"))
    click(wizard, "next")
    assert wizard.view.step is Step.SOURCE
    assert "does not exist" in wizard.forms[Step.SOURCE].controls["source"].error.value.lower()


def test_an_exception_in_a_callback_is_shown_in_the_widget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wizard = Wizard(model="sample:bert-classifier", output=str(tmp_path / "out"))

    def broken(state: object, action: str, **options: object) -> object:
        raise RuntimeError("the engine broke <b>here</b>")

    monkeypatch.setattr(engine, "act", broken)
    wizard.button("next").click()
    wizard.wait(WAIT)
    assert wizard.last_error is not None and "the engine broke" in wizard.last_error
    assert "the engine broke &lt;b&gt;here&lt;/b&gt;" in wizard.error_area.value
    assert "Traceback" in wizard.error_area.value
    assert wizard.view.step is Step.SOURCE and not wizard.busy
    assert not wizard.button("next").disabled  # the user can try again


def test_prefilled_answers_are_checked_by_the_engine() -> None:
    with pytest.raises(ValueError, match="Unknown answer"):
        Wizard(model="sample:bert-classifier", colour="blue")


def test_a_run_interrupted_by_a_kernel_restart_resumes_at_the_review(
    tmp_path: Path, sample_bert: Path
) -> None:
    # What a kernel that died mid-export leaves behind: a session saved on RUN, with no result.
    output = tmp_path / "out"
    state = machine.start({"source": "sample:bert-classifier", "output": str(output)})
    while state.step is not Step.REVIEW:
        state = engine.go_next(state)
    session.save_session(engine.act(state, "run"))

    wizard = Wizard(model="sample:bert-classifier", output=str(output))
    wizard.resume_button.click()
    wizard.wait(WAIT)
    # Resuming never starts an export by itself: the review, with Run export ready.
    assert wizard.view.step is Step.REVIEW and not wizard.busy
    assert not wizard.button("run").disabled and "cancel" not in wizard.buttons


def test_resume_is_not_offered_once_the_user_started(tmp_path: Path) -> None:
    output = tmp_path / "out"
    state = machine.start({"source": "sample:bert-classifier", "output": str(output)})
    session.save_session(state)
    wizard = Wizard(model="sample:bert-classifier", output=str(output))
    assert wizard.resume_box.layout.display == ""
    wizard.forms[Step.SOURCE].controls["source"].widget.value = "sample:gpt2"
    assert wizard.resume_box.layout.display == "none"  # never replaces what the user types
    assert wizard.state.answers["source"] == "sample:gpt2"


def test_the_static_copy_tells_the_step_without_widgets(tmp_path: Path) -> None:
    wizard = Wizard(model="sample:bert-classifier", output=str(tmp_path / "out"))
    bundle = wizard._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "step 1 of" in bundle["text/plain"] and "sample:bert-classifier" in bundle["text/plain"]
    assert "Welcome: which model?" in bundle["text/html"]
