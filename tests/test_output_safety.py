"""Output folders that cannot eat data: every refused output leaves the model and the output
exactly as they were; --overwrite replaces only what onnx-wizard wrote; one export per folder."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fs_snapshot import snapshot

MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")


def user_files(root: Path) -> dict[str, tuple[int, int, str]]:
    """A fingerprint of everything under ``root`` but the wizard's own home (its caches)."""
    return {k: v for k, v in snapshot(root).items() if not k.startswith("wizard-home")}


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "onnx_wizard", *args],
        cwd=cwd,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def model(tmp_path: Path, sample_bert: Path) -> Path:
    """A copy of the tiny BERT in the test's folder (so it can be the output's neighbour)."""
    folder = tmp_path / "m"
    folder.mkdir()
    for name in MODEL_FILES:
        if (sample_bert / name).exists():
            shutil.copy2(sample_bert / name, folder / name)
    return folder


def refused_cases(tmp_path: Path, model: Path) -> dict[str, tuple[str, str, dict[str, str]]]:
    """name -> (output argument, words the refusal must say, extra environment)."""
    fake_home = tmp_path / "home"
    fake_home.mkdir()
    (fake_home / "notes.txt").write_text("the user's notes", encoding="utf-8")
    hf_home = tmp_path / "hf"
    (hf_home / "hub" / "models--x").mkdir(parents=True)
    (tmp_path / "link-to-m").symlink_to(model, target_is_directory=True)
    return {
        "the model folder": (str(model), "is the model folder", {}),
        "the model folder via ..": (str(model / ".." / "m"), "is the model folder", {}),
        "a symlink to the model folder": (
            str(tmp_path / "link-to-m"),
            "is the model folder",
            {},
        ),
        "inside the model folder": (str(model / "onnx"), "inside the model folder", {}),
        "around the model folder": (str(tmp_path), "contains the model folder", {}),
        "home": ("~", "is your home folder", {"HOME": str(fake_home)}),
        "the current folder": (".", "is the current folder", {}),
        "a filesystem root": ("/", "root of a filesystem", {}),
        "the Hugging Face cache": (
            str(hf_home / "hub" / "models--x"),
            "inside the Hugging Face cache",
            {"HF_HOME": str(hf_home)},
        ),
    }


def test_every_protected_output_is_refused_and_nothing_is_touched(
    tmp_path: Path, model: Path
) -> None:
    cases = refused_cases(tmp_path, model)
    work = tmp_path / "work"
    work.mkdir()
    model_before = snapshot(model)
    for name, (output, words, env) in cases.items():
        before = user_files(tmp_path)
        done = cli("export", str(model), output, "--overwrite", cwd=work, env=env)
        assert done.returncode == 2, (name, done.stderr)
        assert words in done.stderr and "fix:" in done.stderr, (name, done.stderr)
        assert "Nothing was touched" in done.stderr, (name, done.stderr)
        assert user_files(tmp_path) == before, f"{name}: something was touched"
    assert snapshot(model) == model_before


def test_overwrite_keeps_files_it_did_not_write_and_backs_up_clashes(
    tmp_path: Path, model: Path
) -> None:
    output = tmp_path / "out"
    output.mkdir()
    (output / "notes.txt").write_text("the user's notes", encoding="utf-8")
    (output / "model.onnx").write_bytes(b"the user's own model.onnx, not written by onnx-wizard")
    (output / "sub").mkdir()
    (output / "sub" / "data.bin").write_bytes(b"\x00\x01")
    done = cli("export", str(model), str(output), "--overwrite", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (output / "notes.txt").read_text(encoding="utf-8") == "the user's notes"
    assert (output / "sub" / "data.bin").read_bytes() == b"\x00\x01"
    manifest = json.loads((output / ".onnx-wizard-manifest.json").read_text(encoding="utf-8"))
    assert "model.onnx" in manifest["files"] and "notes.txt" not in manifest["files"]
    backups = list(tmp_path.glob("out.backup-*"))
    assert len(backups) == 1 and backups[0].name in done.stdout
    assert (backups[0] / "model.onnx").read_bytes().startswith(b"the user's own")
    assert (output / "model.onnx").read_bytes() != (backups[0] / "model.onnx").read_bytes()
    # A second --overwrite replaces what onnx-wizard wrote and still keeps the user's files.
    (output / "model.onnx").write_bytes(b"edited after the export: still onnx-wizard's file")
    again = cli("export", str(model), str(output), "--overwrite", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert (output / "notes.txt").read_text(encoding="utf-8") == "the user's notes"
    assert len(list(tmp_path.glob("out.backup-*"))) == 1, "a manifest file is never backed up"
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name or ".lock" in p.name]


def test_a_second_export_is_refused_a_dead_holder_blocks_nothing_and_umask_is_kept(
    tmp_path: Path, model: Path
) -> None:
    output = tmp_path / "out"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, pathlib; from onnx_wizard.runner import lock; "
            "lock.acquire(pathlib.Path(sys.argv[1])); print('held', flush=True); time.sleep(60)",
            str(output),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        before = user_files(tmp_path)
        done = cli("export", str(model), str(output), cwd=tmp_path)
        assert done.returncode == 2
        assert f"Another onnx-wizard (pid {holder.pid})" in done.stderr
        assert user_files(tmp_path) == before
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # The kernel dropped the crashed holder's lock: the next export runs. Under umask 027 the
    # new folder is 0750 (the staging folder from mkdtemp used to make it 0700).
    script = f'umask 027 && exec "{sys.executable}" -m onnx_wizard export "$@"'
    done = subprocess.run(
        ["sh", "-c", script, "sh", str(model), str(output)],
        cwd=tmp_path,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert output.stat().st_mode & 0o777 == 0o750
    assert not list(tmp_path.glob(".out.onnx-wizard.lock"))


def test_a_folder_without_weights_is_stopped_before_the_run(tmp_path: Path, model: Path) -> None:
    (model / "model.safetensors").unlink()
    before = user_files(tmp_path)
    done = cli("export", str(model), str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 2
    assert "no weight files" in done.stderr and "--force" in done.stderr
    assert user_files(tmp_path) == before


def test_a_broken_terminal_app_import_is_an_error_with_the_fix(tmp_path: Path) -> None:
    broken = tmp_path / "site"
    (broken / "textual").mkdir(parents=True)
    (broken / "textual" / "__init__.py").write_text(
        "raise ImportError('textual is broken here')", encoding="utf-8"
    )
    done = cli("--model", "sample:bert-classifier", cwd=tmp_path, env={"PYTHONPATH": str(broken)})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "could not start" in done.stderr and "textual is broken here" in done.stderr
    assert "fix:" in done.stderr and "usage:" not in done.stdout


def test_demo_leaves_no_empty_temp_folder(tmp_path: Path) -> None:
    done = cli("demo", "--json", cwd=tmp_path, env={"TMPDIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-3000:]
    # A demo that stops before exporting leaves no folder; one that exports leaves its export.
    for folder in tmp_path.glob("onnx-wizard-demo-*"):
        assert any(p.is_file() for p in folder.rglob("*")), f"{folder} was left empty"
