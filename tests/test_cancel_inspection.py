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
