"""A model folder with weights and no tokenizer exports and validates (as with optimum-cli), on
generated inputs that the report names; --tokenizer validates it on real text instead."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow


def weights_only(sample: Path, folder: Path) -> Path:
    """A copy of ``sample`` with its config and weights only: a training checkpoint."""
    folder.mkdir()
    for name in ("config.json", "generation_config.json", "model.safetensors"):
        if (sample / name).exists():
            shutil.copy2(sample / name, folder / name)
    return folder


def export(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "onnx_wizard", "export", *args, "--json"],
        cwd=cwd,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    payload = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}
    return done, payload


def test_an_encoder_decoder_without_tokenizer_validates_on_generated_inputs(
    tmp_path: Path,
) -> None:
    from onnx_wizard.inspection.samples import ensure_sample

    model = weights_only(ensure_sample("t5"), tmp_path / "t5-checkpoint")
    done, payload = export(str(model), str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    validation = payload["validation"]
    assert validation["passed"] is True and len(validation["checks"]) >= 4
    assert "generated inputs" in validation["inputs_description"]
    assert "3 x 11 tokens" in validation["inputs_description"]  # not the traced 2 x 16
    assert any("no tokenizer" in item for item in validation["not_validated"])
    stages = {c["stage"] for c in validation["checks"]}
    assert any("step 2" in stage for stage in stages), "the cache step was compared too"


def test_a_tokenizer_from_elsewhere_validates_on_real_text(
    tmp_path: Path, sample_bert: Path
) -> None:
    model = weights_only(sample_bert, tmp_path / "bert-checkpoint")
    done, payload = export(
        str(model), str(tmp_path / "out"), "--tokenizer", str(sample_bert), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    validation = payload["validation"]
    assert validation["passed"] is True
    assert "real sentences tokenized" in validation["inputs_description"]
    assert not any("no tokenizer" in item for item in validation["not_validated"])
