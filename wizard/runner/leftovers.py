"""Find what runs that died left behind (staging folders, job files), wherever they wrote.

Each run notes the folder it stages in under ``<wizard home>/running/PID.json`` while it runs.
:func:`sweep_leftovers` (called when the wizard starts) visits the folders of every pid that has
ended and removes its leftovers there (``runner.promote.sweep_stale``), then the note.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from pathlib import Path

from onnx_wizard.paths import home

_guard = threading.Lock()


def _note() -> Path:
    return home() / "running" / f"{os.getpid()}.json"


def _read(path: Path) -> list[str]:
    try:
        folders = json.loads(path.read_text(encoding="utf-8"))
        return [str(f) for f in folders] if isinstance(folders, list) else []
    except (OSError, ValueError):
        return []


def _write(path: Path, folders: list[str]) -> None:
    if not folders:
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            path.parent.rmdir()  # only when empty: no other run is noted
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(folders), encoding="utf-8")
    partial.replace(path)


def register(folder: Path) -> None:
    """Note that this process stages in ``folder`` (a target's parent) until unregistered."""
    with _guard, contextlib.suppress(OSError):
        note = _note()
        folders = _read(note)
        _write(note, [*folders, str(folder)])


def unregister(folder: Path) -> None:
    with _guard, contextlib.suppress(OSError):
        note = _note()
        folders = _read(note)
        if str(folder) in folders:
            folders.remove(str(folder))
        _write(note, folders)


def sweep_leftovers() -> list[Path]:
    """Remove what ended runs left; returns the paths removed (or restored)."""
    from onnx_wizard.staging import pid_alive, sweep_stale

    removed: list[Path] = []
    running = home() / "running"
    if not running.is_dir():
        return removed
    for note in running.glob("*.json"):
        if not note.stem.isdigit() or pid_alive(int(note.stem)):
            continue
        for folder in dict.fromkeys(_read(note)):
            removed += sweep_stale(Path(folder))
        note.unlink(missing_ok=True)
    return removed
