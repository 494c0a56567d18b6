"""Tests of saved sessions: round trip, valid JSON, atomic writes, and resuming after a SIGKILL."""

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

from onnx_wizard.errors import WizardError
from onnx_wizard.flow import machine, session
from onnx_wizard.flow.machine import Step, WizardState
from onnx_wizard.flow.session import (
    default_session_path,
    find_resumable,
    load_session,
    save_session,
)
from onnx_wizard.paths import sessions_dir

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


def test_default_path_is_next_to_the_output_never_inside(tmp_path: Path) -> None:
    output = tmp_path / "exports" / "bert-onnx"
    path = default_session_path(str(output))
    assert path == tmp_path / "exports" / ".bert-onnx.onnx-wizard-session.json"
    assert default_session_path(str(output) + "/") == path
    assert output not in path.parents
    assert default_session_path(None) == sessions_dir() / "session.json"
    assert default_session_path("") == sessions_dir() / "session.json"


def test_saving_without_a_path_uses_the_output_and_keeps_it_clean(tmp_path: Path) -> None:
    output = tmp_path / "out" / "model-onnx"
    saved = save_session(busy_state(output=str(output)))
    assert saved == default_session_path(str(output))
    assert not output.exists()  # the output folder stays untouched until an export succeeds
    assert load_session(saved).answers["output"] == str(output)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"schema": "onnx-wizard-session", "vers', "not valid JSON"),
        ("[1, 2]", "not an onnx-wizard session"),
        ('{"schema": "onnx-wizard-session", "version": 99, "state": {}}', "format 99"),
        ('{"schema": "onnx-wizard-session", "version": 1, "state": {"step": "nap"}}', "damaged"),
        (
            '{"schema": "onnx-wizard-session", "version": 1, '
            '"state": {"step": "source", "answers": {"colour": 1}}}',
            "damaged",
        ),
    ],
)
def test_bad_files_raise_wizard_error_with_a_fix(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(WizardError, match=problem) as caught:
        load_session(path)
    assert str(path) in caught.value.fix and "rm" in caught.value.fix


def test_missing_file_raises_wizard_error(tmp_path: Path) -> None:
    with pytest.raises(WizardError, match="No saved session"):
        load_session(tmp_path / "nothing.json")


def test_find_resumable_picks_the_latest_unfinished_session(tmp_path: Path) -> None:
    assert find_resumable() is None
    first = save_session(machine.start({"source": "a"}))  # the home slot
    assert find_resumable() == (first, machine.start({"source": "a"}))
    later = busy_state(output=str(tmp_path / "b-onnx"))
    second = save_session(later)
    os.utime(first, (time.time() - 100, time.time() - 100))
    # found through the index of sessions saved next to outputs, without naming the output
    assert find_resumable() == (second, later)
    finished = WizardState(Step.DONE, later.answers, later.facts, (*later.history, later.step))
    save_session(finished)
    assert find_resumable() == (first, machine.start({"source": "a"}))
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    assert find_resumable(paths=[broken]) == (first, machine.start({"source": "a"}))


def test_choosing_an_output_retires_the_home_copy_of_the_same_session(tmp_path: Path) -> None:
    early = machine.start({"source": "sample:t5"})
    home_copy = save_session(early)
    assert home_copy == sessions_dir() / "session.json"
    moved = save_session(machine.answer(early, "output", str(tmp_path / "t5-onnx")))
    assert moved.parent == tmp_path and not home_copy.exists()
    other = save_session(machine.start({"source": "another"}))
    save_session(busy_state(output=str(tmp_path / "t5b-onnx")))
    assert other.exists()  # a different model's session is left alone
