"""How fast everything stops: Ctrl-C of `onnx-wizard export` at each stage (until the wizard and
its children are gone), and SIGKILL of the wizard (until its orphaned export child is gone).

Usage: python bench/bench_stop.py  (builds the tiny T5 sample if needed; about a minute)
"""

from __future__ import annotations

import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.faults import WizardRun, assert_nothing_left_running


def measure(signum: int, stage: str, model: str) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-stop-") as folder:
        root = Path(folder)
        run = WizardRun("export", model, str(root / "out"), cwd=root)
        run.wait_for_stage(stage)
        sent = run.signal(signum)
        run.finish()
        assert_nothing_left_running(run, root, within=10)
        return time.monotonic() - sent


def main() -> None:
    from onnx_wizard.inspection.samples import ensure_sample

    model = str(ensure_sample("t5"))
    for signum, stage in [
        (signal.SIGINT, "load"),
        (signal.SIGINT, "export"),
        (signal.SIGINT, "validate"),
        (signal.SIGKILL, "export"),
    ]:
        seconds = measure(signum, stage, model)
        print(
            f"{signal.Signals(signum).name:8} during {stage:9} everything gone in {seconds:.2f} s"
        )


if __name__ == "__main__":
    main()
