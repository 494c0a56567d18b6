"""Helpers for the fault-injection tests: a real `onnx-wizard export` process, its stages read
from its own progress lines, every process of the run tracked, and the folder fingerprints."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import psutil

from tests.fs_snapshot import snapshot

# The progress line each stage of `onnx-wizard export` prints on stderr (cli/export.py).
STAGE_LINES = {
    "load": "loading the model and its ONNX configuration",
    "export": "exporting submodel",
    "validate": "validating against PyTorch",
}
LEFTOVER = re.compile(r"\.(partial|replaced)-\d+-|\.job\.json$|\.onnx-wizard\.lock$")


class WizardRun:
    """``python -m onnx_wizard ARGS`` with its stderr collected and its process tree watched."""

    def __init__(
        self,
        *args: str,
        cwd: Path,
        env: dict[str, str] | None = None,
        preexec: Callable[[], None] | None = None,
    ) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "onnx_wizard", *args],
            cwd=cwd,
            env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=preexec,
        )
        self.lines: list[str] = []
        self._out: list[str] = []
        self.seen: dict[int, psutil.Process] = {}
        # Both pipes are drained by threads (communicate() would race them for stderr).
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stderr, self.lines)),
            threading.Thread(target=self._read, args=(self.process.stdout, self._out)),
        ]
        for reader in self._readers:
            reader.daemon = True
            reader.start()
        threading.Thread(target=self._watch, daemon=True).start()

    @staticmethod
    def _read(stream: IO[str] | None, into: list[str]) -> None:
        assert stream is not None
        for line in stream:
            into.append(line)

    def _watch(self) -> None:
        """Note every descendant while the run lives: after a SIGKILL they are orphans."""
        while self.process.poll() is None:
            try:
                root = psutil.Process(self.process.pid)
                for child in [root, *root.children(recursive=True)]:
                    self.seen.setdefault(child.pid, child)
            except psutil.Error:
                pass
            time.sleep(0.02)

    def wait_for(self, predicate: Callable[[], bool], what: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if self.process.poll() is not None:
                raise AssertionError(f"the run ended before {what}:\n{''.join(self.lines)}")
            if time.monotonic() > deadline:
                raise AssertionError(f"never reached {what}:\n{''.join(self.lines)}")
            time.sleep(0.005)

    def wait_for_stage(self, stage: str) -> None:
        self.wait_for(lambda: any(STAGE_LINES[stage] in line for line in self.lines), stage)

    def child_pids(self) -> list[int]:
        return [pid for pid in self.seen if pid != self.process.pid]

    def signal(self, signum: int) -> float:
        """Send ``signum`` to the wizard; return when it was sent (monotonic)."""
        self.process.send_signal(signum)
        return time.monotonic()

    def finish(self, timeout: float = 300) -> int:
        """Wait for the wizard to end and for its output to be read to the end."""
        self.process.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=30)
        return self.process.returncode

    @property
    def stdout(self) -> str:
        return "".join(self._out)

    @property
    def stderr(self) -> str:
        return "".join(self.lines)


def alive(processes: dict[int, psutil.Process]) -> list[psutil.Process]:
    """The processes that still run (a zombie nobody has reaped yet has ended)."""
    running = []
    for process in processes.values():
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                running.append(process)
        except psutil.Error:
            continue
    return running


def processes_mentioning(text: str) -> list[psutil.Process]:
    """Running processes whose command line mentions ``text`` (a test's private folder)."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        try:
            if process.info["status"] == psutil.STATUS_ZOMBIE or process.pid == os.getpid():
                continue
            if any(text in part for part in process.info["cmdline"] or ()):
                found.append(process)
        except psutil.Error:
            continue
    return found


def assert_nothing_left_running(run: WizardRun, folder: Path, within: float = 5.0) -> float:
    """Within ``within`` seconds no process of the run remains; returns how long it took."""
    started = time.monotonic()
    while True:
        left = alive(run.seen) + processes_mentioning(str(folder))
        if not left:
            return time.monotonic() - started
        if time.monotonic() - started > within:
            raise AssertionError(f"still running after {within} s: {left}")
        time.sleep(0.05)


def leftovers(folder: Path) -> list[str]:
    """Staging folders, job files, folders moved aside and lock files under ``folder``."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if LEFTOVER.search(p.name))


def user_view(root: Path) -> dict[str, tuple[int, int, str]]:
    """A fingerprint of ``root`` without the wizard's own home and without leftovers."""
    return {
        k: v
        for k, v in snapshot(root).items()
        if not k.startswith("wizard-home") and not LEFTOVER.search(k.split("/")[0])
    }
