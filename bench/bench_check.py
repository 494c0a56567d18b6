"""Benchmark: wall time of the prerequisite checks, end to end in a fresh process each run.

Times ``python -c "from onnx_wizard.checks.environment import run_checks; run_checks()"`` and, when
an ``onnx-wizard`` command with a ``check`` subcommand is on PATH, ``onnx-wizard check``. Prints a
small table (median and max of N runs) and exits 1 when any median reaches the 1 s budget.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

BUDGET_S = 1.0


def time_command(command: list[str], runs: int) -> tuple[list[float], int]:
    """Wall seconds of each run, and the last exit code (check exits 1 when a check fails)."""
    times: list[float] = []
    code = 0
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
        code = done.returncode
    return times, code


def cli_supports_check(exe: str) -> bool:
    try:
        command = [exe, "check", "--help"]
        done = subprocess.run(command, capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=5)
    args = parser.parse_args(argv)

    targets: list[tuple[str, list[str]]] = [
        (
            "python -c run_checks()",
            [
                sys.executable,
                "-c",
                "from onnx_wizard.checks.environment import run_checks; run_checks()",
            ],
        )
    ]
    exe = shutil.which("onnx-wizard")
    if exe and cli_supports_check(exe):
        targets.append(("onnx-wizard check", [exe, "check"]))
    else:
        print("onnx-wizard check: not available, skipped")

    rows: list[tuple[str, float, float, int]] = []
    for label, command in targets:
        times, code = time_command(command, args.runs)
        rows.append((label, statistics.median(times), max(times), code))

    width = max(len(label) for label, *_ in rows)
    print(f"{'command':<{width}}  {'median s':>8}  {'max s':>6}  exit  (n={args.runs})")
    for label, median, worst, code in rows:
        print(f"{label:<{width}}  {median:>8.3f}  {worst:>6.3f}  {code:>4}")
    slow = [label for label, median, *_ in rows if median >= BUDGET_S]
    if slow:
        print(f"over the {BUDGET_S:.1f} s budget: {', '.join(slow)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
