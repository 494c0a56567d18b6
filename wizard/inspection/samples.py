"""Built-in sample models (``sample:NAME``): tiny random-weight models built locally, offline.

They let a new user try every step of the wizard without a network or a big download. The build
imports torch and transformers, so it runs in a child process
(``onnx_wizard.inspection.sample_build``) and writes into a temporary folder that is renamed into
place only when complete.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from onnx_wizard.errors import WizardError
from onnx_wizard.paths import samples_dir
from onnx_wizard.staging import new_folder_mode, sweep_stale

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
        Sample(
            "ernie",
            "tiny ERNIE 4.5 text generator (a type optimum cannot export: fallback routes)",
            "text-generation-with-past",
        ),
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
    sweep_stale(target.parent)  # half-built samples of a wizard that died
    # The owner's pid in the name lets the next start tell a dead build from a running one.
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.partial-{os.getpid()}-", dir=target.parent))
    try:
        returncode, stderr = _build(name, staging)
        if returncode != 0:
            if returncode < 0 and _cancel.is_set():
                raise KeyboardInterrupt  # cancelled: the caller stops as it does for Ctrl-C
            tail = "\n".join(stderr.strip().splitlines()[-5:])
            raise WizardError(
                f"Building sample:{name} failed:\n{tail}",
                "Run `onnx-wizard check` to see which required package is missing or broken.",
            )
        os.chmod(staging, new_folder_mode())  # as a plain mkdir would make it
        try:
            staging.rename(target)
        except OSError:
            # Another process finished the same sample first; theirs is as good as ours.
            if not (target / "config.json").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


_builds: set[subprocess.Popen[str]] = set()
_cancel = threading.Event()
_lock = threading.Lock()


def cancel_builds() -> None:
    """Stop every sample build of this process now (a UI's Cancel while a sample is built)."""
    with _lock:
        _cancel.set()
        for process in _builds:
            _stop(process)


def _stop(process: subprocess.Popen[str]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, AttributeError):
        process.kill()


def _build(name: str, staging: Path) -> tuple[int, str]:
    """Run the builder child; Ctrl-C or :func:`cancel_builds` ends it (and its tree) at once."""
    from onnx_wizard.lifeline import child_environment

    with _lock:
        _cancel.clear()
        process = subprocess.Popen(
            [sys.executable, "-m", "onnx_wizard.inspection.sample_build", name, str(staging)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,  # its own group, so a stop takes its whole tree
            env=child_environment(),  # and it ends if this process dies (onnx_wizard.lifeline)
        )
        _builds.add(process)
    try:
        _, stderr = process.communicate(timeout=600)
        return process.returncode, stderr
    except BaseException:  # KeyboardInterrupt, timeout: the build must not outlive the request
        _stop(process)
        process.wait()
        raise
    finally:
        with _lock:
            _builds.discard(process)
