"""A Jupyter kernel restarted while an export runs in it: the export child must not survive it
(it used to keep running, re-parented to init, with its staging folder left behind)."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import pytest

from tests.faults import leftovers, processes_mentioning

pytestmark = pytest.mark.slow

START_EXPORT = """\
import threading
from pathlib import Path
from onnx_wizard.planning.plan import ExportPlan
from onnx_wizard.runner.attempts import export_with_recovery

plan = ExportPlan(model={model!r}, output={output!r}, task="text2text-generation-with-past")
threading.Thread(
    target=export_with_recovery,
    args=(plan,),
    kwargs={{"report": None, "log_dir": Path({logs!r})}},
    daemon=True,
).start()
print("started")
"""


def export_children(folder: Path) -> list[object]:
    return [
        p
        for p in processes_mentioning(str(folder))
        if "onnx_wizard.runner.child" in " ".join(p.cmdline())
    ]


def test_a_kernel_restart_during_an_export_leaves_no_child_running(tmp_path: Path) -> None:
    from jupyter_client.manager import start_new_kernel

    from onnx_wizard.inspection.samples import ensure_sample
    from onnx_wizard.runner.leftovers import sweep_leftovers

    model = str(ensure_sample("t5"))
    output = tmp_path / "out"
    manager, client = start_new_kernel(
        kernel_name="python3", env={**os.environ, "HF_HUB_OFFLINE": "1"}, cwd=str(tmp_path)
    )
    try:
        code = START_EXPORT.format(model=model, output=str(output), logs=str(tmp_path / "logs"))
        reply = client.execute_interactive(textwrap.dedent(code), timeout=120)
        assert reply["content"]["status"] == "ok", reply["content"]
        deadline = time.monotonic() + 120
        while not export_children(tmp_path):
            assert time.monotonic() < deadline, "the export child never started"
            time.sleep(0.05)
        time.sleep(1.0)  # past the child's start-up: it is loading torch and the model
        children = export_children(tmp_path)
        manager.restart_kernel(now=True)
        restarted = time.monotonic()
        while export_children(tmp_path):
            assert time.monotonic() - restarted < 5, f"still running: {children}"
            time.sleep(0.05)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    assert not output.exists(), "a half-done export reached the target"
    assert leftovers(tmp_path), "the killed run left its staging folder (removed below)"
    sweep_leftovers()  # what the wizard does when it starts next
    assert leftovers(tmp_path) == []
