"""Pre-flight: a doomed run is stopped before it starts, with the reason and what would fix it."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

from onnx_wizard.planning.plan import ExportPlan
from onnx_wizard.planning.preflight import blocking, preflight
from tests.fs_snapshot import snapshot

GIB = 2**30
BERT = {
    "model_type": "bert",
    "architectures": ["BertModel"],
    "hidden_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "vocab_size": 99,
}


def folder_with(tmp_path: Path, *names: str, config: dict[str, Any] | None = None) -> Path:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config or BERT), encoding="utf-8")
    for name in names:
        (folder / name).write_bytes(b"weights")
    return folder


def report_of(folder: Path) -> dict[str, Any]:
    from onnx_wizard.inspection.report import inspect_model

    return inspect_model(str(folder)).to_dict()


def huge_safetensors(path: Path, parameters: int) -> None:
    """A safetensors file whose header describes ``parameters`` fp32 weights (body omitted)."""
    header = {"w": {"dtype": "F32", "shape": [parameters], "data_offsets": [0, parameters * 4]}}
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)


def test_a_folder_without_weights_blocks(tmp_path: Path) -> None:
    findings = preflight(report_of(folder_with(tmp_path)))
    assert [f.kind for f in blocking(findings)] == ["no_weights"]
    assert "huggingface-cli download" in findings[0].fix


def test_tensorflow_weights_only_block_with_the_conversion(tmp_path: Path) -> None:
    findings = preflight(report_of(folder_with(tmp_path, "tf_model.h5")))
    assert [f.kind for f in findings] == ["foreign_weights"]
    assert "from_tf=True" in findings[0].fix


def test_missing_shards_block(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, "model-00001-of-00002.safetensors")
    index = {
        "metadata": {"total_size": 8},
        "weight_map": {
            "a": "model-00001-of-00002.safetensors",
            "b": "model-00002-of-00002.safetensors",
        },
    }
    (folder / "model.safetensors.index.json").write_text(json.dumps(index), encoding="utf-8")
    (folder / "model-00001-of-00002.safetensors").unlink()
    huge_safetensors(folder / "model-00001-of-00002.safetensors", 10)
    findings = preflight(report_of(folder))
    assert [f.kind for f in findings] == ["missing_shards"]
    assert "1 of 2" in findings[0].message


def test_hub_models_are_not_checked_for_local_weights() -> None:
    report = {"source_kind": "hub", "path": "/nonexistent", "parameters": 10}
    assert preflight(report, memory_limit=64 * GIB) == []


def test_a_model_too_big_for_this_machine_says_so_honestly() -> None:
    # The case: "about 81 GB peak" against 22 GiB free.
    report = {
        "source_kind": "local",
        "path": "",
        "parameters": 16 * 10**9,
        "expected_files": ["encoder_model.onnx", "decoder_model_merged.onnx"],
    }
    (finding,) = preflight(report, memory_limit=22 * GIB)
    assert finding.kind == "memory" and finding.blocking
    assert "cannot export this model" in finding.message and "22.0 GiB" in finding.message


def test_a_merge_that_does_not_fit_offers_the_remedy_that_does() -> None:
    report = {
        "source_kind": "local",
        "path": "",
        "parameters": 10**9,
        "expected_files": ["encoder_model.onnx", "decoder_model_merged.onnx"],
    }
    (finding,) = preflight(report, memory_limit=16 * GIB)  # peak ~19 GiB, floor ~11.7 GiB
    assert finding.blocking and finding.remedies[0]["action"] == "no_post_process"
    plan = ExportPlan(model="m", output="o", task="text2text-generation-with-past")
    assert preflight(report, plan.replace(no_post_process=True), memory_limit=16 * GIB) == []


def test_too_little_disk_for_the_output_blocks(tmp_path: Path) -> None:
    report = {"source_kind": "local", "path": "", "parameters": 10**13, "expected_files": []}
    findings = preflight(report, memory_limit=2**62, output=tmp_path / "out")
    assert [f.kind for f in findings] == ["disk"]


def test_the_cli_stops_a_model_too_big_before_the_run(tmp_path: Path) -> None:
    folder = folder_with(tmp_path)
    huge_safetensors(folder / "model.safetensors", 40 * 10**9)  # 160 GB of fp32 weights
    before = {k: v for k, v in snapshot(tmp_path).items() if not k.startswith("wizard-home")}
    command = [sys.executable, "-m", "onnx_wizard", "export", str(folder), str(tmp_path / "out")]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert "was not started" in done.stderr and "RAM" in done.stderr and "--force" in done.stderr
    after = {k: v for k, v in snapshot(tmp_path).items() if not k.startswith("wizard-home")}
    assert after == before and not (tmp_path / "out").exists()
