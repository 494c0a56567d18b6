"""The terminal app end to end with real exports: walks, recovery, cancel, a live UI meanwhile.

Each test drives ``WizardApp`` with Textual's Pilot, mostly by keyboard, over the built-in tiny
samples; every export is a real one in a child process (seconds each on a small machine).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from textual.pilot import Pilot

from onnx_wizard.flow import machine
from onnx_wizard.flow.steps import Step
from onnx_wizard.flow.text import table_text
from onnx_wizard.widgets.tui.app import WizardApp
from onnx_wizard.widgets.tui.fields import CommandBox, TableView
from onnx_wizard.widgets.tui.overlays import ConfirmQuit
from onnx_wizard.widgets.tui.recovery import RecoveryModal
from onnx_wizard.widgets.tui.run_pane import RunPane
from tests.test_tui_support import idle, pilot_test, start, wait_until, walk

pytestmark = pytest.mark.slow

SIZE = (120, 40)
EXPORT_SECONDS = 180  # generous: a cold torch import on a busy 2-core CI machine is slow


async def forward(pilot: Pilot[Any], target: Step, timeout: float = 60) -> None:
    """Press ctrl+n (the step's Next / Run) and wait until the wizard shows ``target``."""
    app: Any = pilot.app
    await wait_until(pilot, lambda: idle(app), timeout, "the engine")
    await pilot.press("ctrl+n")
    await wait_until(pilot, lambda: app.state.step is target and idle(app), timeout, str(target))


async def back(pilot: Pilot[Any], target: Step) -> None:
    app: Any = pilot.app
    await pilot.press("ctrl+b")
    await wait_until(pilot, lambda: app.state.step is target and idle(app), 30, str(target))


async def run_to_end(pilot: Pilot[Any]) -> None:
    """Wait for the run and for where the engine takes it: its results, or recovery."""
    app: Any = pilot.app
    await wait_until(pilot, lambda: app.state.step is Step.RUN, 30, "the run step")
    await wait_until(pilot, lambda: app.state.facts.run is not None, EXPORT_SECONDS, "the export")
    await wait_until(
        pilot,
        lambda: app.state.step in (Step.VALIDATE, Step.RECOVER, Step.RUN) and idle(app),
        30,
        "the step after the run",
    )


def session_file(app: Any) -> dict[str, Any]:
    """The session the app saved (in the wizard home, never beside the output)."""
    assert app.session_path is not None
    return json.loads(app.session_path.read_text())


def table(app: Any, name: str) -> str:
    """The text of one of the view's tables as the app lays it out."""
    return table_text(app.query_one(f"#table-{name}", TableView).table)


@pilot_test
async def test_keyboard_walk_exports_bert_through_back_and_next(tmp_path: Path) -> None:
    out = tmp_path / "bert"
    app = WizardApp(prefill={"source": "sample:bert-classifier", "output": str(out)})
    async with app.run_test(size=SIZE) as pilot:
        await forward(pilot, Step.PREREQUISITES, timeout=EXPORT_SECONDS)  # may build the sample
        assert app.query("#checks")
        await forward(pilot, Step.MODEL)
        model_view = machine.view(app.state)
        await back(pilot, Step.PREREQUISITES)
        await forward(pilot, Step.MODEL)
        assert machine.view(app.state) == model_view
        await forward(pilot, Step.TASK)
        await forward(pilot, Step.EXPORT_OPTIONS)  # an encoder: no KV-cache step
        await forward(pilot, Step.QUANTIZATION)
        await forward(pilot, Step.REVIEW)
        command = app.query_one("#row-command", CommandBox).command
        assert "--task text-classification" in command and command.endswith(str(out))
        assert session_file(app)["state"]["step"] == "review"

        await pilot.press("ctrl+n")
        await run_to_end(pilot)
        assert app.state.facts.run["status"] == "ok", app.state.facts.run
        pane = app.query_one(RunPane)
        assert set(pane.stage_states.values()) == {"done"}
        assert pane.lines[0].startswith("$ optimum-cli export onnx")

        # A passed run goes straight to its results.
        assert app.state.step is Step.VALIDATE
        assert app.state.facts.validation["passed"] is True
        assert "passed" in table(app, "checks") and "model.onnx" in table(app, "files")
        await forward(pilot, Step.DONE)
        assert "model.onnx" in table(app, "files") and "passed" in table(app, "checks")
        assert (out / "model.onnx").is_file()
        assert session_file(app)["state"]["step"] == "done"
        await pilot.press("ctrl+n")  # Close, on the last step
    assert app.return_code == 0


@pytest.mark.parametrize(
    ("sample", "files"),
    [
        ("gpt2", ["model.onnx"]),
        ("t5", ["encoder_model.onnx", "decoder_model_merged.onnx"]),
    ],
)
@pilot_test
async def test_generators_walk_through_the_kv_cache_step(
    tmp_path: Path, sample: str, files: list[str]
) -> None:
    out = tmp_path / sample
    app = WizardApp(prefill={"source": f"sample:{sample}", "output": str(out)})
    async with app.run_test(size=SIZE) as pilot:
        for step in (Step.PREREQUISITES, Step.MODEL, Step.TASK, Step.ARCHITECTURE):
            await forward(pilot, step, timeout=EXPORT_SECONDS)
        assert app.query("#field-with_past")
        assert bool(app.query("#field-decoder_files")) is (sample == "t5")
        for step in (Step.EXPORT_OPTIONS, Step.QUANTIZATION, Step.REVIEW):
            await forward(pilot, step)
        assert "-with-past" in app.query_one("#row-command", CommandBox).command
        await pilot.press("ctrl+n")
        await run_to_end(pilot)
        assert app.state.facts.run["status"] == "ok", app.state.facts.run
        assert app.state.step is Step.VALIDATE
        assert app.state.facts.validation["passed"] is True
    for name in files:
        assert (out / name).is_file(), sorted(p.name for p in out.iterdir())


@pilot_test
async def test_opset_13_fails_and_apply_and_retry_recovers_at_14(tmp_path: Path) -> None:
    out = tmp_path / "bert"
    state = walk(start("bert-classifier", str(out)), Step.EXPORT_OPTIONS)
    app = WizardApp(state, offer_resume=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.query_one("#field-opset").focus()
        await pilot.press("1", "3")
        await forward(pilot, Step.QUANTIZATION)
        await forward(pilot, Step.REVIEW)
        assert "--opset 13" in app.query_one("#row-command", CommandBox).command
        await pilot.press("ctrl+n")
        await wait_until(
            pilot, lambda: isinstance(app.screen, RecoveryModal), EXPORT_SECONDS, "recovery"
        )
        await pilot.pause()
        assert not out.exists()  # a failed export never touches the output folder
        modal = app.screen
        assert "newer ONNX opset" in str(modal.query_one("#diagnosis").render())
        diff = modal.query_one("#table-diff", TableView).table
        assert diff.rows == (("opset", "13", "14"),)

        await pilot.press("a")  # Apply and retry
        await wait_until(pilot, lambda: app.state.step is Step.RUN and app.exporting, 30, "retry")
        await run_to_end(pilot)
        assert app.state.facts.run["status"] == "ok", app.state.facts.run
        assert app.state.answers["opset"] == 14
        assert app.state.step is Step.VALIDATE
        assert app.state.facts.validation["passed"] is True
    assert (out / "model.onnx").is_file()


@pilot_test
async def test_the_app_answers_keys_while_an_export_runs_and_quits_cleanly(tmp_path: Path) -> None:
    state = walk(start("bert-classifier", str(tmp_path / "bert")), Step.REVIEW)
    app = WizardApp(state, offer_resume=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+n")
        pane = app.query_one(RunPane)
        await wait_until(pilot, lambda: pane.current is not None, 30, "the first stage")
        assert app.exporting
        theme = app.theme
        began = time.monotonic()
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: app.theme != theme, 1, "the theme to switch")
        await pilot.press("ctrl+f", *"torch")
        await wait_until(pilot, lambda: pane.query_text == "torch", 1, "the search to apply")
        assert time.monotonic() - began < 2
        assert app.exporting  # all of that happened while the export ran
        assert pane.pid is not None
        tree = [pane.pid] + [p.pid for p in psutil.Process(pane.pid).children(recursive=True)]
        await pilot.press("ctrl+q")  # mid-export, quitting asks first (it stops the export)
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmQuit), 2, "the question")
        await pilot.press("n")  # keep running
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmQuit), 2, "no dialog")
        assert app.exporting and alive(pane.pid)
        await pilot.press("ctrl+q", "y")  # quitting mid-export must not leave the export behind
    ended = time.monotonic()
    while any(map(alive, tree)) and time.monotonic() - ended < 2:
        time.sleep(0.05)
    assert not any(map(alive, tree))
    assert app.return_code == 0


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pilot_test
async def test_cancel_ends_the_process_tree_within_2s_and_leaves_the_output(
    tmp_path: Path,
) -> None:
    out = tmp_path / "bert"
    out.mkdir()
    (out / "keep.txt").write_text("the user's file")
    state = walk(start("bert-classifier", str(out)), Step.REVIEW, {"overwrite": True})
    app = WizardApp(state, offer_resume=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+n")
        pane = app.query_one(RunPane)
        await wait_until(pilot, lambda: pane.pid is not None and pane.current, 30, "the child")
        assert pane.pid is not None
        await pilot.pause(1.0)  # let it get going (importing torch, spawning threads)
        tree = [pane.pid] + [p.pid for p in psutil.Process(pane.pid).children(recursive=True)]
        await pilot.press("escape")
        took = await wait_until(pilot, lambda: not any(map(alive, tree)), 2, "the tree to end")
        await wait_until(pilot, lambda: app.state.facts.run is not None, 10, "the run's end")
        assert app.state.facts.run["status"] == "cancelled"
        assert "Cancelled" in str(app.query_one("#run-outcome").render())
        assert took < 2
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    assert (out / "keep.txt").read_text() == "the user's file"
    assert sorted(p.name for p in tmp_path.iterdir() if "partial" in p.name) == []


HEAVY = ("torch", "transformers", "optimum", "onnxruntime", "onnx")
WALK_SCRIPT = """
import asyncio, json, sys
from onnx_wizard.flow.steps import Step
from onnx_wizard.widgets.tui.app import WizardApp
from tests.test_tui_support import wait_until

async def main():
    app = WizardApp(prefill={{"source": "sample:bert-classifier", "output": {output!r}}})
    async with app.run_test(size=(100, 30)) as pilot:
        while app.state.step is not Step.DONE:
            await wait_until(pilot, lambda: not app.busy and not app.exporting, 300, "idle")
            step = app.state.step
            await pilot.press("ctrl+n")
            await wait_until(pilot, lambda: app.state.step is not step, 300, "a step")
    assert (app.state.facts.validation or {{}}).get("passed"), app.state.facts

asyncio.run(main())
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})))
"""


def test_the_app_process_never_imports_the_heavy_libraries(tmp_path: Path) -> None:
    script = WALK_SCRIPT.format(output=str(tmp_path / "bert"), heavy=HEAVY)
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
    assert (tmp_path / "bert" / "model.onnx").is_file()
