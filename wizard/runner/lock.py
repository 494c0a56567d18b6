"""One export at a time per output folder: a lock file beside the target that a crash cannot leave
stuck.

On Linux and macOS the lock is ``fcntl.flock`` on ``.OUT.onnx-wizard.lock``: the kernel drops it
when the holder ends, however it ends. Elsewhere the file is created exclusively with the holder's
pid inside, and a file whose pid has ended is taken over. The lock is re-entrant within a thread
(the recovery loop holds it across attempts while each attempt takes it again); another thread
of the same process (a second export in one notebook) is refused like another process.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from onnx_wizard.errors import WizardError

_held: dict[Path, tuple[IO[str], int, int]] = {}  # lock path -> (open file, depth, thread)
_guard = threading.Lock()


def lock_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.onnx-wizard.lock")


def _busy(target: Path, holder: str) -> WizardError:
    return WizardError(
        f"Another onnx-wizard (pid {holder or 'unknown'}) is exporting to {str(target)!r} right "
        "now; two exports into one folder would mix their files.",
        "Wait for that export to finish (or stop it), or choose another output folder.",
    )


def _try_flock(path: Path) -> IO[str] | None:
    import fcntl

    while True:
        handle = path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return None
        # The previous holder may have unlinked the file between our open and our lock: then
        # we hold a lock on a file nobody else can see. Retry on the path's current file.
        try:
            same = os.fstat(handle.fileno()).st_ino == path.stat().st_ino
        except FileNotFoundError:
            same = False
        if same:
            return handle
        handle.close()


def _try_exclusive_file(path: Path) -> IO[str] | None:
    """Where there is no flock: create the file exclusively; take over one left by a dead pid."""
    from onnx_wizard.staging import pid_alive

    for _ in range(2):
        try:
            return path.open("x", encoding="utf-8")
        except FileExistsError:
            text = path.read_text(encoding="utf-8", errors="replace").strip()
            if text.isdigit() and not pid_alive(int(text)):
                path.unlink(missing_ok=True)
                continue
            return None
    return None


def acquire(target: Path) -> None:
    """Take the lock for ``target`` or raise WizardError naming the holder."""
    path = lock_path(target)
    with _guard:
        if path in _held:
            held, depth, owner = _held[path]
            if owner != threading.get_ident():  # two exports in one process (a notebook)
                raise _busy(target, str(os.getpid()))
            _held[path] = (held, depth + 1, owner)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        handle: IO[str] | None
        try:
            import fcntl  # noqa: F401

            handle = _try_flock(path)
        except ImportError:
            handle = _try_exclusive_file(path)
        if handle is None:
            holder = ""
            with contextlib.suppress(OSError):
                holder = path.read_text(encoding="utf-8").strip()
            raise _busy(target, holder)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        _held[path] = (handle, 1, threading.get_ident())


def release(target: Path) -> None:
    path = lock_path(target)
    with _guard:
        if path not in _held:
            return
        handle, depth, owner = _held[path]
        if depth > 1:
            _held[path] = (handle, depth - 1, owner)
            return
        del _held[path]
        path.unlink(missing_ok=True)  # while still holding it: no one can be mid-takeover
        handle.close()


@contextlib.contextmanager
def output_lock(target: Path) -> Iterator[None]:
    acquire(target)
    try:
        yield
    finally:
        release(target)
