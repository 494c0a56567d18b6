"""Built-in sample models (``sample:NAME``): tiny random-weight models built locally, offline.

They let a new user try every step of the wizard without a network or a big download. The build
imports torch and transformers, so it runs in a child process
(``onnx_wizard.inspection.sample_build``) and writes into a temporary folder that is renamed into
place only when complete.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from onnx_wizard.errors import WizardError
from onnx_wizard.paths import samples_dir

# Bump when the builder changes what it writes, so stale samples are rebuilt, not reused.
BUILD_VERSION = 1


@dataclass(frozen=True)
class Sample:
    name: str
    description: str
    task: str


SAMPLES: dict[str, Sample] = {
    s.name: s
    for s in (
        Sample(
            "bert-classifier", "tiny BERT sentiment classifier (encoder)", "text-classification"
        ),
        Sample(
            "gpt2", "tiny GPT-2 text generator (decoder, KV cache)", "text-generation-with-past"
        ),
        Sample("t5", "tiny T5 translator (encoder-decoder)", "text2text-generation-with-past"),
    )
}

DEFAULT_SAMPLE = "bert-classifier"


def sample_path(name: str) -> Path:
    return samples_dir() / f"{name}-v{BUILD_VERSION}"


def ensure_sample(name: str) -> Path:
    """Return the folder of sample ``name``, building it first if needed (a few seconds)."""
    if name not in SAMPLES:
        known = ", ".join(f"sample:{n}" for n in SAMPLES)
        raise WizardError(f"There is no built-in sample called {name!r}.", f"Use one of: {known}.")
    target = sample_path(name)
    if (target / "config.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-building-", dir=target.parent))
    try:
        done = subprocess.run(
            [sys.executable, "-m", "onnx_wizard.inspection.sample_build", name, str(staging)],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-5:])
            raise WizardError(
                f"Building sample:{name} failed:\n{tail}",
                "Run `onnx-wizard check` to see which required package is missing or broken.",
            )
        try:
            staging.rename(target)
        except OSError:
            # Another process finished the same sample first; theirs is as good as ours.
            if not (target / "config.json").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
