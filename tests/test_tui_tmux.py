"""Smoke test: the real ``onnx-wizard`` command in tmux shows its first screen fast and quits."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(
    TMUX is None, reason="tmux is not installed (Debian/Ubuntu: apt-get install tmux)"
)
FIRST_SCREEN = "Welcome: which model?"


def wizard_command() -> list[str]:
    found = shutil.which("onnx-wizard")
    return [found] if found else [sys.executable, "-m", "onnx_wizard"]


def test_onnx_wizard_in_tmux_shows_its_first_screen_within_2s_and_quits(
    tmp_path: Path, wizard_home: Path
) -> None:
    assert TMUX is not None
    # A private server on a socket in tmp_path: no user config, nothing left behind.
    tmux = [TMUX, "-S", str(tmp_path / "tmux.sock"), "-f", "/dev/null"]
    status = tmp_path / "exit-status"
    output = tmp_path / "out"
    argv = [*wizard_command(), "--model", "sample:gpt2", "--output", str(output)]
    command = f"{shlex.join(argv)}; echo $? > {shlex.quote(str(status))}"

    def screen() -> str:
        shown = subprocess.run(
            [*tmux, "capture-pane", "-p", "-t", "wizard"], capture_output=True, text=True
        )
        return shown.stdout

    # The tmux server hands its environment to the app. pytest sets COLUMNS/LINES (80x24),
    # which would override the pane's real size: leave them out, as a user's shell would.
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TMUX")}
    began = time.monotonic()
    subprocess.run(
        [*tmux, "new-session", "-d", "-x", "120", "-y", "40", "-s", "wizard", command],
        check=True,
        env=env,
    )
    try:
        text = ""
        while FIRST_SCREEN not in text and time.monotonic() - began < 10:
            time.sleep(0.05)
            text = screen()
        took = time.monotonic() - began
        assert FIRST_SCREEN in text, text
        assert took < 2.0, f"first screen after {took:.2f} s"
        time.sleep(0.3)  # let the pre-filled fields draw
        text = screen()
        assert "sample:gpt2" in text and str(output) in text  # --model/--output pre-fill

        subprocess.run([*tmux, "send-keys", "-t", "wizard", "C-q"], check=True)
        deadline = time.monotonic() + 10
        while not status.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert status.read_text().strip() == "0"
        assert not output.exists()
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
