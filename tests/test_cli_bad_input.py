"""Every kind of bad input gets one clear message with a fix, a non-zero exit, and no changes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fs_snapshot import snapshot


def run_cli(
    *args: str, cwd: Path, as_unprivileged: bool = False
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "onnx_wizard", *args]
    if as_unprivileged and os.geteuid() == 0:
        # Root reads any file; drop the capabilities that let it, so permissions bite for real.
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def assert_clean_failure(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    assert "error:" in done.stderr and "fix:" in done.stderr, done.stderr
    for needle in needles:
        assert needle in done.stderr, f"{needle!r} not in {done.stderr!r}"


def write_config(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(text, encoding="utf-8")
    return folder


BAD_CONFIGS = {
    "corrupt": ('{"model_type": "bert", ', "not valid JSON"),
    "not-an-object": ("[1, 2, 3]", "not an object"),
    "binary": ("\udcff", "not a text file"),
}


@pytest.mark.parametrize("command", ["inspect", "plan"])
def test_missing_path(tmp_path: Path, command: str) -> None:
    before = snapshot(tmp_path)
    extra = [str(tmp_path / "out")] if command == "plan" else []
    done = run_cli(command, str(tmp_path / "no-such-model"), *extra, cwd=tmp_path)
    assert_clean_failure(done, "does not exist")
    assert snapshot(tmp_path) == before


def test_folder_without_config(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"\0" * 16)
    before = snapshot(tmp_path)
    done = run_cli("inspect", str(model), cwd=tmp_path)
    assert_clean_failure(done, "has no config.json", "save_pretrained")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_broken_config(tmp_path: Path, case: str) -> None:
    text, message = BAD_CONFIGS[case]
    model = tmp_path / "model"
    model.mkdir()
    if case == "binary":
        (model / "config.json").write_bytes(b"\xff\xfe\x00garbage")
    else:
        write_config(model, text)
    before = snapshot(tmp_path)
    done = run_cli("inspect", str(model), cwd=tmp_path)
    assert_clean_failure(done, message, "config.json")
    assert snapshot(tmp_path) == before


def test_unknown_model_type(tmp_path: Path) -> None:
    model = write_config(
        tmp_path / "model",
        json.dumps({"model_type": "bertt", "architectures": ["BerttForSequenceClassification"]}),
    )
    before = snapshot(tmp_path)
    done = run_cli("inspect", str(model), cwd=tmp_path)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "bertt" in done.stdout + done.stderr
    assert "bert" in done.stdout.replace("bertt", "")  # the closest supported type is suggested
    planned = run_cli("plan", str(model), str(tmp_path / "out"), cwd=tmp_path)
    assert_clean_failure(planned, "bertt")
    assert snapshot(tmp_path) == before


def test_hub_id_while_offline(tmp_path: Path) -> None:
    before = snapshot(tmp_path)
    done = run_cli("inspect", "someone/surely-not-cached-model", cwd=tmp_path)
    assert_clean_failure(done, "Cannot reach the Hugging Face Hub", "huggingface-cli download")
    assert snapshot(tmp_path) == before


def test_non_empty_output_folder(tmp_path: Path, sample_bert: Path) -> None:
    output = tmp_path / "out"
    output.mkdir()
    (output / "keep-me.txt").write_text("precious", encoding="utf-8")
    before = snapshot(tmp_path)
    done = run_cli("plan", str(sample_bert), str(output), cwd=tmp_path)
    assert_clean_failure(done, "not empty", "--overwrite")
    assert snapshot(tmp_path) == before


def test_output_is_a_file(tmp_path: Path, sample_bert: Path) -> None:
    output = tmp_path / "out.onnx"
    output.write_text("x", encoding="utf-8")
    before = snapshot(tmp_path)
    done = run_cli("plan", str(sample_bert), str(output), cwd=tmp_path)
    assert_clean_failure(done, "is a file")
    assert snapshot(tmp_path) == before


@pytest.mark.skipif(shutil.which("setpriv") is None and os.geteuid() == 0, reason="needs setpriv")
def test_unreadable_folder(tmp_path: Path) -> None:
    model = write_config(tmp_path / "model", json.dumps({"model_type": "bert"}))
    model.chmod(0)
    try:
        before = snapshot(tmp_path)
        done = run_cli("inspect", str(model), cwd=tmp_path, as_unprivileged=True)
        assert_clean_failure(done, "cannot be read", "chmod")
        assert snapshot(tmp_path) == before
    finally:
        model.chmod(0o755)


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    done = run_cli("--debug", "inspect", str(tmp_path / "missing"), cwd=tmp_path)
    assert done.returncode != 0
    assert "Traceback" in done.stderr and "WizardError" in done.stderr
