"""Where sessions and run logs live, the resume offer, damaged files, listing, deleting, pruning."""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from onnx_wizard.errors import WizardError
from onnx_wizard.flow import machine, session
from onnx_wizard.flow.session import (
    SessionDamaged,
    delete_finished,
    delete_session,
    find_resumable,
    list_sessions,
    load_session,
    prune_sessions,
    save_session,
    session_id,
)
from onnx_wizard.flow.steps import Step, WizardState
from onnx_wizard.paths import sessions_dir
from onnx_wizard.runner.process import log_dir_for

REPORT = {"spec": "sample:gpt2", "model_type": "gpt2", "task": "text-generation", "supported": 1}


def at(step: Step, source: str, output: str | None, **facts: object) -> WizardState:
    """A state on ``step`` for ``source`` -> ``output``, with history and facts."""
    state = machine.start({"source": source, "output": output})
    state = machine.with_facts(state, report=REPORT, **facts)
    return replace(state, step=step, history=(Step.SOURCE, Step.PREREQUISITES))


def passed() -> dict[str, object]:
    return {"run": {"status": "ok", "files": []}, "validation": {"passed": True, "checks": []}}


def test_sessions_and_logs_live_in_the_wizard_home_not_beside_the_output(tmp_path: Path) -> None:
    output = tmp_path / "exports" / "gpt2-onnx"
    output.parent.mkdir()
    saved = save_session(at(Step.REVIEW, "sample:gpt2", str(output)))
    assert saved.parent == sessions_dir()
    assert saved.name.startswith("gpt2-onnx-") and saved.suffix == ".json"
    logs = log_dir_for(output)
    assert logs.parent == sessions_dir() / f"{saved.stem}.logs"  # the session's logs, by name
    assert list(output.parent.iterdir()) == []  # nothing hidden beside the user's output
    # Another run for the same output gets its own folder: an earlier failure's log survives.
    time.sleep(0.001)
    assert log_dir_for(output) != logs and log_dir_for(output).parent == logs.parent


def test_the_same_output_named_two_ways_is_one_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    relative = at(Step.TASK, "sample:gpt2", "out")
    absolute = at(Step.REVIEW, "sample:gpt2", str(tmp_path / "out"))
    assert session_id(relative) == session_id(absolute)
    save_session(relative)
    save_session(absolute)
    assert [info.step for info in list_sessions()] == [Step.REVIEW]


def test_resume_is_offered_for_the_same_output_or_model_only(tmp_path: Path) -> None:
    out = tmp_path / "gpt2-onnx"
    save_session(at(Step.REVIEW, "sample:gpt2", str(out)))
    before = {p.name: p.stat().st_mtime_ns for p in sessions_dir().iterdir()}

    found = find_resumable(output=str(out) + "/")  # the same folder, written differently
    assert found is not None and found.state is not None
    assert found.state.step is Step.REVIEW and found.output == str(out)
    question = found.question()
    assert "sample:gpt2" in question and "'Review the plan'" in question
    assert find_resumable(source="sample:gpt2") == found  # the same model, any output
    assert find_resumable(source="sample:t5") is None  # another model
    assert find_resumable(output=str(tmp_path / "t5-onnx")) is None  # another output
    assert find_resumable(source="sample:t5", output=str(tmp_path / "other")) is None
    assert find_resumable() is None  # nothing to compare with: never "any session"
    # Asking changed nothing on disk.
    assert {p.name: p.stat().st_mtime_ns for p in sessions_dir().iterdir()} == before


def test_a_local_model_folder_matches_however_it_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "my-model"
    model.mkdir()
    monkeypatch.chdir(tmp_path)
    save_session(at(Step.TASK, "my-model", "relative-out"))  # both relative to tmp_path
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # a listing from another folder resolves nothing anew
    found = find_resumable(source=str(model))
    assert found is not None and found.source == "my-model"
    assert found.output == str(tmp_path / "relative-out")
    assert find_resumable(output=str(tmp_path / "relative-out")) == found
    assert find_resumable(source="my-model") is None  # here, that name is another folder


@pytest.mark.parametrize(
    ("step", "facts"),
    [
        (Step.VALIDATE, passed()),  # the export passed; it stopped on the results page
        (Step.PUBLISH, passed()),
        (Step.REVIEW, passed()),  # went back to the plan after a pass: still exported
        (Step.DONE, {}),  # the user stopped after a failure
    ],
)
def test_resume_is_never_offered_once_the_session_finished(
    tmp_path: Path, step: Step, facts: dict[str, object]
) -> None:
    out = tmp_path / "done-onnx"
    save_session(at(step, "sample:gpt2", str(out), **facts))
    assert find_resumable(output=str(out)) is None
    assert find_resumable(source="sample:gpt2") is None
    (info,) = list_sessions()
    assert info.finished and info.status in ("exported", "stopped")


