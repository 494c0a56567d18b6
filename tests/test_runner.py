"""The runner's promises: cancel ends the whole tree fast, and nothing half-done lands."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from onnx_wizard.planning.plan import ExportPlan
from onnx_wizard.runner.attempts import diagnose_attempt
from onnx_wizard.runner.process import ExportRun
from tests.fs_snapshot import snapshot

pytestmark = pytest.mark.slow


def t5_plan(tmp_path: Path, output: Path) -> ExportPlan:
    from onnx_wizard.inspection.samples import ensure_sample

    return ExportPlan(
        model=str(ensure_sample("t5")),
        output=str(output),
        task="text2text-generation-with-past",
    )


def run_until_export_stage(run: ExportRun) -> None:
    """Start ``run`` and return once the child is tracing (torch loaded, files being written)."""
    exporting = threading.Event()
    original = run.on_event

    def watch(event: dict[str, Any]) -> None:
        original(event)
        if event.get("event") == "stage" and event.get("stage") == "export":
            exporting.set()

    run.on_event = watch
    run.start()
    assert exporting.wait(timeout=120), "the export never reached its export stage"


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def test_cancel_ends_the_process_tree_within_2s_and_leaves_the_target(tmp_path: Path) -> None:
    output = tmp_path / "out"
    output.mkdir()
    (output / "notes.txt").write_text("the user's files", encoding="utf-8")
    before = snapshot(tmp_path)
    run = ExportRun(t5_plan(tmp_path, output), log_path=tmp_path / "logs" / "a.log")
    run_until_export_stage(run)
    assert run._process is not None
    pid = run._process.pid
    tree = [psutil.Process(pid), *descendants(pid)]
    started = time.monotonic()
    run.cancel()
    outcome = run.wait()
    assert time.monotonic() - started < 2.0
    assert outcome.status == "cancelled"
    _, alive = psutil.wait_procs(tree, timeout=0.5)
    assert not alive, f"still running: {alive}"
    # The wizard's own home (its note of running exports) is not the user's: compare the rest.
    mine = ("logs", "wizard-home")
    after = {k: v for k, v in snapshot(tmp_path).items() if not k.startswith(mine)}
    assert after == {k: v for k, v in before.items() if not k.startswith(mine)}
    assert "cancelled" in (tmp_path / "logs" / "a.log").read_text(encoding="utf-8")


def test_sigkill_from_outside_is_recognised_as_out_of_memory(tmp_path: Path) -> None:
    output = tmp_path / "out"
    run = ExportRun(t5_plan(tmp_path, output), log_path=tmp_path / "a.log")
    run_until_export_stage(run)
    assert run._process is not None
    os.kill(run._process.pid, signal.SIGKILL)  # what the kernel's OOM killer does
    outcome = run.wait()
    assert outcome.status == "failed" and outcome.killed_by_system
    assert not output.exists()
    diagnoses = diagnose_attempt(outcome, run.plan, {"is_encoder_decoder": True})
    assert diagnoses[0]["category"] == "out_of_memory"
    actions = [r["action"] for r in diagnoses[0]["remedies"]]
    assert "reduce_shapes" in actions and "no_post_process" in actions


def test_events_arrive_in_order_with_progress(tmp_path: Path) -> None:
    events: list[dict[str, Any]] = []
    plan = t5_plan(tmp_path, tmp_path / "out")
    outcome = ExportRun(plan, log_path=tmp_path / "a.log", on_event=events.append).run()
    assert outcome.status == "ok", outcome.log_text()[-2000:]
    stages = [e["stage"] for e in events if e["event"] == "stage"]
    assert stages[0] == "load" and stages[-1] == "validate"
    assert stages.count("export") == 3 and "post_process" in stages
    fractions = [e["fraction"] for e in events if e["event"] == "progress"]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any(e["event"] == "log" for e in events)
    assert events[-1]["event"] == "finished" and events[-1]["status"] == "ok"
    assert outcome.peak_rss > 100 * 2**20
