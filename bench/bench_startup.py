"""Time ``onnx-wizard --help`` and ``import onnx_wizard`` in fresh processes (target: < 0.3 s).

Usage: python bench/bench_startup.py [--runs N]. Exits 1 when the median misses its target.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

TARGET_S = 0.3


def time_command(command: list[str], runs: int) -> list[float]:
    subprocess.run(command, capture_output=True, check=True)  # warm the OS file cache once
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        timings.append(time.perf_counter() - start)
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    script = shutil.which("onnx-wizard")
    cases = {
        "python -c 'import onnx_wizard'": [sys.executable, "-c", "import onnx_wizard"],
        "python -m onnx_wizard --help": [sys.executable, "-m", "onnx_wizard", "--help"],
    }
    if script:
        cases["onnx-wizard --help"] = [script, "--help"]
    failed = False
    print(f"{'command':36} {'median':>8} {'max':>8}  target < {TARGET_S:.1f} s ({runs} runs)")
    for label, command in cases.items():
        timings = time_command(command, runs)
        median = statistics.median(timings)
        failed |= median >= TARGET_S
        print(f"{label:36} {median:8.3f} {max(timings):8.3f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
