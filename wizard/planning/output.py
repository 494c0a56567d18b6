"""Rules for the output folder: never overwrite a user's files without consent."""

from __future__ import annotations

import os
from pathlib import Path

from onnx_wizard.errors import WizardError


def check_output_folder(output: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Check ``output`` can receive an export; return it as an absolute path. Touches nothing."""
    folder = Path(output).expanduser().absolute()
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
                "Choose a new folder, or pass --overwrite to replace what is in it.",
            )
    # The export writes into the folder itself, or creates it under its nearest existing parent.
    writable_root = folder if folder.is_dir() else next(p for p in folder.parents if p.exists())
    if not os.access(writable_root, os.W_OK | os.X_OK):
        raise WizardError(
            f"Cannot write to {str(folder)!r}: {str(writable_root)!r} is not writable.",
            "Choose an output folder in a place you can write to, e.g. ./onnx-out",
        )
    return folder
