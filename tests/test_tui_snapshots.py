"""Screenshots of every step of the terminal app at 80x24 and 120x40 (pytest-textual-snapshot).

Each screen is drawn from a real engine state (real inspection of the samples, real plan, the
real knowledge base's diagnosis). What varies from machine to machine is fixed: the wizard home
and output paths, the prerequisite results, and the run (no timings or memory figures). Update
with ``pytest tests/test_tui_snapshots.py --snapshot-update`` after eyeballing the report.
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_textual_snapshot import SVGImageExtension
from textual.pilot import Pilot
from textual.widgets import TextArea

from onnx_wizard.flow import machine, session
from onnx_wizard.flow.steps import Step, WizardState
from onnx_wizard.widgets.tui.app import WizardApp
from onnx_wizard.widgets.tui.run_pane import RunPane
from tests.conftest import SHARED_HOME
from tests.test_tui_support import (
    OPSET_LOG,
    opset_failure,
    start,
    wait_until,
    walk,
    with_fixed_checks,
)

# Fixed paths: they appear on screen (the command line, the output), so they must not vary.
ROOT = Path("/tmp/onnx-wizard-tui-snapshots")
HOME = ROOT / "home"
OUTPUT = str(ROOT / "out")
SIZES = [(80, 24), (120, 40)]

VALIDATION = {
    "passed": True,
    "atol": 0.0001,
    "checks": [
        {
            "submodel": "model",
            "output": "logits",
            "max_abs_diff": 1.862645149230957e-09,
            "atol": 0.0001,
            "passed": True,
        }
    ],
    "summary": "Validation passed: 1 output within atol 0.0001; largest diff 1.86e-09 "
    "(model/logits)",
}
RUN_OK = {
    "status": "ok",
    "detail": "",
    "files": [
        {"name": "config.json", "bytes": 710},
        {"name": "model.onnx", "bytes": 147141},
        {"name": "special_tokens_map.json", "bytes": 695},
        {"name": "tokenizer.json", "bytes": 5165},
        {"name": "tokenizer_config.json", "bytes": 1292},
        {"name": "vocab.txt", "bytes": 636},
    ],
    "attempts": [],
    "log": "",
}


@pytest.fixture(autouse=True)
def snapshots_in_tests_snapshots(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the SVGs in tests/snapshots/<test file>/ (the plugin's default is __snapshots__)."""

    def dirname(cls: Any, *, test_location: Any) -> str:
        return str(Path(test_location.filepath).parent / "snapshots" / test_location.basename)

    monkeypatch.setattr(SVGImageExtension, "dirname", classmethod(dirname))


@pytest.fixture(autouse=True)
def fixed_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    if HOME.exists():
        shutil.rmtree(HOME)
    HOME.mkdir(parents=True)
    shared = SHARED_HOME / "samples"
    shared.mkdir(parents=True, exist_ok=True)
    (HOME / "samples").symlink_to(shared, target_is_directory=True)
    shutil.rmtree(OUTPUT, ignore_errors=True)
    monkeypatch.setenv("ONNX_WIZARD_HOME", str(HOME))
    monkeypatch.setenv("ONNX_WIZARD_THEME", "dark")
    yield
    shutil.rmtree(ROOT, ignore_errors=True)


def bert(target: Step, **answers: Any) -> WizardState:
    state = with_fixed_checks(walk(start("bert-classifier", OUTPUT), target, answers))
    return machine.with_facts(state, gpu=False)


def finished_run() -> WizardState:
    state = machine.advance(bert(Step.REVIEW))
    return machine.with_facts(state, run=RUN_OK, validation=VALIDATION)


def recover() -> WizardState:
    return machine.advance(opset_failure(machine.advance(bert(Step.REVIEW, opset=13))))


def published() -> WizardState:
    state = machine.answer(machine.advance(finished_run()), "publish", True)
    return machine.advance(state)


def run_events(pilot: Pilot[Any]) -> None:
    """The events of an export caught in its export stage (no clock or memory readings)."""
    app = pilot.app
    pane = app.query_one(RunPane)
    command = app.state.facts.command  # type: ignore[attr-defined]
    for event in (
        {"event": "attempt", "number": 1, "command": command},
        {"event": "stage", "stage": "load", "label": "loading the model and its ONNX config"},
        {"event": "log", "line": "Using the export variant default."},
        {"event": "log", "line": "***** Exporting submodel 1/1: BertForSequenceClassification"},
        {"event": "stage", "stage": "export", "label": "exporting submodel 1/1 (BERT)"},
        {"event": "log", "line": "Using framework PyTorch: 2.13.0+cpu"},
    ):
        pane.handle(event)


async def open_doctor(pilot: Pilot[Any]) -> None:
    await pilot.press("ctrl+o")
    await pilot.pause()
    pilot.app.screen.query_one(TextArea).text = OPSET_LOG
    await pilot.press("ctrl+r")
    await wait_until(pilot, lambda: bool(pilot.app.screen.query(".diagnosis")), 10, "diagnoses")


def resume_offer() -> WizardState:
    saved = bert(Step.EXPORT_OPTIONS)
    session.save_session(saved)
    return machine.start({})


CASES: dict[str, tuple[Callable[[], WizardState], Callable[[Pilot[Any]], Any] | None]] = {
    "source": (lambda: start("bert-classifier", OUTPUT), None),
    "prerequisites": (lambda: bert(Step.PREREQUISITES), None),
    "model": (lambda: bert(Step.MODEL), None),
    "task": (lambda: bert(Step.TASK), None),
    "architecture-gpt2": (
        lambda: with_fixed_checks(walk(start("gpt2", OUTPUT), Step.ARCHITECTURE)),
        None,
    ),
    "architecture-t5": (
        lambda: with_fixed_checks(walk(start("t5", OUTPUT), Step.ARCHITECTURE)),
        None,
    ),
    "export-options": (lambda: bert(Step.EXPORT_OPTIONS), None),
    "quantization": (lambda: bert(Step.QUANTIZATION, ort_presets=("avx2",)), None),
    "review": (lambda: bert(Step.REVIEW, opset=14), None),
    "run": (lambda: machine.advance(bert(Step.REVIEW)), run_events),
    "validate": (lambda: machine.advance(finished_run()), None),
    "recover": (recover, None),
    "publish": (published, None),
    "done": (lambda: machine.advance(machine.advance(finished_run())), None),
    "doctor": (lambda: start("bert-classifier", OUTPUT), open_doctor),
    "resume": (resume_offer, None),
}


@functools.cache
def state_for(case: str) -> WizardState:
    """Each case's state, built once for both sizes (the paths it holds are fixed)."""
    return CASES[case][0]()


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
@pytest.mark.parametrize("case", list(CASES))
def test_screen(case: str, size: tuple[int, int], snap_compare: Any) -> None:
    make_state, before = CASES[case]
    resume = case == "resume"
    state = make_state() if resume else state_for(case)  # resume saves a session each time
    app = WizardApp(None if resume else state, autorun=False, offer_resume=resume)
    app.animation_level = "none"  # a running stage's bar is drawn still, not animated

    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        if before is not None:
            result = before(pilot)
            if result is not None:
                await result
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)
