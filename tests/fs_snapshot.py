"""A fingerprint of a folder tree, to prove a command changed nothing on disk."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    """Map each path under ``root`` to (mode, mtime_ns, sha256 of content or '' for folders)."""
    entries: dict[str, tuple[int, int, str]] = {}
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            path = Path(folder) / name
            info = path.lstat()
            digest = ""
            if path.is_file() and not path.is_symlink():
                try:
                    digest = hashlib.sha256(path.read_bytes()).hexdigest()
                except PermissionError:
                    digest = "<unreadable>"
            entries[str(path.relative_to(root))] = (info.st_mode, info.st_mtime_ns, digest)
    return entries
