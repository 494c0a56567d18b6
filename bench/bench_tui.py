"""Time to the terminal app's first screen: headless (Textual's run_test) and for real in tmux.

Both start a fresh Python process each time, so interpreter start and every import count.
``python bench/bench_tui.py [--runs N] [--json]``; exits 1 if a median passes the 1 s budget.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BUDGET_SECONDS = 1.0
FIRST_SCREEN = "Welcome: which model?"

# Runs the app headless; prints a line once its first screen is mounted.
HEADLESS = """
import asyncio
from onnx_wizard.widgets.tui.app import WizardApp

async def main():
    app = WizardApp()
    async with app.run_test(size=(80, 24)):
        # run_test returns once the app is mounted and ready: the first screen is up.
        assert "Welcome" in str(app.query_one("#title").render())
        assert app.query_one("#field-source")
        print("FIRST-SCREEN", flush=True)

asyncio.run(main())
"""


def headless_once(env: dict[str, str]) -> float:
    began = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", HEADLESS], stdout=subprocess.PIPE, text=True, env=env
    )
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith("FIRST-SCREEN"):
            took = time.perf_counter() - began
            break
    else:
        raise RuntimeError("the headless app never showed its first screen")
    child.wait(timeout=30)
    return took


def tmux_once(env: dict[str, str], tmux: str, run: int, folder: str) -> float:
    socket = os.path.join(folder, f"tmux-{run}.sock")  # a fresh private server each time
    base = [tmux, "-S", socket, "-f", "/dev/null"]
    wizard = shutil.which("onnx-wizard") or f"{sys.executable} -m onnx_wizard"
    began = time.perf_counter()
    subprocess.run(
        [*base, "new-session", "-d", "-x", "120", "-y", "40", "-s", "bench", wizard],
        check=True,
        env=env,
    )
    try:
        while time.perf_counter() - began < 20:
            shown = subprocess.run(
                [*base, "capture-pane", "-p", "-t", "bench"], capture_output=True, text=True
            ).stdout
            if FIRST_SCREEN in shown:
                return time.perf_counter() - began
            time.sleep(0.02)
        raise RuntimeError("onnx-wizard never showed its first screen in tmux")
    finally:
        subprocess.run([*base, "kill-server"], capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-tui-") as folder:
        # A private home: no saved session, so the first screen is the wizard's own.
        env = {**os.environ, "ONNX_WIZARD_HOME": folder, "HF_HUB_OFFLINE": "1"}
        for name in ("COLUMNS", "LINES", "TMUX"):  # the pane's own size, not an inherited one
            env.pop(name, None)
        results = {"headless": [headless_once(env) for _ in range(args.runs)]}
        tmux = shutil.which("tmux")
        if tmux:
            results["tmux"] = [tmux_once(env, tmux, n, folder) for n in range(args.runs)]
    medians = {name: statistics.median(times) for name, times in results.items()}
    if args.json:
        print(json.dumps({"median_seconds": medians, "runs": results}, indent=2))
    else:
        for name, times in results.items():
            shown = ", ".join(f"{t:.2f}" for t in times)
            print(f"first screen, {name:8}: median {medians[name]:.2f} s  ({shown})")
        if not tmux:
            print("tmux not found: the real-terminal figure was skipped")
        print(f"budget: {BUDGET_SECONDS:.1f} s ({shlex.quote(sys.executable)})")
    return 0 if all(m < BUDGET_SECONDS for m in medians.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