def test_resume_offers_the_newest_unfinished_session_of_the_model(tmp_path: Path) -> None:
    old = save_session(at(Step.TASK, "sample:gpt2", str(tmp_path / "a")))
    os.utime(old, (time.time() - 600, time.time() - 600))
    payload = json.loads(old.read_text())
    payload["saved_at"] = "2020-01-01T00:00:00+00:00"
    old.write_text(json.dumps(payload))
    save_session(at(Step.RECOVER, "sample:gpt2", str(tmp_path / "b")))
    found = find_resumable(source="sample:gpt2")
    assert found is not None and found.output == str(tmp_path / "b")
    assert found.status == "failed"


def test_a_session_moves_with_its_output_and_leaves_one_file(tmp_path: Path) -> None:
    early = machine.start({"source": "sample:gpt2"})  # no output, no report yet
    first = save_session(early)
    assert first.name.startswith("model-gpt2-")
    second = save_session(at(Step.TASK, "sample:gpt2", str(tmp_path / "a")), replaces=first)
    assert not first.exists()
    third = save_session(at(Step.TASK, "sample:gpt2", str(tmp_path / "b")), replaces=second)
    assert [p.name for p in sessions_dir().glob("*.json")] == [third.name]
    # Another model's session is never removed by `replaces`.
    other = save_session(at(Step.TASK, "sample:t5", str(tmp_path / "t5")))
    save_session(at(Step.TASK, "sample:gpt2", str(tmp_path / "c")), replaces=other)
    assert other.exists()


@pytest.mark.parametrize(
    "content",
    [
        '{"schema": "onnx-wizard-session", "version": 1, "state": {"step": "rev',  # truncated
        "",  # empty
        "[1, 2]",  # not a session
        '{"schema": "onnx-wizard-session", "version": 99, "state": {}}',  # another format
        '{"schema": "onnx-wizard-session", "version": 1, "state": {"step": "nap"}}',
    ],
)
def test_a_damaged_session_is_kept_aside_with_a_clear_message(content: str) -> None:
    store = sessions_dir()
    store.mkdir(parents=True, exist_ok=True)
    (store / "gpt2-onnx-12345678.json").write_text(content, encoding="utf-8")
    with pytest.raises(SessionDamaged) as caught:
        load_session("gpt2-onnx-12345678")
    aside = store / "gpt2-onnx-12345678.json.broken"
    assert aside.read_text(encoding="utf-8") == content  # kept, byte for byte
    assert not (store / "gpt2-onnx-12345678.json").exists()
    assert str(aside) in caught.value.problem and "afresh" in caught.value.problem
    assert "onnx-wizard sessions delete gpt2-onnx-12345678" in caught.value.fix
    # Resuming it again says it was kept aside; the list shows it as damaged.
    with pytest.raises(SessionDamaged, match="kept aside"):
        load_session("gpt2-onnx-12345678")
    (info,) = list_sessions()
    assert info.status == "damaged" and info.state is None and info.finished


def test_listing_and_saving_keep_a_damaged_file_aside(tmp_path: Path) -> None:
    state = at(Step.REVIEW, "sample:gpt2", str(tmp_path / "o"))
    target = sessions_dir() / f"{session_id(state)}.json"
    target.parent.mkdir(parents=True)
    target.write_text('{"schema": "onnx-wizard-ses', encoding="utf-8")
    save_session(state)  # a fresh wizard for the same output: the damaged copy is not lost
    assert target.with_name(target.name + ".broken").exists()
    assert load_session(target.stem) == state
    other = sessions_dir() / "x-00000000.json"
    other.write_text("{", encoding="utf-8")
    statuses = {info.id: info.status for info in list_sessions()}
    assert statuses == {target.stem: "in progress", "x-00000000": "damaged"}
    assert (sessions_dir() / "x-00000000.json.broken").exists()


def test_unknown_and_ambiguous_ids_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(WizardError, match="No saved session") as caught:
        load_session("nothing-here")
    assert "onnx-wizard sessions" in caught.value.fix
    a = save_session(at(Step.TASK, "sample:gpt2", str(tmp_path / "gpt2-a")))
    save_session(at(Step.TASK, "sample:gpt2", str(tmp_path / "gpt2-b")))
    assert load_session(a.stem[:7]).answers["output"] == str(tmp_path / "gpt2-a")  # "gpt2-a-"
    with pytest.raises(WizardError, match="matches several sessions"):
        load_session("gpt2-")


