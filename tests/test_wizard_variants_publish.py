"""The wizard's quantization and publish steps, driven through the engine, the notebook widget
(clicks) and the terminal app (Pilot).

The tiny BERT classifier is exported for real, q8 and fp16 are made by the real quantizer after
it, and publishing goes to the recording fake Hub (``tests.fake_hub``) with HF_TOKEN set to a
recognisable fake: the token must reach the Hub's Authorization header and nothing else (no
output, log, staged file, session file, run-pane line or view).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from onnx_wizard.flow import engine, machine, publishing
from onnx_wizard.flow.steps import Step, WizardState
from onnx_wizard.flow.text import view_text
from tests.fake_hub import FakeHub
from tests.publish.support import TOKEN, make_home
from tests.publish.test_hub import assert_token_only_in_authorization

pytestmark = pytest.mark.slow
WAIT = 300.0
VARIANT_FILES = {"onnx/model.onnx", "onnx/model_quantized.onnx", "onnx/model_fp16.onnx"}


def settle(state: WizardState, events: list[dict[str, Any]] | None = None) -> WizardState:
    """Do the work each view names until none is left, as a face does."""
    while machine.view(state).work is not None:
        state = engine.work(state, on_event=events.append if events is not None else None)
    return state


def walk_to(state: WizardState, step: Step) -> WizardState:
    while state.step is not step:
        primary = machine.view(state).primary
        assert primary is not None and primary.enabled, machine.view(state)
        state = settle(engine.act(state, primary.name))
    return state


@pytest.fixture(scope="module")
def quantized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One engine walk: export the tiny BERT with q8 and fp16 chosen, to its results."""
    home = make_home(tmp_path_factory.mktemp("variants-home") / "home")
    output = tmp_path_factory.mktemp("variants") / "bert"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ONNX_WIZARD_HOME", str(home))
        state = machine.start({"source": "sample:bert-classifier", "output": str(output)})
        state = walk_to(settle(engine.act(state, "next")), Step.QUANTIZATION)
        view = machine.view(state)
        state = machine.answer(state, "js_dtypes", ["q8", "fp16"])
        review = walk_to(state, Step.REVIEW)
        events: list[dict[str, Any]] = []
        started = time.monotonic()
        done = settle(engine.act(review, "run"), events)
        yield {
            "quantization_view": view,
            "review": machine.view(review),
            "state": done,
            "events": events,
            "seconds": time.monotonic() - started,
            "output": output,
            "home": home,
        }


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """The fake Hub behind huggingface_hub in this process, with HF_TOKEN set to the fake."""
    import huggingface_hub.constants as constants
    from huggingface_hub.utils import reset_sessions

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with FakeHub(TOKEN) as fake:
        monkeypatch.setattr(constants, "ENDPOINT", fake.url)
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        reset_sessions()  # a session made while offline would refuse every request
        yield fake
    reset_sessions()


def assert_no_token_in(*folders: Path, texts: tuple[str, ...] = ()) -> None:
    for text in texts:
        assert TOKEN not in text
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                assert TOKEN.encode() not in path.read_bytes(), path


def sent_files(hub: FakeHub, repo_id: str) -> set[str]:
    return set(hub.repos[repo_id].files) - {".gitattributes"}


