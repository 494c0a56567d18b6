"""Tie a child process's life to its parent's: when the wizard ends, however it ends (SIGKILL,
a kernel restart, a closed terminal), its export, validation and fallback children end too.

The parent passes its pid in ``ONNX_WIZARD_PARENT_PID`` (:func:`child_environment`); each child
calls :func:`tie_to_parent` first thing. On Linux the kernel does it (``PR_SET_PDEATHSIG``); a
watcher thread that polls the parent covers macOS and Windows, and the moment between fork and
prctl on Linux. Light: imports nothing heavy.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time

PARENT_VARIABLE = "ONNX_WIZARD_PARENT_PID"
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
WATCH_SECONDS = 0.25  # how often the fallback watcher looks at the parent


def child_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a child that should end with this process."""
    return {**(os.environ if env is None else env), PARENT_VARIABLE: str(os.getpid())}


def _end_now() -> None:
    """End this process and its own process group (the child's helpers), without teardown."""
    with contextlib.suppress(OSError):
        if os.getpgid(0) == os.getpid():  # we lead our group: take our helpers with us
            os.killpg(os.getpid(), signal.SIGKILL)
    os._exit(137)


def _set_parent_death_signal() -> bool:
    """Ask Linux to SIGKILL this process when its parent thread ends. False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _parent_alive(parent: int) -> bool:
    # Re-parenting (to init or a subreaper) means the parent is gone, even if its pid is reused.
    if os.getppid() != parent:
        return False
    if sys.platform == "win32":  # no getppid semantics for a dead parent there: ask psutil
        import psutil

        return bool(psutil.pid_exists(parent))
    return True


def _watch(parent: int) -> None:
    while True:
        if not _parent_alive(parent):
            _end_now()
        time.sleep(WATCH_SECONDS)


def tie_to_parent() -> None:
    """Make this child end when the process named in ``ONNX_WIZARD_PARENT_PID`` ends.

    Without the variable (a child started by hand) it does nothing. Why both mechanisms: the
    death signal is instant but Linux-only and fires when the parent *thread* ends; the watcher
    works everywhere and catches a parent that died before prctl took effect."""
    value = os.environ.get(PARENT_VARIABLE, "")
    if not value.isdigit():
        return
    parent = int(value)
    _set_parent_death_signal()
    if not _parent_alive(parent):  # it died before the death signal was armed
        _end_now()
    threading.Thread(target=_watch, args=(parent,), name="parent-watch", daemon=True).start()
