"""Where onnx-wizard keeps its own files: sample models, caches and saved sessions."""

from __future__ import annotations

import os
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
