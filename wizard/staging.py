"""Folders that are half-written on purpose: naming them by owner pid, and removing what a
process that died left behind.

A staging folder beside a target ``OUT`` is ``.OUT.partial-PID-XXXX`` (its job file adds
``.job.json``); an old target moved aside during a promote is ``.OUT.replaced-PID-XXXX``. The pid
lets the next start tell a dead run's leftovers from a live run's work. Light: used by the
runner and by the sample builder alike.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
from pathlib import Path

LEFTOVER = re.compile(
    r"^\.(?P<name>.+)\.(?:partial|replaced)-(?P<pid>\d+)-[A-Za-z0-9_]+(\.job\.json)?$"
)
LOCK = re.compile(r"^\.(?P<name>.+)\.onnx-wizard\.lock$")  # runner/lock.py; holds the pid


def new_folder_mode() -> int:
    """The mode a plain ``mkdir`` would give a new folder here: 0o777 minus the umask."""
    umask = None
    try:  # Linux shows the umask without changing it (os.umask would, for every thread)
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("Umask:"):
                umask = int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    if umask is None:
        umask = os.umask(0o022)
        os.umask(umask)
    return 0o777 & ~umask


def make_staging(target: Path) -> Path:
    """A new, empty staging folder beside ``target``, named with this pid; private (0700) while
    half-written, given the umask's mode when it is promoted."""
    target.parent.mkdir(parents=True, exist_ok=True)
    while True:
        staging = target.with_name(f".{target.name}.partial-{os.getpid()}-{secrets.token_hex(4)}")
        try:
            staging.mkdir(mode=0o700)
            return staging
        except FileExistsError:
            continue


def target_name(staging: Path) -> str:
    """The target a staging (or aside) folder belongs to, by name."""
    found = LEFTOVER.match(staging.name)
    return found["name"] if found else staging.name


def pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        import psutil

        return bool(psutil.pid_exists(pid)) and psutil.Process(pid).status() != "zombie"
    except Exception:  # psutil.Error, or no psutil: assume alive, never remove a live run's files
        return True


def sweep_stale(parent: Path, name: str | None = None) -> list[Path]:
    """Remove staging folders and job files in ``parent`` whose owner process has ended.

    ``name`` limits it to leftovers of one target. An old target renamed aside whose new target
    never arrived is put back, not removed. Returns what was removed or restored."""
    done: list[Path] = []
    try:
        entries = list(parent.iterdir())
    except OSError:
        return done
    for path in entries:
        lock = LOCK.match(path.name)
        if lock and (name is None or lock["name"] == name) and _remove_stale_lock(path):
            done.append(path)
        found = LEFTOVER.match(path.name)
        if not found or (name is not None and found["name"] != name):
            continue
        if pid_alive(int(found["pid"])):
            continue
        target = parent / found["name"]
        with contextlib.suppress(OSError):
            if ".replaced-" in path.name and path.is_dir() and not target.exists():
                path.rename(target)  # the crash came between the two renames of a promote
            elif path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            done.append(path)
    return done


def _remove_stale_lock(path: Path) -> bool:
    """Remove a lock file whose holder has ended (the kernel already dropped its flock)."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return False
    if not text.isdigit() or pid_alive(int(text)):
        return False
    try:
        import fcntl
    except ImportError:  # no flock: the pid in the file is the whole lock
        path.unlink(missing_ok=True)
        return True
    with path.open("a", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # a new holder took it since: it is not stale
        path.unlink(missing_ok=True)  # while holding it, so no one is mid-takeover
    return True
