"""Progress lines for the CLI's slow first moments, on stderr so stdout stays the result."""

from __future__ import annotations

import sys


def say(message: str) -> None:
    """One progress line on stderr (``--json`` and pipes keep a clean stdout)."""
    print(message, file=sys.stderr, flush=True)


def announce_model(spec: str) -> None:
    """Say what the next seconds are for before a model is read: building a built-in sample the
    first time (4-7 s), or fetching a Hub model's files; a local folder reads at once."""
    from onnx_wizard.inspection.samples import SAMPLES, sample_path

    name = spec.strip().removeprefix("sample:")
    if spec.strip().startswith("sample:") and name in SAMPLES:
        if not (sample_path(name) / "config.json").exists():
            say(f"Building sample:{name}, a tiny random model (first time only, a few seconds)...")
        return
    from pathlib import Path

    if not Path(spec).expanduser().exists():
        say(f"Reading {spec} from the Hugging Face Hub (its config and file list)...")
