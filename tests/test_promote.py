"""The promote and the sweep, one crash point at a time, without an export: the target is the
old folder or the new one with every file of the user's, never a mix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from onnx_wizard.runner.lock import acquire, release
from onnx_wizard.runner.promote import promote
from onnx_wizard.staging import make_staging, sweep_stale
from tests.fs_snapshot import snapshot


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


def staged_export(target: Path) -> Path:
    staging = make_staging(target)
    (staging / "model.onnx").write_bytes(b"new export")
    (staging / "onnx").mkdir()
    (staging / "onnx" / "model_q4.onnx").write_bytes(b"new q4")
    return staging


def test_a_first_promote_writes_the_manifest_and_takes_the_umask_mode(tmp_path: Path) -> None:
    target = tmp_path / "out"
    staging = staged_export(target)
    assert staging.stat().st_mode & 0o777 == 0o700  # private while half-written
    promote(staging, target)
    manifest = json.loads((target / ".onnx-wizard-manifest.json").read_text(encoding="utf-8"))
    assert manifest["files"] == ["model.onnx", "onnx/model_q4.onnx"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o777 & ~umask
    assert not staging.exists()


def test_promote_over_an_old_export_keeps_only_the_users_files(tmp_path: Path) -> None:
    target = tmp_path / "out"
    promote(staged_export(target), target)
    (target / "decoder_model.onnx").write_bytes(b"old export file, listed in the manifest")
    manifest = json.loads((target / ".onnx-wizard-manifest.json").read_text(encoding="utf-8"))
    manifest["files"].append("decoder_model.onnx")
    (target / ".onnx-wizard-manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (target / "onnx" / "notes.md").write_text("the user's notes", encoding="utf-8")
    done = promote(staged_export(target), target)
    assert done.kept == ["onnx/notes.md"] and done.backed_up == [] and done.backup is None
    assert (target / "onnx" / "notes.md").read_text(encoding="utf-8") == "the user's notes"
    assert not (target / "decoder_model.onnx").exists(), "an old export file is replaced"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "wizard-home"]


def test_a_crash_between_the_two_renames_is_undone_at_the_next_start(tmp_path: Path) -> None:
    """Where the atomic swap is missing, the old target is renamed aside first: a crash there
    leaves no target, and the sweep puts the old one back."""
    target = tmp_path / "out"
    target.mkdir()
    (target / "mine.txt").write_text("mine", encoding="utf-8")
    before = snapshot(target)
    aside = tmp_path / f".out.replaced-{dead_pid()}-abcd1234"
    target.rename(aside)
    partial = tmp_path / f".out.partial-{dead_pid()}-abcd1234"
    partial.mkdir()
    assert sorted(p.name for p in sweep_stale(tmp_path)) == sorted([aside.name, partial.name])
    assert snapshot(target) == before and sorted(os.listdir(tmp_path)) == ["out", "wizard-home"]


def test_the_sweep_leaves_a_live_runs_staging_and_lock_alone(tmp_path: Path) -> None:
    target = tmp_path / "out"
    staging = make_staging(target)  # this process is alive
    acquire(target)
    try:
        assert sweep_stale(tmp_path) == []
        assert staging.exists() and (tmp_path / ".out.onnx-wizard.lock").exists()
    finally:
        release(target)
    assert not (tmp_path / ".out.onnx-wizard.lock").exists()


@pytest.mark.parametrize("name", ["the user's folder", "out.backup-1", ".out.partial-x"])
def test_the_sweep_never_touches_what_it_did_not_name(tmp_path: Path, name: str) -> None:
    (tmp_path / name).mkdir()
    (tmp_path / name / "f").write_text("x", encoding="utf-8")
    before = snapshot(tmp_path)
    assert sweep_stale(tmp_path) == []
    assert snapshot(tmp_path) == before


def test_the_lock_is_reentrant_in_a_thread_and_refuses_another_thread(tmp_path: Path) -> None:
    import threading

    from onnx_wizard.errors import WizardError

    target = tmp_path / "out"
    acquire(target)
    acquire(target)  # the recovery loop and its attempt, in one thread
    refused: list[BaseException] = []

    def second_export() -> None:
        try:
            acquire(target)
        except WizardError as error:
            refused.append(error)

    thread = threading.Thread(target=second_export)
    thread.start()
    thread.join()
    release(target)
    assert (tmp_path / ".out.onnx-wizard.lock").exists(), "still held once"
    release(target)
    assert refused and "Another onnx-wizard" in str(refused[0])
    assert not (tmp_path / ".out.onnx-wizard.lock").exists()


@pytest.mark.parametrize("asked", [True, False])
def test_a_run_without_validation_is_never_ok(tmp_path: Path, asked: bool) -> None:
    """The child reported files but no validation: failed (and nothing promoted) when validation
    was asked for; "not_validated", never "ok", when the caller skipped it."""
    import time

    from onnx_wizard.planning.plan import ExportPlan
    from onnx_wizard.runner.process import ExportRun

    target = tmp_path / "out"
    run = ExportRun(
        ExportPlan(model="m", output=str(target), task="fill-mask"),
        log_path=tmp_path / "a.log",
        validate=asked,
    )
    run.staging = staged_export(target)
    run.job_path = run.staging.with_name(run.staging.name + ".job.json")
    run._log = run.log_path.open("w", encoding="utf-8")
    run._started = time.monotonic()
    run._result = {"event": "result", "files": [{"name": "model.onnx"}], "validation": None}
    outcome = run._finish(0)
    assert outcome.status == ("failed" if asked else "not_validated")
    assert target.exists() is (not asked)
    if asked:
        assert outcome.error == {
            "type": "NotValidated",
            "message": "the export child reported no validation",
        }
    assert not run.staging.exists()
