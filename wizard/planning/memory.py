"""Memory sizes: parse ``300MiB``/``8GiB``, pick a safe default limit, and pre-flight estimates."""

from __future__ import annotations

import re

from onnx_wizard.errors import WizardError

UNITS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "kib": 1024,
    "m": 1000**2, "mb": 1000**2, "mib": 1024**2,
    "g": 1000**3, "gb": 1000**3, "gib": 1024**3,
    "t": 1000**4, "tb": 1000**4, "tib": 1024**4,
}  # fmt: skip
SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")
# What the guard allows by default: most of what is free now, leaving room for the rest of the
# machine (the wizard itself, a browser, the desktop) so the kernel never has to kill anything.
DEFAULT_SHARE_OF_FREE = 0.85


def parse_size(text: str) -> int:
    """``"300MiB"`` -> 314572800. WizardError naming the accepted forms otherwise."""
    found = SIZE.match(text)
    unit = found[2].lower() if found else ""
    if not found or unit not in UNITS:
        raise WizardError(
            f"{text!r} is not a memory size.",
            "Write a number and a unit, e.g. 300MiB, 8GiB or 1.5GB.",
        )
    return int(float(found[1]) * UNITS[unit])


def format_size(n: float) -> str:
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def available_bytes() -> int:
    import psutil

    return int(psutil.virtual_memory().available)


def default_limit() -> int:
    return int(available_bytes() * DEFAULT_SHARE_OF_FREE)


def preflight_warning(estimate: int | None, limit: int) -> str | None:
    """A warning when the export's estimated peak does not fit under ``limit``; else None."""
    if estimate is None or estimate <= limit:
        return None
    return (
        f"The export may need about {format_size(estimate)} of RAM at its peak, more than the "
        f"{format_size(limit)} it may use. Remedies: skip the decoder merge (--no-post-process), "
        "use smaller dummy shapes (--batch_size 1 --sequence_length 16), export on a GPU in "
        "fp16 (--device cuda --dtype fp16), or pick a smaller variant of the model."
    )
