"""Staging folders and the promote that moves a finished export into place without losing data.

An export is written into a staging folder beside the target, named with the owner's pid
(``.OUT.partial-PID-XXXX``). Promoting it:

1. writes the manifest (the files this export wrote) into the staging folder;
2. links every file of the old target that onnx-wizard did not write into the staging folder
   (a hard link: no copy, no extra space); a name the new export also uses goes to a backup folder
   beside the target instead, which the result names;
3. swaps staging and target in one step (Linux ``renameat2(RENAME_EXCHANGE)``), else renames the
   old target aside first;
4. removes the old target (now at the staging name).

A crash at any point leaves the target as the old one or the new one with the user's files, never
a mix; whatever is left at a staging name is then only onnx-wizard's and is removed at the next
start by :func:`onnx_wizard.staging.sweep_stale` once its owner pid has ended.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from onnx_wizard.planning.output import MANIFEST
from onnx_wizard.staging import new_folder_mode, target_name

RENAME_EXCHANGE = 2  # from <linux/fs.h>
AT_FDCWD = -100


@dataclass
class Promoted:
    """What the promote did with files it did not write."""

    kept: list[str] = field(default_factory=list)  # left in the new output, unchanged
    backed_up: list[str] = field(default_factory=list)  # moved to ``backup`` (a name clash)
    backup: str | None = None


def read_manifest(folder: Path) -> set[str]:
    """The files the export in ``folder`` wrote, by relative path (empty when it has none)."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        return {str(name) for name in data.get("files", [])}
    except (OSError, ValueError, AttributeError):
        return set()


def write_manifest(staging: Path) -> list[str]:
    files = sorted(str(p.relative_to(staging)) for p in staging.rglob("*") if p.is_file())
    manifest = {"written_by": "onnx-wizard", "time": time.time(), "files": files}
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return files


def _link_tree(source: Path, destination: Path) -> None:
    """Hard-link ``source`` (a file, symlink or folder) to ``destination``; copy if links fail."""
    if source.is_symlink():
        os.symlink(os.readlink(source), destination)
    elif source.is_dir():
        destination.mkdir()
        shutil.copystat(source, destination)
        for child in source.iterdir():
            _link_tree(child, destination / child.name)
    else:
        try:
            os.link(source, destination)
        except OSError:
            shutil.copy2(source, destination)


def _carry_user_files(old: Path, staging: Path, new_files: set[str]) -> Promoted:
    """Link what onnx-wizard did not write in ``old`` into ``staging`` (or a backup folder)."""
    ours = read_manifest(old) | {MANIFEST}
    result = Promoted()
    for path in sorted(old.rglob("*")):
        relative = str(path.relative_to(old))
        if relative in ours or (path.is_dir() and not path.is_symlink()):
            continue  # folders are carried through the files in them
        if relative in new_files or (staging / relative).exists():
            if result.backup is None:
                stamp = time.strftime("%Y%m%d-%H%M%S")
                backup = old.with_name(f"{target_name(staging)}.backup-{stamp}")
                while backup.exists():
                    backup = backup.with_name(backup.name + "-1")
                result.backup = str(backup)
            destination = Path(result.backup) / relative
            result.backed_up.append(relative)
        else:
            destination = staging / relative
            result.kept.append(relative)
        destination.parent.mkdir(parents=True, exist_ok=True)
        _link_tree(path, destination)
    return result


def exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2); False where the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    done = renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE)
    return bool(done == 0)


def promote(staging: Path, target: Path) -> Promoted:
    """Move the finished export in ``staging`` to ``target``; keep every file not ours."""
    new_files = set(write_manifest(staging))
    os.chmod(staging, new_folder_mode())  # a plain mkdir's mode, not mkdtemp's 0700
    if not target.exists():
        staging.rename(target)
        return Promoted()
    result = _carry_user_files(target, staging, new_files)
    if exchange(staging, target):
        shutil.rmtree(staging, ignore_errors=True)  # the old target, now at the staging name
        return result
    aside = staging.with_name(staging.name.replace(".partial-", ".replaced-", 1))
    target.rename(aside)
    try:
        staging.rename(target)
    except OSError:
        aside.rename(target)  # put the user's folder back as it was
        raise
    shutil.rmtree(aside, ignore_errors=True)
    return result
