"""``onnx-wizard demo`` runs its sample's export to the end and prints true, readable results;
the CLI says what it is doing while a sample model is built (stderr, stdout kept clean)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from onnx_wizard.cli.main import main
from onnx_wizard.planning.memory import format_size


def test_demo_exports_to_the_end_and_prints_the_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "demo-out"
    assert main(["demo", "--output", str(output)]) == 0
    out, err = capsys.readouterr()
    model = output / "model.onnx"
    assert model.is_file()  # the export really ran, into the folder it was given

    # Files with their real sizes and validation figures, in the engine's table.
    row = next(line for line in out.splitlines() if line.split()[:1] == ["model.onnx"])
    assert format_size(model.stat().st_size) in row and "passed" in row
    assert re.search(r"\d\.\d+e-\d+", row), row  # the largest difference, as a number
    assert "Validation passed" in out

    # Each step once, numbered against one stable total, ending at Done.
    headers = re.findall(r"^\[(\d+)/(\d+)\] (.+)$", out, flags=re.M)
    assert headers[0][2] == "Welcome: which model?" and headers[-1][2] == "Done"
    assert len({total for _, total, _ in headers}) == 1
    # Steps this model does not need (the KV-cache step of an encoder) keep their number.
    numbers = [int(n) for n, _, _ in headers]
    assert numbers == sorted(set(numbers)) and numbers[0] == 1
    assert numbers[-1] == int(headers[0][1])

    # The command once; words, not Python values; a step's values in one column.
    assert out.count("optimum-cli export onnx") == 1
    assert not re.search(r"\b(False|True|None)\b", out), out
    block = out.split("] Welcome: which model?\n")[1].split("\n\n")[0].splitlines()
    starts = {len(line) - len(line.split("  ")[-1].lstrip()) for line in block}
    assert len(starts) == 1, block  # values start in the same column on every row

    # Progress went to stderr while the export ran.
    assert "loading the model" in err and "Finished in" in err


def test_demo_json_is_one_object_with_the_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "demo-json"
    assert main(["demo", "--json", "--output", str(output)]) == 0
    payload = json.loads(capsys.readouterr().out)  # stdout is exactly one JSON object
    assert payload["status"] == "ok" and payload["steps"][-1] == "done"
    (row,) = payload["results"]
    assert row["file"] == "model.onnx"
    assert row["bytes"] == (output / "model.onnx").stat().st_size
    assert payload["validation"]["passed"] is True
    assert payload["command"].startswith("optimum-cli export onnx")


def test_building_a_sample_says_so_on_stderr(tmp_path: Path) -> None:
    home = tmp_path / "fresh-home"  # no samples yet: this inspect builds one
    env = {**os.environ, "ONNX_WIZARD_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-m", "onnx_wizard", "inspect", "sample:bert-classifier", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "Building sample:bert-classifier" in done.stderr
    assert json.loads(done.stdout)["model_type"] == "bert"  # stdout stays one JSON object
    again = subprocess.run(
        [sys.executable, "-m", "onnx_wizard", "inspect", "sample:bert-classifier"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert "Building" not in again.stderr  # built once, then reused silently


def test_demo_folder_is_named_not_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default demo output is only a name: the export creates it once it passed, so a demo
    that fails or is cancelled leaves no empty /tmp/onnx-wizard-demo-* folder."""
    import tempfile

    from onnx_wizard.cli.demo import fresh_demo_folder

    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    first = Path(fresh_demo_folder("gpt2"))
    assert first.parent == temp and first.name.startswith("onnx-wizard-demo-gpt2-")
    assert list(temp.iterdir()) == []  # nothing created
    first.mkdir()  # a demo that finished there: the next one gets a new name
    second = Path(fresh_demo_folder("gpt2"))
    assert second != first and not second.exists()
    assert list(temp.iterdir()) == [first]


def test_export_says_a_sample_is_being_built(tmp_path: Path) -> None:
    """`export` reads the model first: building a sample takes seconds, so it says so."""
    env = {**os.environ, "ONNX_WIZARD_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "onnx_wizard",
            "export",
            "sample:bert-classifier",
            str(tmp_path / "out"),
            "--task",
            "no-such-task",  # fails at once once the model is read: the build is what we watch
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode != 0, done.stderr
    assert done.stderr.index("Building sample:bert-classifier") < done.stderr.index("attempt 1")
    assert not (tmp_path / "out").exists()
