"""What the CLI prints for people: ``inspect``'s file map and unbroken task names, ``check``'s
login command for the installed huggingface_hub."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from onnx_wizard.checks import environment as checks
from onnx_wizard.cli.main import main
from onnx_wizard.inspection.report import inspect_model, render_text


@pytest.mark.parametrize("sample", ["gpt2", "t5"])
def test_inspect_names_each_file_and_where_transformers_js_loads_it(
    sample: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", f"sample:{sample}"]) == 0
    text = capsys.readouterr().out
    report = inspect_model(f"sample:{sample}")
    rows = {
        line.split()[0]: line
        for line in text.splitlines()
        if line.startswith("               ") and line.split()[0].endswith(".onnx")
    }
    assert set(rows) == set(report.expected_files)  # one row per file the export writes
    for name, row in rows.items():
        loaded = f"onnx/{name}" in report.transformersjs_files
        assert row.endswith(f"-> Transformers.js: onnx/{name}") is loaded, row
    if sample == "t5":  # the merged decoder is what the browser loads, the split ones are not
        assert rows["decoder_model_merged.onnx"].endswith("onnx/decoder_model_merged.onnx")
        assert "Transformers.js" not in rows["decoder_with_past_model.onnx"]
    # The arrows line up: one column for every row.
    assert len({row.find("->") for row in rows.values() if "->" in row}) == 1


def test_inspect_never_splits_a_task_name_across_lines() -> None:
    for sample in ("gpt2", "t5", "bert-classifier"):
        report = inspect_model(f"sample:{sample}")
        text = render_text(report)
        tasks = {report.task or "", *report.task_candidates} - {""}
        for line in text.splitlines():
            # a line ending in a hyphenated fragment of a task name is a split task name
            assert not re.search(r"[a-z]+-$", line), line
        flat = " ".join(text.split())
        for task in tasks:  # every mention of a task name sits whole on one line
            assert sum(line.count(task) for line in text.splitlines()) == flat.count(task)


@pytest.mark.parametrize(
    ("version", "command"),
    [
        ("0.20.3", "huggingface-cli login"),
        ("0.33.5", "huggingface-cli login"),
        ("0.34.0", "hf auth login"),
        ("0.36.2", "hf auth login"),
        ("1.1.7", "hf auth login"),
        (None, 'pip install -U "huggingface_hub>=0.34" && hf auth login'),
    ],
)
def test_login_command_follows_the_installed_huggingface_hub(
    version: str | None, command: str
) -> None:
    assert checks.hub_login_command(version) == command
    env = checks.Environment.from_metadata()
    versions = {k: v for k, v in env.versions.items() if k != "huggingface-hub"}
    if version:
        versions["huggingface-hub"] = version
    fake = replace(env, versions=versions)
    token = checks.check_hub_token({"HF_HOME": "/nonexistent"}, fake)
    assert token.status == "warn" and token.fix == command


def test_the_suggested_login_command_exists_in_this_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    main(["check"])
    out = capsys.readouterr().out
    fix = re.search(r"hub token .*\n\s+fix: (.+)", out)
    assert fix is not None, out
    program = fix.group(1).split()[0]
    assert shutil.which(program), f"`{fix.group(1)}` names {program}, which is not installed"
