"""Where onnx-wizard keeps its own files: sample models, caches and saved sessions."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path


def home() -> Path:
    """The wizard's own folder: ``$ONNX_WIZARD_HOME``, else ``~/.cache/onnx-wizard``."""
    configured = os.environ.get("ONNX_WIZARD_HOME")
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "onnx-wizard"


def samples_dir() -> Path:
    return home() / "samples"


def cache_dir() -> Path:
    return home() / "cache"


def sessions_dir() -> Path:
    return home() / "sessions"


def folder_key(folder: str | os.PathLike[str]) -> str:
    """A short, stable, file-name-safe key for a folder: its name plus a hash of its real path.

    The saved session and the run logs of one output folder share this key, so the wizard keeps
    them in its own folder (never beside the user's output) and still finds them again."""
    real = os.path.realpath(os.path.expanduser(os.fspath(folder)))
    slug = re.sub(r"[^a-z0-9]+", "-", Path(real).name.lower()).strip("-")[:32] or "folder"
    return f"{slug}-{hashlib.sha256(real.encode()).hexdigest()[:8]}"


def run_logs_dir(output: str | os.PathLike[str]) -> Path:
    """Where the run logs of exports into ``output`` go: beside its session, in the wizard home."""
    return sessions_dir() / f"{folder_key(output)}.logs"
