"""Cancel while a sample model is being built: the build stops within 2 s, the wizard records a
cancel on the model question (never a crash), and no process or half-built folder is left."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from onnx_wizard.flow import engine, machine
from onnx_wizard.flow.steps import Facts, Step, WizardState
from onnx_wizard.inspection import samples


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in _state(pid)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][:1]
    except (OSError, IndexError):
        return "Z"


def test_cancel_during_a_sample_build_stops_within_two_seconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONNX_WIZARD_HOME", str(tmp_path / "fresh-home"))  # no sample built yet
    state = WizardState(
        Step.MODEL, {"source": "sample:gpt2"}, Facts(checks=()), (Step.SOURCE, Step.PREREQUISITES)
    )
    assert machine.view(state).work == "inspect"
    control = engine.RunControl()
    done: list[WizardState] = []
    worker = threading.Thread(target=lambda: done.append(engine.work(state, control=control)))
    worker.start()
    deadline = time.monotonic() + 60
    while not samples._builds and time.monotonic() < deadline:
        time.sleep(0.05)
    (build,) = list(samples._builds)
    time.sleep(0.5)  # the builder is importing torch and transformers now
    started = time.monotonic()
    control.cancel()
    worker.join(10)
    took = time.monotonic() - started
    assert not worker.is_alive() and took < 2.0, took
    (cancelled,) = done  # an outcome, not an exception in the worker
    assert cancelled.step is Step.SOURCE
    assert "Cancelled" in str(machine.view(cancelled).field("source").error)
    assert cancelled.facts.report is None
    assert not alive(build.pid)
    built = samples.samples_dir()
    assert not any(p.name.startswith(".gpt2.partial-") for p in built.iterdir())
    assert not (built / f"gpt2-v{samples.BUILD_VERSION}").exists()


def test_the_notebook_cancels_a_sample_build_on_the_model_question(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from onnx_wizard.widgets.notebook.wizard import Wizard

    monkeypatch.setenv("ONNX_WIZARD_HOME", str(tmp_path / "fresh-home"))
    wizard = Wizard("sample:t5", str(tmp_path / "out"), offer_resume=False)
    wizard.click("next")  # reads the model: the sample is built first
    deadline = time.monotonic() + 60
    while not samples._builds and time.monotonic() < deadline:
        time.sleep(0.05)
    (build,) = list(samples._builds)
    started = time.monotonic()
    wizard.cancel()
    state = wizard.wait(10)
    assert time.monotonic() - started < 2.0
    assert wizard.last_error is None  # a cancel, not a crash
    assert state.step is Step.SOURCE
    assert "Cancelled" in str(machine.view(state).field("source").error)
    assert not alive(build.pid)


def test_quitting_the_terminal_app_stops_a_sample_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from onnx_wizard.widgets.tui.app import WizardApp

    monkeypatch.setenv("ONNX_WIZARD_HOME", str(tmp_path / "fresh-home"))
    prefill = {"source": "sample:gpt2", "output": str(tmp_path / "out")}

    async def drive() -> tuple[float, int]:
        app = WizardApp(prefill=prefill, offer_resume=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.2)
            await pilot.click("#act-next")
            deadline = time.monotonic() + 60
            while not samples._builds and time.monotonic() < deadline:
                await pilot.pause(0.05)
            (build,) = list(samples._builds)
            started = time.monotonic()
            await pilot.press("ctrl+q")
        return time.monotonic() - started, build.pid

    took, pid = asyncio.run(drive())
    assert took < 2.0, took
    deadline = time.monotonic() + 2
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid)
    deadline = time.monotonic() + 60
    while samples._builds and time.monotonic() < deadline:
        time.sleep(0.1)  # a build left running would finish and land its folder by now
    assert not (samples.samples_dir() / f"gpt2-v{samples.BUILD_VERSION}").exists()
