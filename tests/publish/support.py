"""Exported tiny models with real quantized variants and a quantization.json, for publish tests.

The variants are made with onnxruntime's own quantizer and fp16 converter (real files that
load); the rows follow the quantization step's record: variant, kind, files relative to the
folder, bytes, metric, value, threshold, verdict. One row is a deliberate failure and one an
ONNX Runtime preset, so the tests see both left out.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from onnx_wizard.paths import folder_key
from tests.conftest import SHARED_HOME

TOKEN = "hf_PublishTestTokenMustNeverLeak0123456789"
# The wizard home the session's exports ran under (set by ``exports``): their run logs, with the
# recorded export command, live there, so tests that read provenance point ONNX_WIZARD_HOME at it.
EXPORT_HOME = Path("/nonexistent")


def make_home(folder: Path) -> Path:
    """A wizard home sharing the built samples, like conftest's per-test homes."""
    folder.mkdir(parents=True, exist_ok=True)
    shared = SHARED_HOME / "samples"
    shared.mkdir(parents=True, exist_ok=True)
    (folder / "samples").symlink_to(shared, target_is_directory=True)
    return folder


def export_sample(sample: str, parent: Path, home: Path) -> Path:
    """``onnx-wizard export sample:NAME`` into ``parent``; its run logs go to ``home``."""
    target = parent / sample
    env = {**os.environ, "ONNX_WIZARD_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "onnx_wizard", "export", f"sample:{sample}", str(target), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return target


def run_logs(folder: Path, home: Path) -> Path:
    return home / "sessions" / f"{folder_key(folder)}.logs"


def copy_export(source: Path, target: Path, home: Path | None = None) -> Path:
    """Copy an export and, in ``home``, its run logs (the provenance publish reads)."""
    shutil.copytree(source, target)
    home = home or EXPORT_HOME  # read at call time: the fixture sets it
    if run_logs(source, home).is_dir():
        shutil.copytree(run_logs(source, home), run_logs(target, home))
    return target


def quantize_int8(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)


def convert_fp16(source: Path, target: Path) -> None:
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    onnx.save(convert_float_to_float16(onnx.load(str(source)), keep_io_types=True), str(target))


def row(folder: Path, variant: str, kind: str, files: list[str], **fields: Any) -> dict[str, Any]:
    size = sum((folder / f).stat().st_size for f in files)
    return {"variant": variant, "kind": kind, "files": files, "bytes": size, **fields}


def write_record(folder: Path, rows: list[dict[str, Any]], commands: list[str]) -> None:
    record = {"rows": rows, "commands": commands}
    (folder / "quantization.json").write_text(json.dumps(record, indent=2), encoding="utf-8")


def quantized_bert(export: Path, target: Path) -> Path:
    """The BERT export with q8 and fp16 passed, q4 failed and an avx2 preset beside."""
    folder = copy_export(export, target)
    quantize_int8(folder / "model.onnx", folder / "model_quantized.onnx")
    convert_fp16(folder / "model.onnx", folder / "model_fp16.onnx")
    shutil.copy(folder / "model_quantized.onnx", folder / "model_q4.onnx")
    (folder / "ort-avx2").mkdir()
    shutil.copy(folder / "model_quantized.onnx", folder / "ort-avx2" / "model_quantized.onnx")
    measure = {"metric": "top1_agreement"}
    rows = [
        row(
            folder,
            "q8",
            "transformers.js",
            ["model_quantized.onnx"],
            **measure,
            value=1.0,
            threshold=0.9,
            verdict="passed",
        ),
        row(
            folder,
            "fp16",
            "transformers.js",
            ["model_fp16.onnx"],
            **measure,
            value=1.0,
            threshold=1.0,
            verdict="passed",
        ),
        row(
            folder,
            "q4",
            "transformers.js",
            ["model_q4.onnx"],
            **measure,
            value=0.5,
            threshold=0.7,
            verdict="failed",
        ),
        row(
            folder,
            "avx2",
            "onnxruntime",
            ["ort-avx2/model_quantized.onnx"],
            **measure,
            value=1.0,
            threshold=0.9,
            verdict="passed",
        ),
    ]
    write_record(folder, rows, [f"onnx-wizard quantize {folder} --targets q8,fp16,q4,avx2"])
    return folder


def quantized_t5(export: Path, target: Path) -> Path:
    """The T5 export with a q8 variant of every graph (decoder_model's too, which stays out)."""
    folder = copy_export(export, target)
    names = ["encoder_model", "decoder_model_merged", "decoder_model"]
    for name in names:
        quantize_int8(folder / f"{name}.onnx", folder / f"{name}_quantized.onnx")
    files = [f"{name}_quantized.onnx" for name in names]
    rows = [
        row(
            folder,
            "q8",
            "transformers.js",
            files,
            metric="token_agreement",
            value=1.0,
            threshold=0.75,
            verdict="passed",
        )
    ]
    write_record(folder, rows, [f"onnx-wizard quantize {folder} --targets q8"])
    return folder


@pytest.fixture(scope="session")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tiny BERT classifier and T5, exported once per test session (about 25 s)."""
    global EXPORT_HOME
    parent = tmp_path_factory.mktemp("publish-exports")
    EXPORT_HOME = make_home(tmp_path_factory.mktemp("publish-home") / "home")
    return {name: export_sample(name, parent, EXPORT_HOME) for name in ("bert-classifier", "t5")}


@pytest.fixture
def export_home(wizard_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test under the exports' wizard home, where their run logs are."""
    monkeypatch.setenv("ONNX_WIZARD_HOME", str(EXPORT_HOME))
    return EXPORT_HOME


@pytest.fixture(scope="session")
def bert_q(exports: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return quantized_bert(exports["bert-classifier"], tmp_path_factory.mktemp("bq") / "bert")


@pytest.fixture(scope="session")
def t5_q(exports: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return quantized_t5(exports["t5"], tmp_path_factory.mktemp("tq") / "t5")
