"""Shared fixtures: every test gets its own wizard home so no test sees another's files."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Tests never reach the Hub: they build what they need locally.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# Sample models take seconds to build; one shared folder per test run keeps that cost once. It
# is made fresh for each run (never a fixed /tmp path another run or user could share) and
# removed at the end; ONNX_WIZARD_TEST_HOME names a folder to reuse instead (kept). Exported in
# the environment so a second import of this module, and child processes, see the same folder.
_OWN_HOME = "ONNX_WIZARD_TEST_HOME" not in os.environ
if _OWN_HOME:
    os.environ["ONNX_WIZARD_TEST_HOME"] = tempfile.mkdtemp(prefix="onnx-wizard-test-home-")
SHARED_HOME = Path(os.environ["ONNX_WIZARD_TEST_HOME"])


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _OWN_HOME:
        shutil.rmtree(SHARED_HOME, ignore_errors=True)


@pytest.fixture(autouse=True)
def wizard_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private ONNX_WIZARD_HOME for each test, sharing only the built sample models."""
    home = tmp_path / "wizard-home"
    home.mkdir()
    shared_samples = SHARED_HOME / "samples"
    shared_samples.mkdir(parents=True, exist_ok=True)
    (home / "samples").symlink_to(shared_samples, target_is_directory=True)
    monkeypatch.setenv("ONNX_WIZARD_HOME", str(home))
    return home


@pytest.fixture
def sample_bert(wizard_home: Path) -> Path:
    """The built-in tiny BERT classifier (built once per test run, then reused)."""
    from onnx_wizard.inspection.samples import ensure_sample

    return ensure_sample("bert-classifier")