def test_quantization_step_review_and_results_through_the_engine(
    quantized: dict[str, Any],
) -> None:
    view = quantized["quantization_view"]
    assert {"q8", "fp16", "q4f16"} <= {v for v, _ in view.field("js_dtypes").choices}
    labels = dict(view.field("ort_presets").choices)
    assert {"tensorrt", "cpu-qdq"} <= set(labels)
    assert sum("this CPU" in label for label in labels.values()) == 1
    assert "avx" in str(view.field("cpu_preset").value) or "arm" in str(
        view.field("cpu_preset").value
    )
    guide = {row[0]: row[1] for row in view.table("recommendations").rows}
    assert guide["WASM (CPU fallback)"] == "q8" and "q4f16" in guide["WebGPU (desktop)"]
    review = quantized["review"]
    assert review.field("plan_quantization").value == "fp16, q8"
    assert "onnx-wizard quantize" in review.field("quantize_command").value
    assert "--targets fp16,q8" in review.field("quantize_command").value

    state: WizardState = quantized["state"]
    assert state.step is Step.VALIDATE and machine.view(state).status == "success"
    output: Path = quantized["output"]
    assert (output / "model_quantized.onnx").is_file() and (output / "model_fp16.onnx").is_file()
    rows = {row[2]: row for row in machine.view(state).table("files").rows}
    assert set(rows) == {"fp32", "q8", "fp16"}
    assert rows["q8"][0] == "model_quantized.onnx" and rows["q8"][-1] == "passed"
    assert float(rows["q8"][3]) < 1.0 and rows["q8"][4].startswith("top1_agreement")
    assert rows["fp16"][5].endswith("ms")
    lines = [e["line"] for e in quantized["events"] if e.get("event") == "log"]
    assert sum(line.startswith(("[1/2]", "[2/2]")) for line in lines) == 2
    assert "config.json's transformers.js_config loads dtype q8" in machine.view(state).outcome


def test_publish_from_the_engine_asks_then_sends_the_variants_and_never_the_token(
    quantized: dict[str, Any], hub: FakeHub, wizard_home: Path
) -> None:
    state = machine.answer(quantized["state"], "publish", True)
    state = settle(engine.act(state, "next"))
    view = machine.view(state)
    assert state.step is Step.PUBLISH and view.action_names == ("back", "stage")
    assert "HF_TOKEN" in str(view.field("token_source").value)
    with pytest.raises(KeyError):
        view.field("token")  # a token is known: no field for one
    state = machine.answer(state, "repo_id", "me/tiny-bert-ONNX")
    staged = settle(engine.act(state, "stage"))
    view = machine.view(staged)
    tree = {row[0] for row in view.table("staged").rows}
    assert tree >= VARIANT_FILES and "README.md" in tree
    assert "library_name: transformers.js" in view.field("card").value
    assert "(private)" in view.field("staged_repo").value
    upload = view.action("upload")
    assert upload is not None and upload.consent.startswith(f"Yes, upload {len(tree)} files (")
    assert upload.consent.endswith("to me/tiny-bert-ONNX as private.")
    with pytest.raises(engine.ActionRefused, match="explicit yes"):
        engine.act(staged, "upload")
    assert not hub.repos  # refused: nothing was sent
    events: list[dict[str, Any]] = []
    done = settle(engine.act(staged, "upload", yes=True), events)
    assert done.step is Step.DONE and machine.view(done).status == "success"
    assert sent_files(hub, "me/tiny-bert-ONNX") == tree
    assert f"{hub.url}/me/tiny-bert-ONNX" in machine.view(done).field("repo_url").value
    assert "'me/tiny-bert-ONNX', { dtype: 'q8' }" in machine.view(done).field("load_js").value
    lines = [e["line"] for e in events if e.get("event") == "log"]
    assert any("uploaded: onnx/model_quantized.onnx" in line for line in lines)
    from onnx_wizard.flow.session import list_sessions, save_session

    uploading = publishing.with_publish(staged, status="uploading")
    assert machine.view(uploading).work == "upload"
    save_session(uploading)  # as if the wizard had been closed during the upload
    offer = list_sessions()[0]  # (an exported session is listed, never offered by itself)
    assert offer.state == uploading
    resumed = engine.resume(offer)
    assert machine.view(resumed).work is None and resumed.facts.publish["status"] == "staged"
    saved = save_session(done)
    assert_token_only_in_authorization(hub)
    output: Path = quantized["output"]
    assert_no_token_in(
        output,
        output.parent,  # the staged folder beside it
        quantized["home"],
        wizard_home,
        saved.parent,
        texts=(view_text(machine.view(done)), repr(done), *lines),
    )


