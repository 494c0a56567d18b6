"""`onnx-wizard doctor`: a log in; the cause, the fix and a corrected command out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

OPSET_LOG = """\
$ optimum-cli export onnx --model ./my-bert --task text-classification --opset 13 ./out
Opset 13 is lower than the recommended minimum opset (18) to export bert.
Traceback (most recent call last):
  File "/usr/lib/python3.11/site-packages/torch/onnx/utils.py", line 1964, in _run_symbolic_function
    raise errors.UnsupportedOperatorError(
torch.onnx.errors.UnsupportedOperatorError: Exporting the operator \
'aten::scaled_dot_product_attention' to ONNX opset version 13 is not supported. Support for this \
operator was added in version 14, try exporting with this version.
"""

SUCCESS_LOG = """\
Validating ONNX model out/model.onnx...
	-[✓] ONNX model output names match reference model (logits)
The ONNX export succeeded and the exported model was saved at: out
"""


def doctor(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "onnx_wizard", "doctor", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_json_names_the_cause_the_fix_and_the_corrected_command(tmp_path: Path) -> None:
    log = tmp_path / "export.log"
    log.write_text(OPSET_LOG, encoding="utf-8")
    done = doctor(str(log), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    best = result["diagnoses"][0]
    assert set(best) >= {"id", "category", "title", "confidence", "explanation", "remedies"}
    assert best["category"] == "unsupported_operator_opset"
    first = best["remedies"][0]
    assert first["action"] == "set_opset" and first["args"] == {"opset": 14}
    assert first["command"] == "--opset 14"
    assert result["corrected_command"] == (
        "optimum-cli export onnx --model ./my-bert --task text-classification --opset 14 ./out"
    )
    confidences = [d["confidence"] for d in result["diagnoses"]]
    assert confidences == sorted(confidences, reverse=True)


def test_reads_a_piped_log_and_prints_plain_words() -> None:
    done = doctor("-", stdin=OPSET_LOG)
    assert done.returncode == 0, done.stderr
    assert "Cause:" in done.stdout and "--opset 14" in done.stdout
    assert "Corrected command:" in done.stdout


@pytest.mark.parametrize("as_json", [False, True])
def test_a_successful_log_has_no_diagnosis(as_json: bool) -> None:
    done = doctor("-", *(["--json"] if as_json else []), stdin=SUCCESS_LOG)
    assert done.returncode == 1
    if as_json:
        assert json.loads(done.stdout)["diagnoses"] == []
    else:
        assert "No failure was found" in done.stdout and "succeeded" in done.stdout


def test_an_empty_paste_says_it_is_empty() -> None:
    done = doctor("-", stdin="   \n")
    assert done.returncode == 1 and "empty" in done.stdout


def test_an_unknown_failure_is_never_an_empty_answer() -> None:
    log = "Traceback (most recent call last):\nZorgError: the zorg flux broke\n"
    done = doctor("-", stdin=log)
    assert done.returncode == 1
    assert "ZorgError: the zorg flux broke" in done.stdout and "Search for" in done.stdout
    assert "onnx-wizard check" not in done.stdout


def test_plan_prints_the_changed_plan_and_command() -> None:
    done = doctor("-", "--plan", stdin=OPSET_LOG)
    assert done.returncode == 0, done.stderr
    assert "opset: 13 -> 14" in done.stdout
    assert '"opset": 14' in done.stdout
    assert done.stdout.rstrip().endswith(
        "optimum-cli export onnx --model ./my-bert --task text-classification --opset 14 ./out"
    )


def test_a_missing_log_file_is_a_clear_error(tmp_path: Path) -> None:
    done = doctor(str(tmp_path / "nope.log"))
    assert done.returncode == 2
    assert "does not exist" in done.stderr and "fix:" in done.stderr
    assert "Traceback" not in done.stderr


def test_every_shared_failure_case_through_the_command(tmp_path: Path) -> None:
    cases = Path(__file__).resolve().parents[1].parent / "shared" / "failures" / "dev.jsonl"
    if not cases.exists():
        pytest.skip("../shared/failures/dev.jsonl is not beside this checkout")
    for line in cases.read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        done = doctor("-", "--json", stdin=case["error_log"])
        assert done.returncode == 0, case["id"]
        assert json.loads(done.stdout)["diagnoses"][0]["category"] == case["category"], case["id"]


def test_two_close_causes_are_told_apart_in_the_terminal_and_the_json(tmp_path: Path) -> None:
    """A real reproduced log (bf16 export on the CPU) where two causes stay close."""
    corpus = Path(__file__).resolve().parents[1] / "knowledge" / "corpus" / "dev.jsonl"
    records = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines()]
    log = tmp_path / "bf16.log"
    log.write_text(next(r for r in records if "(bf16)" in r["source"])["log"], encoding="utf-8")
    done = doctor(str(log))
    assert done.returncode == 0, done.stderr
    assert "Two causes remain possible" in done.stdout and "How to tell them apart" in done.stdout
    assert "OW-DEVICE-007 if" in done.stdout and "OW-ORT-003 if" in done.stdout
    result = json.loads(doctor(str(log), "--json").stdout)
    assert [c["id"] for c in result["tell_apart"]["causes"]] == ["OW-ORT-003", "OW-DEVICE-007"]
    assert result["tell_apart_text"].startswith("Two causes remain possible")