def test_delete_one_and_delete_finished_remove_files_and_logs(tmp_path: Path) -> None:
    done = save_session(at(Step.DONE, "sample:gpt2", str(tmp_path / "d"), **passed()))
    open_one = save_session(at(Step.REVIEW, "sample:t5", str(tmp_path / "t")))
    logs = log_dir_for(tmp_path / "d")
    logs.mkdir(parents=True)
    (logs / "attempt-1.log").write_text("a log\n")
    (info,) = [i for i in list_sessions() if i.id == done.stem]
    assert info.size > done.stat().st_size and info.log.endswith("attempt-1.log")
    assert delete_finished() == [done.stem]
    assert not done.exists() and not logs.exists() and open_one.exists()
    delete_session(open_one.stem)
    assert list_sessions() == []
    with pytest.raises(WizardError, match="No saved session"):
        delete_session(open_one.stem)


def test_pruning_drops_old_finished_sessions_then_the_oldest_over_the_cap(tmp_path: Path) -> None:
    now = time.time()
    old_done = save_session(at(Step.DONE, "sample:a", str(tmp_path / "a"), **passed()))
    new_done = save_session(at(Step.DONE, "sample:b", str(tmp_path / "b"), **passed()))
    working = save_session(at(Step.REVIEW, "sample:c", str(tmp_path / "c")))
    orphan = log_dir_for(tmp_path / "cli-export")  # `onnx-wizard export` logs: no session
    orphan.mkdir(parents=True)
    (orphan / "attempt-1.log").write_text("x" * 5000)
    for path, age_days in ((old_done, 30), (new_done, 1), (working, 60)):
        payload = json.loads(path.read_text())
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now - age_days * 86400))
        payload["saved_at"] = stamp
        path.write_text(json.dumps(payload))
    os.utime(orphan.parent, (now - 40 * 86400, now - 40 * 86400))

    removed = prune_sessions(now=now)  # only age: finished older than 14 days
    assert set(removed) == {old_done.stem, orphan.parent.name.removesuffix(".logs")}
    assert new_done.exists() and working.exists()  # an unfinished session is kept, however old

    # Over the cap: the finished one goes first, then the oldest unfinished; `keep` stays.
    newest = save_session(at(Step.TASK, "sample:d", str(tmp_path / "d")))
    assert prune_sessions(max_bytes=newest.stat().st_size + 10, keep=[newest.stem], now=now) == [
        new_done.stem,
        working.stem,
    ]
    assert [p.name for p in sessions_dir().iterdir()] == [newest.name]


def test_saving_a_new_session_prunes_expired_ones(tmp_path: Path) -> None:
    done = save_session(at(Step.DONE, "sample:a", str(tmp_path / "a"), **passed()))
    payload = json.loads(done.read_text())
    payload["saved_at"] = "2001-01-01T00:00:00+00:00"
    done.write_text(json.dumps(payload))
    save_session(at(Step.TASK, "sample:b", str(tmp_path / "b")))
    assert not done.exists()


def test_ago_reads_like_words() -> None:
    from datetime import datetime, timedelta, timezone

    now = datetime(2026, 1, 2, tzinfo=timezone.utc)
    assert session.ago(now - timedelta(seconds=20), now) == "just now"
    assert session.ago(now - timedelta(minutes=1, seconds=5), now) == "1 minute ago"
    assert session.ago(now - timedelta(hours=5), now) == "5 hours ago"
    assert session.ago(now - timedelta(days=3), now) == "3 days ago"


def test_sessions_left_beside_outputs_by_older_versions_move_into_the_store(
    tmp_path: Path,
) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    state = at(Step.REVIEW, "sample:gpt2", str(exports / "gpt2-onnx"))
    legacy = exports / ".gpt2-onnx.onnx-wizard-session.json"
    save_session(state, legacy)  # the old layout: a hidden file beside the output...
    old_logs = exports / ".gpt2-onnx.onnx-wizard-logs"
    old_logs.mkdir()
    (old_logs / "attempt-1.log").write_text("an old failure\n")  # ...and a hidden log folder
    damaged = exports / ".other.onnx-wizard-session.json"
    damaged.write_text("{", encoding="utf-8")
    index = [str(legacy), str(damaged), str(exports / ".gone.onnx-wizard-session.json")]
    sessions_dir().mkdir(parents=True, exist_ok=True)
    (sessions_dir() / "recent.json").write_text(json.dumps(index))

    (info,) = list_sessions()
    assert info.state == state and info.path.parent == sessions_dir()
    assert sorted(p.name for p in exports.iterdir()) == [damaged.name]  # the user's file stays
    assert Path(info.log).read_text() == "an old failure\n"  # the old log moved with it
    assert not (sessions_dir() / "recent.json").exists()
    assert find_resumable(output=str(exports / "gpt2-onnx")) == info