def test_a_typed_token_is_never_an_answer_and_a_refused_one_says_why(
    quantized: dict[str, Any], hub: FakeHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import huggingface_hub.constants as constants
    from huggingface_hub import hf_api

    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "stored_tokens"))
    monkeypatch.setattr(hf_api.api, "endpoint", hub.url)  # whoami's module-level client
    state = machine.answer(quantized["state"], "publish", True)
    state = machine.answer(settle(engine.act(state, "next")), "repo_id", "me/typed")
    assert machine.view(state).field("token").kind == "secret"
    with pytest.raises(ValueError):
        machine.answer(state, "token", TOKEN)
    wrong = "hf_" + "w" * 34
    refused = engine.act(state, "stage", secrets={"token": wrong})
    error = machine.view(refused).field("token").error or ""
    assert "401" in error or "refused" in error.lower() or "invalid" in error.lower(), error
    assert wrong not in error and refused.step is Step.PUBLISH
    accepted = settle(engine.act(state, "stage", secrets={"token": TOKEN}))
    view = machine.view(accepted)
    assert "saved Hugging Face login" in str(view.field("token_source").value)
    assert (tmp_path / "token").read_text().strip() == TOKEN  # huggingface_hub's own store
    from onnx_wizard.flow.session import save_session

    saved = save_session(accepted)
    assert TOKEN not in repr(accepted) and TOKEN.encode() not in saved.read_bytes()


def test_the_notebook_clicks_through_variants_and_publish(
    tmp_path: Path, sample_bert: Path, hub: FakeHub, wizard_home: Path
) -> None:
    from onnx_wizard.widgets.notebook import Wizard

    output = tmp_path / "nb"
    wizard = Wizard(model="sample:bert-classifier", output=str(output), offer_resume=False)

    def click(name: str, yes: bool = False) -> None:
        wizard.click(name, yes=yes)
        wizard.wait(WAIT)
        assert wizard.last_error is None, wizard.last_error

    while wizard.view.step is not Step.QUANTIZATION:
        click("next")
    assert "Which dtype for which runtime" in wizard.tables.value
    wizard.forms[Step.QUANTIZATION].controls["js_dtypes"].widget.value = ("q8", "fp16")
    click("next")
    click("run")
    assert wizard.view.step is Step.VALIDATE, view_text(wizard.view)
    assert (
        "model_quantized.onnx" in wizard.tables.value and "model_fp16.onnx" in wizard.tables.value
    )
    assert "onnx-wizard-variants" in wizard.tables.value  # size against accuracy
    assert "q8: passed" in wizard.run_pane.log_text and "fp16: passed" in wizard.run_pane.log_text

    wizard.forms[Step.VALIDATE].controls["publish"].widget.value = True
    click("next")
    wizard.forms[Step.PUBLISH].controls["repo_id"].widget.value = "me/nb-ONNX"
    wizard.forms[Step.PUBLISH].controls["private"].widget.value = False
    click("stage")
    assert "Staged files" in wizard.tables.value and "onnx/model_fp16.onnx" in wizard.tables.value
    assert wizard.button("upload").disabled  # the consent box is not ticked
    assert "as public" in wizard.consent.description
    click("upload", yes=True)
    assert wizard.view.step is Step.DONE, view_text(wizard.view)
    assert sent_files(hub, "me/nb-ONNX") >= VARIANT_FILES
    assert not hub.repos["me/nb-ONNX"].private
    assert "uploaded: onnx/model.onnx" in wizard.run_pane.log_text
    assert f"{hub.url}/me/nb-ONNX" in view_text(wizard.view)
    assert_token_only_in_authorization(hub)
    assert_no_token_in(tmp_path, wizard_home, texts=(wizard.run_pane.log_text, wizard.tables.value))


