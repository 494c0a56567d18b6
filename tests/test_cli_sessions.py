"""``onnx-wizard sessions`` (list, resume, delete) and ``onnx-wizard --resume ID``."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from onnx_wizard.cli.main import main
from onnx_wizard.cli.sessions import open_session
from onnx_wizard.flow import machine
from onnx_wizard.flow.session import save_session
from onnx_wizard.flow.steps import Step, WizardState
from onnx_wizard.paths import sessions_dir

REPORT = {"spec": "sample:gpt2", "model_type": "gpt2", "task": "text-generation"}
PASSED = {"run": {"status": "ok", "files": []}, "validation": {"passed": True, "checks": []}}


def at(step: Step, source: str, output: Path, **facts: object) -> WizardState:
    state = machine.with_facts(machine.start({"source": source, "output": str(output)}), **facts)
    return replace(state, step=step, history=(Step.SOURCE,))


@pytest.fixture
def two_sessions(tmp_path: Path) -> tuple[Path, Path]:
    working = save_session(at(Step.REVIEW, "sample:gpt2", tmp_path / "gpt2-onnx", report=REPORT))
    long_output = tmp_path / ("a-very-long-folder-name-" * 3) / "t5-onnx"
    done = save_session(at(Step.DONE, "sample:t5", long_output, report=REPORT, **PASSED))
    return working, done


def test_the_list_is_an_aligned_table_in_words(
    two_sessions: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    working, done = two_sessions
    assert main(["sessions"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    header, rows = lines[0], lines[1:3]
    assert header.split() == ["ID", "MODEL", "OUTPUT", "STEP", "STATUS", "SAVED", "SIZE"]
    by_id = {row.split()[0]: row for row in rows}
    assert set(by_id) == {working.stem, done.stem}
    # Every column starts where its header starts, whatever the lengths of the cells.
    for name, text in (("STEP", "Review the plan"), ("STATUS", "in progress")):
        assert by_id[working.stem].index(text) == header.index(name)
    assert by_id[done.stem].index("exported") == header.index("STATUS")
    assert "…" in by_id[done.stem]  # the long output is cut in the middle, not wrapped
    assert "False" not in out and "None" not in out
    assert str(sessions_dir()) in out and "onnx-wizard sessions resume ID" in out


def test_the_list_as_json(
    two_sessions: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    working, _ = two_sessions
    assert main(["sessions", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["folder"] == str(sessions_dir())
    entry = next(s for s in payload["sessions"] if s["id"] == working.stem)
    assert entry["step"] == "review" and entry["status"] == "in progress"
    assert entry["finished"] is False and entry["size"] == working.stat().st_size
    assert entry["source"] == "sample:gpt2" and entry["output"].endswith("gpt2-onnx")


def test_resume_prints_how_and_refuses_finished_damaged_and_unknown(
    two_sessions: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    working, done = two_sessions
    assert main(["sessions", "resume", working.stem[:8]]) == 0  # a prefix is enough
    out = capsys.readouterr().out
    assert f"onnx-wizard --resume {working.stem}" in out and "'Review the plan'" in out

    assert main(["sessions", "resume", done.stem]) == 2
    err = capsys.readouterr().err
    assert "finished (its export passed)" in err and "fix:" in err

    (sessions_dir() / "broken-00000000.json").write_text('{"schema": "onnx-wiz')
    assert main(["sessions", "resume", "broken-00000000"]) == 2
    err = capsys.readouterr().err
    assert "damaged" in err and "sessions delete broken-00000000" in err

    assert main(["sessions", "resume", "nope"]) == 2
    assert "No saved session 'nope'" in capsys.readouterr().err


def test_delete_one_then_the_finished(
    two_sessions: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    working, done = two_sessions
    assert main(["sessions", "delete", "--finished"]) == 0
    assert done.stem in capsys.readouterr().out and not done.exists() and working.exists()
    assert main(["sessions", "delete", working.stem]) == 0
    assert not working.exists()
    assert main(["sessions", "delete", working.stem]) == 2
    assert main(["sessions"]) == 0
    assert "No saved sessions" in capsys.readouterr().out


def test_resume_flag_opens_the_saved_state_or_starts_fresh_after_a_note(
    two_sessions: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    working, _ = two_sessions
    opened: list[WizardState | None] = []
    assert open_session(working.stem, launch=lambda s: opened.append(s) or 0) == 0
    assert opened[-1] is not None and opened[-1].step is Step.REVIEW

    truncated = sessions_dir() / "cut-00000000.json"
    truncated.write_text(working.read_text()[:100])
    assert open_session("cut-00000000", launch=lambda s: opened.append(s) or 0) == 0
    assert opened[-1] is None  # a fresh wizard, never a crash
    err = capsys.readouterr().err
    assert "could not be read" in err and "cut-00000000.json.broken" in err
    assert "Starting a new session" in err
    assert truncated.with_name(truncated.name + ".broken").exists()

    assert main(["--resume", "missing-id"]) == 2
    assert "No saved session" in capsys.readouterr().err
