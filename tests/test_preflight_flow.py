"""Pre-flight in the wizard: a folder without weights and a model too big for this machine are
stopped on the model and review steps (engine, notebook widget, Textual app) with the reason;
Run starts only after the go-anyway yes. Also: an output that is the model folder is refused on
the source step, and the outcome words for a run that was not validated."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from onnx_wizard.flow import engine, machine, results
from onnx_wizard.flow.steps import Facts, Step, WizardState
from tests.test_preflight import folder_with, huge_safetensors


def no_weights(tmp_path: Path) -> Path:
    return folder_with(tmp_path)  # config.json only


def too_big(tmp_path: Path) -> Path:
    folder = folder_with(tmp_path)
    huge_safetensors(folder / "model.safetensors", 40 * 10**9)  # 160 GB of fp32 weights
    return folder


def to_step(source: Path, output: Path, step: Step) -> WizardState:
    """The headless engine, pressed forward as a face would, up to ``step``."""
    state = machine.start({"source": str(source), "output": str(output)})
    state = engine.work(state) if machine.view(state).work else state
    while state.step is not step:
        before = state
        state = engine.act(state, "next", yes=False)
        while machine.view(state).work:
            state = engine.work(state)
        if state.step is Step.PREREQUISITES and machine.view(state).status == "blocked":
            state = machine.answer(state, "ignore_failed_checks", True)
        assert state != before, (state.step, state.errors, machine.view(state).error)
    return state


@pytest.mark.parametrize(
    ("make", "kind", "words"),
    [(no_weights, "no_weights", "no weight files"), (too_big, "memory", "RAM")],
)
def test_the_engine_stops_a_doomed_run_until_go_anyway(
    tmp_path: Path, make: object, kind: str, words: str
) -> None:
    folder = make(tmp_path)  # type: ignore[operator]
    model = to_step(folder, tmp_path / "out", Step.MODEL)
    view = machine.view(model)
    found = view.table("preflight")
    assert words in found.rows[0][0] and found.rows[0][1] == "blocks the run"
    assert view.outcome_tone == "bad" and words in view.outcome

    review = to_step(folder, tmp_path / "out", Step.REVIEW)
    view = machine.view(review)
    assert words in view.table("preflight").rows[0][0]
    run = view.action("run")
    assert run is not None and run.needs_consent and "Go anyway" in run.consent
    with pytest.raises(engine.ActionRefused, match="explicit yes"):
        engine.act(review, "run")
    started = engine.act(review, "run", yes=True)
    assert started.step is Step.RUN and machine.view(started).work == "export"
    (said,) = started.facts.consents
    assert said.startswith("preflight:") and kind in said  # the yes names what it was given to


def test_a_yes_is_asked_again_when_the_blockers_change(tmp_path: Path) -> None:
    review = to_step(too_big(tmp_path), tmp_path / "out", Step.REVIEW)
    said_yes = engine.act(review, "run", yes=True)
    assert said_yes.step is Step.RUN
    said_yes = machine.with_facts(review, consents=said_yes.facts.consents)
    assert not engine.act(said_yes, "run").errors  # the same blocker: no second question
    # A new blocker appears (the weights went missing): the earlier yes no longer covers it.
    more = [*(said_yes.facts.preflight or ()), {"kind": "no_weights", "blocking": True}]
    changed = machine.with_facts(said_yes, preflight=tuple(more))
    with pytest.raises(engine.ActionRefused):
        engine.act(changed, "run")


def test_a_merge_that_does_not_fit_is_fixed_by_a_plan_change(tmp_path: Path) -> None:
    report = {
        "source_kind": "local",
        "path": str(tmp_path),
        "parameters": 10**8,
        "is_encoder_decoder": True,
        "is_decoder": False,
        "task": "text2text-generation-with-past",
        "task_candidates": ["text2text-generation-with-past"],
        "with_past": True,
        "with_past_applies": True,
        "expected_files": ["encoder_model.onnx", "decoder_model_merged.onnx"],
        "model_type": "t5",
    }
    (tmp_path / "model.safetensors").write_bytes(b"w")
    # 10^8 fp32 parameters: about 1.7 GiB without the merge, 2.5 GiB with it; allow 2 GiB.
    limit = 2 * 2**30
    state = WizardState(
        Step.REVIEW,
        {"source": str(tmp_path), "output": str(tmp_path / "out"), "with_past": True},
        Facts(report=report, checks=()),
        (Step.SOURCE, Step.PREREQUISITES, Step.MODEL, Step.TASK, Step.ARCHITECTURE),
    )
    from onnx_wizard.flow import preflight_view

    state = preflight_view.checked_plan(state, memory_limit=limit)
    view = machine.view(state)
    apply = view.action("apply")
    assert apply is not None and "decoder merge" in apply.label
    assert "no_post_process: no -> yes" in view.table("preflight_fixes").rows[0][1]
    fixed = preflight_view.checked_plan(
        machine.with_answers(state, {"decoder_files": "separate"}), memory_limit=limit
    )
    assert not preflight_view.blockers(fixed.facts)
    assert not machine.view(fixed).action("run").needs_consent  # type: ignore[union-attr]


def test_an_output_that_is_the_model_folder_is_refused_on_the_source_step(
    tmp_path: Path, sample_bert: Path
) -> None:
    from onnx_wizard.widgets.notebook.wizard import Wizard

    before = sorted(p.name for p in sample_bert.iterdir())
    wizard = Wizard(
        str(sample_bert), str(sample_bert / ".." / sample_bert.name), offer_resume=False
    )
    wizard.click("next")
    state = wizard.wait(120)
    assert state.step is Step.SOURCE
    assert "is the model folder" in machine.view(state).field("output").error  # type: ignore[operator]
    inside = Wizard("sample:bert-classifier", str(sample_bert / "onnx"), offer_resume=False)
    inside.click("next")
    state = inside.wait(120)
    assert state.step is Step.SOURCE  # found once the sample's folder is known
    assert "inside the model folder" in str(machine.view(state).field("output").error)
    assert sorted(p.name for p in sample_bert.iterdir()) == before


def test_a_run_that_was_not_validated_is_never_ok() -> None:
    facts = Facts(run={"status": "not_validated", "detail": "exported without validation"})
    assert machine.view(WizardState(Step.RUN, {}, facts, (Step.REVIEW,))).status == "failed"
    sentence, tone = results.outcome(Step.RUN, {}, facts)
    assert "not validated" in sentence and tone == "bad"
    assert (
        machine.view(WizardState(Step.RUN, {}, facts, (Step.REVIEW,))).field("run_status").value
        == "not validated"
    )


def test_done_names_the_files_it_kept_and_the_backup() -> None:
    facts = Facts(
        run={"status": "ok", "files": [], "kept": ["notes.txt"], "backup": "/x/.backup-1"},
        validation={"passed": True, "summary": "Validation passed.", "checks": []},
    )
    sentence, tone = results.outcome(Step.DONE, {"output": "/x"}, facts)
    assert "notes.txt" in sentence and "/x/.backup-1" in sentence and tone == "good"


def test_the_notebook_shows_the_stop_and_runs_only_after_go_anyway(tmp_path: Path) -> None:
    from onnx_wizard.widgets.notebook.wizard import Wizard

    folder = no_weights(tmp_path)
    model = Wizard.from_state(to_step(folder, tmp_path / "out", Step.MODEL))
    assert "no weight files" in model.tables.value and "blocks the run" in model.tables.value
    assert "would fail" in model.outcome.value

    wizard = Wizard.from_state(to_step(folder, tmp_path / "out", Step.REVIEW))
    assert "no weight files" in wizard.tables.value
    run = wizard.button("run")
    assert run.disabled and wizard.consent.layout.display == ""
    assert "Go anyway" in wizard.consent.description
    wizard.consent.value = True  # the user ticks "go anyway"
    assert not wizard.button("run").disabled
    wizard.button("run").click()
    deadline = time.monotonic() + 60
    while wizard.state.step is not Step.RUN and time.monotonic() < deadline:
        time.sleep(0.05)
    assert wizard.state.step is Step.RUN and wizard.last_error is None
    wizard.cancel()  # the doomed export itself is not this test's business
    wizard.wait(60)


def test_the_terminal_app_shows_the_stop_and_runs_only_after_go_anyway(tmp_path: Path) -> None:
    from textual.widgets import Button, Checkbox

    from onnx_wizard.widgets.tui.app import WizardApp
    from onnx_wizard.widgets.tui.fields import TableView

    folder = too_big(tmp_path)
    model_state = to_step(folder, tmp_path / "out", Step.MODEL)
    review_state = to_step(folder, tmp_path / "out", Step.REVIEW)

    async def drive() -> None:
        app = WizardApp(model_state, offer_resume=False, autorun=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.2)
            shown = app.query_one("#table-preflight", TableView)
            assert "RAM" in shown.table.rows[0][0] and shown.display
            await pilot.press("ctrl+q")

        app = WizardApp(review_state, offer_resume=False, autorun=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.2)
            assert app.query("#table-preflight")
            run = app.query_one("#act-run", Button)
            consent = app.query_one("#consent", Checkbox)
            assert run.disabled and consent.display and "Go anyway" in str(consent.label)
            await pilot.click("#act-run")  # disabled: nothing happens
            await pilot.pause(0.2)
            assert app.state.step is Step.REVIEW
            consent.value = True
            await pilot.pause(0.1)
            assert not run.disabled
            await pilot.click("#act-run")
            deadline = time.monotonic() + 30
            while app.state.step is not Step.RUN and time.monotonic() < deadline:
                await pilot.pause(0.05)
            assert app.state.step is Step.RUN  # autorun off: the export itself waits
            await pilot.press("ctrl+q")

    asyncio.run(drive())