def test_the_terminal_app_stages_and_uploads_with_progress_per_file(
    quantized: dict[str, Any], hub: FakeHub, wizard_home: Path
) -> None:
    from textual.widgets import Checkbox, Input

    from onnx_wizard.widgets.tui.app import WizardApp

    state = machine.answer(quantized["state"], "publish", True)
    state = settle(engine.act(state, "next"))
    assert state.step is Step.PUBLISH

    async def settled(app: Any, pilot: Any) -> None:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            await pilot.pause(0.05)
            if app.settled and machine.view(app.state).work is None:
                return
        raise AssertionError(f"the app never settled on {app.state.step}")

    async def walk() -> tuple[WizardState, list[str]]:
        app = WizardApp(state=state)
        async with app.run_test(size=(120, 50)) as pilot:
            await settled(app, pilot)
            app.query_one("#field-repo_id", Input).value = "me/tui-ONNX"
            await pilot.pause()
            await pilot.click("#act-stage")
            await settled(app, pilot)
            assert app.state.facts.publish["status"] == "staged"
            assert app.query_one("#act-upload").disabled  # no yes yet
            app.query_one("#consent", Checkbox).value = True
            await pilot.pause()
            await pilot.click("#act-upload")
            await settled(app, pilot)
            final, lines = app.state, app.run_log_lines()
            await pilot.press("ctrl+q")
        return final, lines

    final, lines = asyncio.run(walk())
    assert final.step is Step.DONE, view_text(machine.view(final))
    assert sent_files(hub, "me/tui-ONNX") >= VARIANT_FILES
    assert any("uploaded: onnx/model_fp16.onnx" in line for line in lines), lines
    assert_token_only_in_authorization(hub)
    assert_no_token_in(wizard_home, texts=tuple(lines))


def at_quantize(quantized: dict[str, Any]) -> WizardState:
    """The shared run just after its export passed, its variants not made yet."""
    done: WizardState = quantized["state"]
    history = done.history[: done.history.index(Step.RUN)]
    return WizardState(Step.RUN, done.answers, replace(done.facts, quantization=None), history)


def test_the_terminal_app_makes_the_variants_with_a_line_each(quantized: dict[str, Any]) -> None:
    from onnx_wizard.widgets.tui.app import WizardApp

    async def run() -> tuple[WizardState, list[str], bool]:
        app = WizardApp(state=at_quantize(quantized))
        async with app.run_test(size=(120, 50)) as pilot:
            deadline, cancellable = time.monotonic() + WAIT, False
            while time.monotonic() < deadline:
                await pilot.pause(0.05)
                cancellable = cancellable or bool(app.exporting and app.query("#act-cancel"))
                if app.settled and machine.view(app.state).work is None:
                    break
            final, lines = app.state, app.run_log_lines()
            await pilot.press("ctrl+q")
        return final, lines, cancellable

    final, lines, cancellable = asyncio.run(run())
    assert cancellable  # Cancel was offered while the variants were made
    assert final.step is Step.VALIDATE and final.facts.quantization["status"] == "ok"
    assert any(line.startswith("$ onnx-wizard quantize") for line in lines), lines
    assert sum(": passed, " in line for line in lines) == 2, lines


def test_cancel_stops_the_variants_and_the_results_say_so(quantized: dict[str, Any]) -> None:
    # Last in this file: a cancelled run rewrites quantization.json in the shared export.
    import threading

    at_run = at_quantize(quantized)
    assert machine.view(at_run).work == "quantize" and machine.view(at_run).offers("cancel")
    control = engine.RunControl()

    def on_event(event: dict[str, Any]) -> None:
        if event.get("event") == "started":  # the face's Cancel, pressed from its own thread
            threading.Thread(target=control.cancel).start()

    started = time.monotonic()
    stopped = engine.work(at_run, control=control, on_event=on_event)
    assert time.monotonic() - started < 30
    assert stopped.step is Step.VALIDATE and stopped.facts.quantization["status"] == "cancelled"
    assert "cancelled" in machine.view(stopped).outcome


def test_a_static_preset_asks_for_calibration_and_checks_the_file_on_next(
    tmp_path: Path,
) -> None:
    from tests.test_machine import at

    state = machine.answer(at(Step.QUANTIZATION), "ort_presets", ["cpu-qdq"])
    assert machine.view(state).field("calibration").kind == "path"
    samples = tmp_path / "samples.csv"
    samples.write_text("id,sentence\n1,The weather is nice today.\n2,I like green tea.\n")
    state = machine.answer(state, "calibration", str(samples))
    refused = engine.act(state, "next")
    assert refused.step is Step.QUANTIZATION
    error = machine.view(refused).field("calibration_column").error or ""
    assert "sentence" in error and "Column field" in error  # it names the columns there are
    state = machine.answer(refused, "calibration_column", "sentence")
    review = engine.act(state, "next")
    assert review.step is Step.REVIEW, machine.view(review).error
    line = machine.view(review).field("quantize_command").value
    assert f"--calibration {samples}" in line and "--column sentence" in line
