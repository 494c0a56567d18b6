"""Fault injection: real `onnx-wizard export` processes killed, interrupted, starved of disk or
time at each stage. Each fault is checked for "nothing lost, nothing left running": no process
of the run remains (within 5 s after SIGKILL, 2 s after Ctrl-C), the target is the old one or
the new validated one, never a mix, and the next start removes what a killed run left."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.faults import (
    WizardRun,
    assert_nothing_left_running,
    leftovers,
    processes_mentioning,
)
from tests.fs_snapshot import snapshot

pytestmark = pytest.mark.slow

USER_FILES = 2000  # an old target with many files of the user's makes the promote measurable


@pytest.fixture
def old_target(tmp_path: Path) -> Path:
    """An output folder holding the user's files (no onnx-wizard manifest)."""
    output = tmp_path / "out"
    output.mkdir()
    (output / "model.onnx").write_bytes(b"the user's previous model.onnx")
    (output / "notes.txt").write_text("the user's notes", encoding="utf-8")
    return output


def next_start_cleans(tmp_path: Path, model: str, output: Path) -> None:
    """A later `onnx-wizard export` (refused here: the output is not empty) sweeps first."""
    done = subprocess.run(
        [sys.executable, "-m", "onnx_wizard", "export", model, str(output)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert leftovers(tmp_path) == []


def test_sigkill_of_the_wizard_during_the_export(
    tmp_path: Path, sample_bert: Path, old_target: Path
) -> None:
    before = snapshot(old_target)
    run = WizardRun("export", str(sample_bert), str(old_target), "--overwrite", cwd=tmp_path)
    run.wait_for_stage("export")
    run.signal(signal.SIGKILL)
    run.finish()
    assert run.child_pids(), "the export child was never seen"
    assert_nothing_left_running(run, tmp_path)
    assert snapshot(old_target) == before
    assert leftovers(tmp_path), "expected the killed run's staging folder (found nothing)"
    next_start_cleans(tmp_path, str(sample_bert), old_target)
    assert snapshot(old_target) == before


def test_sigkill_of_the_wizard_during_validation(tmp_path: Path, old_target: Path) -> None:
    from onnx_wizard.inspection.samples import ensure_sample

    model = str(ensure_sample("gpt2"))
    before = snapshot(old_target)
    run = WizardRun("export", model, str(old_target), "--overwrite", cwd=tmp_path)
    run.wait_for_stage("validate")
    run.signal(signal.SIGKILL)
    run.finish()
    assert_nothing_left_running(run, tmp_path)
    assert snapshot(old_target) == before
    next_start_cleans(tmp_path, model, old_target)


def test_sigkill_of_the_wizard_during_the_promote(
    tmp_path: Path, sample_bert: Path, old_target: Path
) -> None:
    for number in range(USER_FILES):
        (old_target / f"user-{number}.txt").write_text(str(number), encoding="ascii")
    before = snapshot(old_target)
    run = WizardRun("export", str(sample_bert), str(old_target), "--overwrite", cwd=tmp_path)
    # The promote starts by writing the manifest into the staging folder.
    run.wait_for(
        lambda: any(tmp_path.glob(".out.partial-*/.onnx-wizard-manifest.json")), "the promote"
    )
    run.signal(signal.SIGKILL)
    run.finish()
    assert_nothing_left_running(run, tmp_path)
    after = snapshot(old_target)
    if after != before:  # the swap happened: the new export, with every file of the user's
        assert (old_target / ".onnx-wizard-manifest.json").is_file()
        assert (old_target / "model.onnx").read_bytes() != b"the user's previous model.onnx"
        for name, (_, _, digest) in before.items():
            if name != "model.onnx":
                assert after[name][2] == digest, f"{name} was lost or changed"
    next_start_cleans(tmp_path, str(sample_bert), old_target)
    assert len(list(old_target.glob("user-*.txt"))) == USER_FILES


def test_sigkill_of_the_export_child(tmp_path: Path, sample_bert: Path, old_target: Path) -> None:
    before = snapshot(old_target)
    run = WizardRun(
        "export", str(sample_bert), str(old_target), "--overwrite", "--json", cwd=tmp_path
    )
    run.wait_for_stage("load")
    run.wait_for(lambda: bool(run.child_pids()), "the export child")
    os.kill(run.child_pids()[0], signal.SIGKILL)
    assert run.finish() == 1
    assert '"killed_by_system": true' in run.stdout
    assert_nothing_left_running(run, tmp_path)
    assert snapshot(old_target) == before
    assert leftovers(tmp_path) == []  # the wizard lived: it cleaned up itself


STAGES = [
    (signal.SIGINT, "build"),
    (signal.SIGTERM, "build"),
    (signal.SIGINT, "load"),
    (signal.SIGTERM, "load"),
    (signal.SIGTERM, "export"),
    (signal.SIGINT, "validate"),
]


@pytest.mark.parametrize(("signum", "stage"), STAGES, ids=[f"{s.name}-{t}" for s, t in STAGES])
def test_ctrl_c_and_sigterm_at_each_stage_stop_everything_within_2s(
    tmp_path: Path, old_target: Path, signum: signal.Signals, stage: str
) -> None:
    env = {}
    if stage == "build":  # a home without samples, so the sample is built by this run
        env["ONNX_WIZARD_HOME"] = str(tmp_path / "fresh-home")
    else:
        from onnx_wizard.inspection.samples import ensure_sample

        ensure_sample("t5")
    before = snapshot(old_target)
    run = WizardRun("export", "sample:t5", str(old_target), "--overwrite", cwd=tmp_path, env=env)
    if stage == "build":
        run.wait_for(
            lambda: any((tmp_path / "fresh-home" / "samples").glob(".t5.partial-*")),
            "the sample build",
        )
        run.wait_for(lambda: bool(run.child_pids()), "the sample builder")
    else:
        run.wait_for_stage(stage)
    sent = run.signal(signum)
    assert run.finish() == 130, run.stderr
    assert_nothing_left_running(run, tmp_path, within=max(0.1, 2.0 - (time.monotonic() - sent)))
    assert time.monotonic() - sent < 2.0
    assert snapshot(old_target) == before
    assert leftovers(tmp_path) == [], "Ctrl-C and SIGTERM clean up at once"


def test_a_disk_that_fills_fails_clearly_and_leaves_the_target(
    tmp_path: Path, sample_bert: Path, old_target: Path
) -> None:
    # Every file the run writes may grow to 64 KiB; the model is ~140 KiB. Python ignores
    # SIGXFSZ, so the write fails with EFBIG ("File too large") as on a full disk.
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    before = snapshot(old_target)
    run = WizardRun(
        "export", str(sample_bert), str(old_target), "--overwrite", cwd=tmp_path, preexec=limit
    )
    assert run.finish() == 1
    assert "Export failed" in run.stderr and "Full log:" in run.stderr
    log = Path(run.stderr.split("Full log:")[1].split()[0]).read_text(encoding="utf-8")
    assert "File too large" in log
    assert snapshot(old_target) == before
    assert leftovers(tmp_path) == []
    assert_nothing_left_running(run, tmp_path)


def test_a_read_only_output_parent_is_refused(tmp_path: Path, sample_bert: Path) -> None:
    parent = tmp_path / "ro"
    parent.mkdir()
    (parent / "out").mkdir()
    (parent / "out" / "notes.txt").write_text("mine", encoding="utf-8")
    mounted = subprocess.run(["mount", "--bind", str(parent), str(parent)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {mounted.stderr.decode().strip()}")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(parent)], check=True)
        before = snapshot(parent)
        run = WizardRun(
            "export", str(sample_bert), str(parent / "out"), "--overwrite", cwd=tmp_path
        )
        assert run.finish() == 2
        assert "not writable" in run.stderr and "fix:" in run.stderr
        assert snapshot(parent) == before
    finally:
        subprocess.run(["umount", str(parent)], check=True)


def test_timeout_bounds_the_run(tmp_path: Path, sample_bert: Path, old_target: Path) -> None:
    before = snapshot(old_target)
    started = time.monotonic()
    run = WizardRun(
        "export", str(sample_bert), str(old_target), "--overwrite", "--timeout", "2", cwd=tmp_path
    )
    assert run.finish() == 1
    assert time.monotonic() - started < 15
    assert "--timeout" in run.stderr
    assert_nothing_left_running(run, tmp_path)
    assert snapshot(old_target) == before
    assert leftovers(tmp_path) == []


def test_a_token_never_reaches_the_kept_log_or_the_events(
    tmp_path: Path,
    sample_bert: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The child's interpreter echoes an invalid PYTHONWARNINGS value on stderr at start: a
    real library-style print of a secret, which the runner must mask before keeping it."""
    from onnx_wizard.planning.plan import ExportPlan
    from onnx_wizard.runner.process import ExportRun

    token = "hf_" + "Ab1" * 12
    monkeypatch.setenv("PYTHONWARNINGS", f"{token}:Authorization: Bearer sekret-value")
    events: list[dict[str, object]] = []
    plan = ExportPlan(
        model=str(sample_bert), output=str(tmp_path / "out"), task="text-classification"
    )
    run = ExportRun(plan, log_path=tmp_path / "logs" / "a.log", on_event=events.append)
    seen_log = []

    def watch(event: dict[str, object]) -> None:
        events.append(event)
        if event.get("event") == "log":
            seen_log.append(event)
            run.cancel()

    run.on_event = watch
    run.start()
    outcome = run.wait()
    assert outcome.status == "cancelled"
    kept = (tmp_path / "logs" / "a.log").read_text(encoding="utf-8")
    assert "Invalid -W option" in kept and "hf_***" in kept, kept
    shown = kept + repr(events) + capsys.readouterr().out
    assert token not in shown and "sekret-value" not in shown


def test_cancel_while_a_sample_is_built_stops_it_within_2s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A face's Cancel during "building the sample" (no signal: another thread asks)."""
    import threading

    from onnx_wizard.inspection.samples import cancel_builds, ensure_sample

    monkeypatch.setenv("ONNX_WIZARD_HOME", str(tmp_path / "fresh-home"))
    raised: list[BaseException] = []

    def build() -> None:
        try:
            ensure_sample("gpt2")
        except BaseException as error:
            raised.append(error)

    worker = threading.Thread(target=build)
    worker.start()
    samples = tmp_path / "fresh-home" / "samples"
    deadline = time.monotonic() + 60
    while not any(processes_mentioning(str(samples))):
        assert time.monotonic() < deadline, "the builder never started"
        time.sleep(0.01)
    builders = processes_mentioning(str(samples))
    started = time.monotonic()
    cancel_builds()
    worker.join(timeout=5)
    assert time.monotonic() - started < 2.0
    assert raised and isinstance(raised[0], KeyboardInterrupt)
    assert not [p for p in builders if p.is_running() and p.status() != "zombie"]
    assert not (samples / "gpt2-v1").exists() and leftovers(tmp_path) == []
