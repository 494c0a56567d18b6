"""Rules for the output folder: never overwrite, delete or write into a folder that holds the
user's data (the model itself, home, the current folder, a root, the Hugging Face cache).

Every check here only reads; it touches nothing. Paths are resolved (symlinks, ``..``) before
they are compared, so ``./m/../m`` and a symlink to the model folder are recognised.
"""

from __future__ import annotations

import os
from pathlib import Path

from onnx_wizard.errors import WizardError

# The small file each export leaves in its output listing the files it wrote: ``--overwrite``
# replaces only those and keeps everything else (runner/promote.py).
MANIFEST = ".onnx-wizard-manifest.json"


def resolved(path: str | os.PathLike[str]) -> Path:
    """``path`` made absolute with ``~``, ``..`` and every symlink resolved (even if missing)."""
    return Path(os.path.realpath(Path(path).expanduser()))


def hf_cache_folders() -> list[Path]:
    """Where huggingface_hub keeps downloads, as it decides it (env vars first)."""
    folders = []
    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "TRANSFORMERS_CACHE"):
        if os.environ.get(variable):
            folders.append(os.environ[variable])
    hf_home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache"), "huggingface"
    )
    folders.append(hf_home)
    return [resolved(f) for f in folders]


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def protected_reason(output: Path, source: str | os.PathLike[str] | None = None) -> str | None:
    """Why ``output`` (already resolved) must never receive an export, or None when it may."""
    if output.parent == output:
        return f"{str(output)!r} is the root of a filesystem"
    if output == resolved(Path.home()):
        return f"{str(output)!r} is your home folder"
    if output == resolved(Path.cwd()):
        return f"{str(output)!r} is the current folder"
    for cache in hf_cache_folders():
        if _inside(output, cache):
            return f"{str(output)!r} is inside the Hugging Face cache ({cache})"
    if source is not None and Path(source).expanduser().exists():
        model = resolved(source)
        if output == model:
            return f"{str(output)!r} is the model folder being exported"
        if _inside(output, model):
            return f"{str(output)!r} lies inside the model folder {str(model)!r}"
        if _inside(model, output):
            return f"{str(output)!r} contains the model folder {str(model)!r}"
    return None


def refuse_protected(
    output: str | os.PathLike[str], source: str | os.PathLike[str] | None = None
) -> Path:
    """Raise WizardError (exit 2) when ``output`` is a protected place; else return it resolved."""
    folder = resolved(output)
    reason = protected_reason(folder, source)
    if reason:
        raise WizardError(
            f"onnx-wizard will not write its export there: {reason}, and an export (or "
            "--overwrite) there could replace files you need. Nothing was touched.",
            "Choose a new, separate folder for the ONNX files, e.g. ./model-onnx",
        )
    return folder


def check_output_folder(
    output: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    source: str | os.PathLike[str] | None = None,
) -> Path:
    """Check ``output`` can receive an export; return it as a resolved path. Touches nothing.

    ``source`` is the model folder, when known: an output equal to it, inside it or around it is
    refused, like home, the current folder, a root or the Hugging Face cache, overwrite or not."""
    folder = refuse_protected(output, source)
    if folder.exists() and not folder.is_dir():
        raise WizardError(
            f"The output {str(folder)!r} is a file, not a folder.",
            "Pass a new folder name for the ONNX files.",
        )
    if folder.is_dir():
        try:
            contents = os.listdir(folder)
        except PermissionError:
            raise WizardError(
                f"The output folder {str(folder)!r} cannot be read (permission denied).",
                "Choose a folder you own, e.g. ./onnx-out",
            ) from None
        if contents and not overwrite:
            raise WizardError(
                f"The output folder {str(folder)!r} is not empty ({len(contents)} entries); "
                "onnx-wizard never overwrites a folder without your consent.",
                "Choose a new folder, or pass --overwrite to replace what onnx-wizard wrote "
                "there before (other files are kept).",
            )
    # The export writes into the folder itself, or creates it under its nearest existing parent.
    writable_root = folder if folder.is_dir() else next(p for p in folder.parents if p.exists())
    if not os.access(writable_root, os.W_OK | os.X_OK) or _read_only_mount(writable_root):
        raise WizardError(
            f"Cannot write to {str(folder)!r}: {str(writable_root)!r} is not writable.",
            "Choose an output folder in a place you can write to, e.g. ./onnx-out",
        )
    return folder


def _read_only_mount(folder: Path) -> bool:
    """True on a read-only filesystem, which os.access misses for root."""
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # no statvfs on Windows
        return False
