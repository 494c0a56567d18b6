"""Tests of saved sessions: round trip, valid JSON, atomic writes, and resuming after a SIGKILL.

Where sessions live, the resume offer, listing and pruning: tests/test_session_store.py."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from onnx_wizard.flow import machine, session
from onnx_wizard.flow.machine import Step, WizardState
from onnx_wizard.flow.session import load_session, save_session

REPORT = {
    "model_type": "t5",
    "architectures": ["T5ForConditionalGeneration"],
    "task": "text2text-generation",
    "task_candidates": ["text2text-generation", "feature-extraction"],
    "with_past": True,
    "with_past_applies": True,
    "is_encoder_decoder": True,
    "is_decoder": False,
    "parameters": 60_500_000,
    "supported": True,
}
CHECKS = [{"name": "python", "status": "ok", "detail": "3.11", "fix": None}]


def busy_state(output: str | None = None) -> WizardState:
    """A state with every kind of content: nested facts, a tuple answer, None, an error."""
    state = machine.start({"source": "sample:t5", "output": output})
    state = machine.next(machine.with_facts(machine.next(state), checks=CHECKS))
    state = machine.next(machine.with_facts(state, report=REPORT, command="optimum-cli x"))
    state = machine.next(machine.next(state))  # TASK, ARCHITECTURE
    state = machine.next(machine.answer(state, "opset", 17))
    state = machine.answer(state, "js_dtypes", ["q8", "q4f16"])
    state = machine.answer(state, "ort_presets", "bogus")  # refused: a field error in the state
    assert state.step is Step.QUANTIZATION and state.errors
    return machine.with_facts(state, diagnosis={"remedies": [{"answers": {"opset": 14}}]})


def test_round_trip_gives_an_equal_state(tmp_path: Path) -> None:
    state = busy_state()
    path = save_session(state, tmp_path / "s.json")
    loaded = load_session(path)
    assert loaded == state
    assert machine.view(loaded) == machine.view(state)
    assert loaded.answers["js_dtypes"] == ("q8", "q4f16")
    # and the loaded state keeps working: Back, then forward again.
    assert machine.view(machine.back(loaded)) == machine.view(machine.back(state))


def test_file_is_valid_json_with_schema_and_version(tmp_path: Path) -> None:
    state = machine.with_facts(busy_state(), validation={"passed": False, "max_diff": float("nan")})
    path = save_session(state, tmp_path / "s.json")

    def no_constants(name: str) -> Any:
        raise AssertionError(f"{name} is not JSON")

    payload = json.loads(path.read_text(encoding="utf-8"), parse_constant=no_constants)
    assert payload["schema"] == session.SCHEMA and payload["version"] == session.VERSION
    assert payload["finished"] is False
    assert payload["state"]["step"] == "quantization"
    assert payload["state"]["facts"]["validation"]["max_diff"] is None
    assert payload["state"]["history"][0] == "source"


def test_a_crash_mid_write_leaves_the_old_session_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "work" / "s.json"
    old = busy_state()
    save_session(old, path)
    real_dump = json.dump

    def crash(obj: Any, stream: Any, **kwargs: Any) -> None:
        stream.write('{"schema": "onnx-wizard-session", "vers')  # half a file...
        raise OSError("disk full")  # ...then the write dies

    monkeypatch.setattr(session.json, "dump", crash)
    newer = machine.answer(old, "js_dtypes", ["q4"])
    with pytest.raises(OSError, match="disk full"):
        save_session(newer, path)
    monkeypatch.setattr(session.json, "dump", real_dump)
    assert load_session(path) == old
    assert sorted(p.name for p in path.parent.iterdir()) == ["s.json"]  # no temporary left


CHILD = """
import sys, time
from onnx_wizard.flow import machine
from onnx_wizard.flow.session import save_session

path, mode = sys.argv[1], sys.argv[2]
checks = [{"name": "python", "status": "ok", "detail": "3.11", "fix": None}]
state = machine.answer(machine.start(), "source", "sample:gpt2")
save_session(state, path)
state = machine.next(state)
save_session(state, path)
state = machine.with_facts(state, checks=checks)
save_session(state, path)
state = machine.next(state)
save_session(state, path)
print("READY", state.step.value, flush=True)
if mode == "sleep":
    time.sleep(600)
other = machine.with_facts(state, gpu=True)
while True:  # save as fast as possible, so the kill lands in the middle of some write
    save_session(other, path)
    save_session(state, path)
"""


def run_child(path: Path, mode: str) -> tuple[subprocess.Popen[str], str]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(child.stdout, selectors.EVENT_READ)
    if not selector.select(timeout=60):
        child.kill()
        raise AssertionError(
            f"child never got ready: {child.stderr.read() if child.stderr else ''}"
        )
    return child, child.stdout.readline().strip()


def expected_child_state() -> WizardState:
    checks = [{"name": "python", "status": "ok", "detail": "3.11", "fix": None}]
    state = machine.next(machine.answer(machine.start(), "source", "sample:gpt2"))
    return machine.next(machine.with_facts(state, checks=checks))


@pytest.mark.parametrize("mode", ["sleep", "saving"])
def test_resume_after_the_process_is_killed(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "work" / "killed.json"
    path.parent.mkdir()
    child, line = run_child(path, mode)
    try:
        assert line == "READY model"
        if mode == "saving":
            time.sleep(0.3)  # let it rewrite the file a few hundred times
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    loaded = load_session(path)
    expected = expected_child_state()
    if mode == "sleep":
        assert loaded == expected
    else:  # killed while writing: one of the two whole states, never a torn file
        assert loaded in (expected, machine.with_facts(expected, gpu=True))
    assert loaded.step is Step.MODEL
    assert loaded.answers["source"] == "sample:gpt2"
    assert loaded.history == (Step.SOURCE, Step.PREREQUISITES)
    # A kill mid-write may leave the child's temporary file; the next save sweeps it away.
    save_session(loaded, path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["killed.json"]
