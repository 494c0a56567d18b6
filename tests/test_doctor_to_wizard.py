"""From the doctor to the wizard: a diagnosis's fix taken into the wizard, landing on REVIEW with
the plan changed; the same in the engine, the terminal app and the notebook; tokens masked."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from onnx_wizard.cli.doctor import run_doctor
from onnx_wizard.flow import doctoring, engine, machine
from onnx_wizard.flow.steps import Step, WizardState

HELDOUT = Path(__file__).parent / "corpus" / "heldout.jsonl"
TOKEN = "hf_" + "Zq7" * 12  # shaped like a real Hugging Face token

UNKNOWN_LOG = (
    "Traceback (most recent call last):\n"
    '  File "/env/lib/python3.11/site-packages/torch/nn/modules/module.py", line 1, in f\n'
    "ZorgError: the zorg flux broke\n"
)


def corpus_opset_log(sample: Path) -> str:
    """A real corpus log (optimum's opset-11 failure reproduced with the bert sample), preceded
    by the command that produced it, as a user pastes it; the model path is this run's sample."""
    for line in HELDOUT.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        source = str(record["source"])
        if (
            record["entry"] == "OW-OPSET-001"
            and source.startswith("reproduced here")
            and "bert-classifier" in source
            and "--opset 11 " in source
        ):
            command = source.split(": ", 1)[1]
            command = re.sub(r"--model \S+", f"--model {sample}", command)
            return f"$ {command}\n{record['log']}"
    raise AssertionError("the corpus has no reproduced opset-11 log of the bert sample")


def named_opset(log: str) -> int:
    """The opset the failure message itself asks for (the doctor's fix must use it)."""
    return int(re.findall(r"added in version (\d+)", log)[-1])


def taken_rows(state: WizardState) -> dict[str, tuple[str, str]]:
    (table,) = [t for t in machine.view(state).tables if t.name == "taken"]
    return {row[0]: (row[1], row[2]) for row in table.rows}


def test_a_corpus_log_starts_a_wizard_on_review_with_its_opset_fixed(
    sample_bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the log's output folder is relative
    log = corpus_opset_log(sample_bert)
    wanted = named_opset(log)
    offer = doctoring.fix_offer(None, log)
    assert offer.action.enabled and not offer.action.consent
    assert f"opset 11 → {wanted}" in offer.summary

    state = doctoring.take_fix(None, log)

    assert state.step is Step.REVIEW and not machine.view(state).error
    assert state.answers["source"] == str(sample_bert)
    assert state.answers["task"] == "text-classification"
    assert engine.current_plan(state).opset == wanted
    assert taken_rows(state) == {"opset": ("11", str(wanted))}
    command = str(state.facts.command)
    assert f"--opset {wanted}" in command and "--opset 11" not in command
    model = re.findall(r"--model (\S+)", command)[0]
    assert Path(model).resolve() == sample_bert.resolve()  # the log's model, its own path
    assert "--task text-classification" in command
    assert machine.view(state).offers("run")  # ready to run
    # Back goes through the steps the new wizard walked, with the fixed answer on its step.
    options = engine.back_to(state, Step.EXPORT_OPTIONS)
    assert machine.view(options).field("opset").value == wanted


def test_the_open_wizard_for_the_same_model_takes_the_fix(
    sample_bert: Path, tmp_path: Path
) -> None:
    output = str(tmp_path / "out")
    state = machine.start({"source": str(sample_bert), "output": output, "opset": 11})
    for _ in range(10):
        if state.step is Step.REVIEW:
            break
        if machine.view(state).work:
            state = engine.work(state)
        state = engine.act(state, "next")
    assert state.step is Step.REVIEW
    quantized = engine.back_to(state, Step.QUANTIZATION)  # the user is a step before REVIEW

    # The log of this wizard's own failure, without its command: the open wizard is changed.
    log = corpus_opset_log(sample_bert).split("\n", 1)[1]
    taken = doctoring.take_fix(quantized, log)

    assert taken.step is Step.REVIEW
    assert taken.answers["output"] == output  # the same wizard, its answers kept
    assert engine.current_plan(taken).opset == named_opset(log)
    assert taken_rows(taken) == {"opset": ("11", str(named_opset(log)))}


def test_nothing_to_take_says_why_and_changes_nothing() -> None:
    offer = doctoring.fix_offer(None, UNKNOWN_LOG)
    assert not offer.action.enabled and "no known failure" in offer.action.reason
    with pytest.raises(engine.ActionRefused, match="no known failure"):
        doctoring.take_fix(None, UNKNOWN_LOG)
    # A known failure but no command and no wizard: no plan to change, and it says so.
    no_command = (
        "torch.onnx.errors.UnsupportedOperatorError: Exporting the operator "
        "'aten::scaled_dot_product_attention' to ONNX opset version 11 is not supported. "
        "Support for this operator was added in version 14, try exporting with this version.\n"
    )
    offer = doctoring.fix_offer(None, no_command)
    assert not offer.action.enabled and "no plan to change" in offer.action.reason


def test_a_fix_that_runs_remote_code_needs_the_yes() -> None:
    log = (
        "$ optimum-cli export onnx --model ./custom-model out\n"
        "ValueError: The repository ./custom-model contains custom code which must be executed "
        "to correctly load the model.\n"
        "Please pass the argument `trust_remote_code=True` to allow custom code to be run.\n"
    )
    offer = doctoring.fix_offer(None, log)
    assert offer.action.enabled and "trust_remote_code" in offer.action.consent
    with pytest.raises(engine.ActionRefused, match="explicit yes"):
        doctoring.take_fix(None, log)


def test_the_doctor_never_shows_a_pasted_token(sample_bert: Path) -> None:
    log = corpus_opset_log(sample_bert)
    first, rest = log.split("\n", 1)
    pasted = f"HF_TOKEN={TOKEN} {first.removeprefix('$ ')} --token {TOKEN}\n{rest}"
    pasted += f"\nrequests: Authorization: Bearer {TOKEN}\n"
    for text in (pasted, UNKNOWN_LOG + f"ZorgError: token {TOKEN} refused\n"):
        result = run_doctor(text)
        assert TOKEN not in json.dumps(result)
        assert TOKEN not in doctoring.fix_offer(None, text, result).summary


# ---- the terminal app ---------------------------------------------------------------------------


def test_terminal_doctor_button_takes_the_fix_to_review(
    sample_bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from textual.widgets import Button, Static, TextArea

    from onnx_wizard.widgets.tui.app import WizardApp
    from onnx_wizard.widgets.tui.doctor import DoctorScreen
    from tests.test_tui_support import pilot_test, wait_until

    monkeypatch.chdir(tmp_path)
    log = corpus_opset_log(sample_bert)
    wanted = named_opset(log)
    first, rest = log.split("\n", 1)
    pasted = f"{first}\nrequests: Authorization: Bearer {TOKEN}\n{rest}"

    @pilot_test
    async def scenario() -> None:
        app = WizardApp(machine.start({}), offer_resume=False)
        async with app.run_test(size=(110, 44)) as pilot:
            await pilot.press("ctrl+o")
            await pilot.pause()
            doctor = app.screen
            assert isinstance(doctor, DoctorScreen)
            doctor.query_one(TextArea).text = pasted
            await pilot.press("ctrl+r")
            await wait_until(pilot, lambda: bool(doctor.query("#doctor-take")), 20, "the button")
            shown = " ".join(str(w.render()) for w in doctor.query("#doctor-results Static"))
            assert TOKEN not in shown and "OW-OPSET-001" in shown
            button = doctor.query_one("#doctor-take", Button)
            assert not button.disabled
            assert f"11 → {wanted}" in str(doctor.query_one("#doctor-take-note", Static).render())
            button.press()
            await wait_until(
                pilot,
                lambda: app.state.step is Step.REVIEW and app.screen is not doctor and app.settled,
                60,
                "the wizard on REVIEW",
            )
            assert engine.current_plan(app.state).opset == wanted
            drawn = " ".join(str(w.render()) for w in app.screen.query("#form Static"))
            assert f"--opset {wanted}" in drawn  # the changed command, drawn
            table = app.screen.query_one("#table-taken").table  # type: ignore[attr-defined]
            assert table.title == "What the doctor's fix changed"
            assert ("opset", "11", str(wanted)) in table.rows

    scenario()


def test_terminal_doctor_button_is_disabled_with_the_reason() -> None:
    from textual.widgets import Button, Static, TextArea

    from onnx_wizard.widgets.tui.app import WizardApp
    from tests.test_tui_support import pilot_test, wait_until

    @pilot_test
    async def scenario() -> None:
        app = WizardApp(machine.start({}), offer_resume=False)
        async with app.run_test(size=(110, 44)) as pilot:
            await pilot.press("ctrl+o")
            await pilot.pause()
            doctor = app.screen
            doctor.query_one(TextArea).text = UNKNOWN_LOG
            await pilot.press("ctrl+r")
            await wait_until(pilot, lambda: bool(doctor.query("#doctor-take")), 20, "the button")
            assert doctor.query_one("#doctor-take", Button).disabled
            note = str(doctor.query_one("#doctor-take-note", Static).render())
            assert "no known failure" in note

    scenario()


# ---- the notebook -------------------------------------------------------------------------------


def test_notebook_doctor_button_opens_the_wizard_on_review(
    sample_bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from IPython.core.interactiveshell import InteractiveShell
    from ipywidgets.widgets.widget import _instances

    from onnx_wizard.widgets.notebook import Wizard
    from onnx_wizard.widgets.notebook.doctor import DoctorPanel
    from tests.test_notebook_magics import WIDGET_VIEW, CapturingPublisher

    monkeypatch.chdir(tmp_path)
    log = corpus_opset_log(sample_bert)
    wanted = named_opset(log)
    shell = InteractiveShell.instance()
    monkeypatch.setattr(shell, "display_pub", CapturingPublisher(shell))
    shell.run_line_magic("load_ext", "onnx_wizard")
    try:
        shell.run_cell_magic("onnx_wizard", "doctor", f"{log}\nAuthorization: Bearer {TOKEN}\n")
        (bundle,) = shell.display_pub.outputs  # type: ignore[attr-defined]
    finally:
        shell.extension_manager.unload_extension("onnx_wizard")
    panel: Any = _instances[bundle[WIDGET_VIEW]["model_id"]]
    assert isinstance(panel, DoctorPanel)
    assert TOKEN not in bundle["text/html"] and TOKEN not in panel.report.value
    assert "OW-OPSET-001" in bundle["text/html"]
    assert not panel.take_button.disabled

    panel.take_button.click()

    wizard = panel.wizard
    assert isinstance(wizard, Wizard) and wizard in panel.children
    assert wizard.view.step is Step.REVIEW and not panel.error_area.value
    assert engine.current_plan(wizard.state).opset == wanted
    assert "fix changed" in wizard.tables.value and f">{wanted}<" in wizard.tables.value
    assert "run" in wizard.buttons


def test_notebook_doctor_button_is_disabled_with_the_reason() -> None:
    from onnx_wizard.widgets.notebook.doctor import DoctorPanel

    panel = DoctorPanel(UNKNOWN_LOG, run_doctor(UNKNOWN_LOG))
    assert panel.take_button.disabled and "no known failure" in panel.note.value
    assert panel.take() is None and "no known failure" in panel.error_area.value
