"""The doctor on its corpus: never an empty answer, no diagnosis for non-failures, honest split."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from pathlib import Path

import pytest

from onnx_wizard.knowledge import default_catalogue, diagnose
from onnx_wizard.knowledge.answer import answer, mask_secrets
from onnx_wizard.knowledge.pins import installed_version

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "knowledge" / "corpus" / "dev.jsonl"
HELDOUT = ROOT / "tests" / "corpus" / "heldout.jsonl"
NONFAILURES = ROOT / "tests" / "corpus" / "nonfailures.jsonl"


def _read(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


DEV_RECORDS, HELDOUT_RECORDS, NON_FAILURES = _read(DEV), _read(HELDOUT), _read(NONFAILURES)
FAILURES = DEV_RECORDS + HELDOUT_RECORDS


def _thread(record: dict[str, str]) -> str:
    return record.get("family") or record["source"]


def test_the_corpus_has_the_fields_and_enough_logs() -> None:
    assert len(FAILURES) >= 240 and len(HELDOUT_RECORDS) >= 100 and len(NON_FAILURES) >= 30
    keys = {"id", "source", "category", "entry", "root_cause", "fix", "log"}
    assert all(keys <= set(record) for record in FAILURES)
    known = {entry.id for entry in default_catalogue().entries}
    assert {record["entry"] for record in FAILURES} <= known


def test_the_split_is_by_source_thread_and_fixed_by_its_hash() -> None:
    dev_threads = {_thread(r) for r in DEV_RECORDS}
    held_threads = {_thread(r) for r in HELDOUT_RECORDS}
    assert not dev_threads & held_threads
    for record in FAILURES:
        held = hashlib.sha256(_thread(record).encode()).digest()[0] % 2 == 0
        assert held == (record in HELDOUT_RECORDS), record["id"]


def _distinctive_lines(log: str) -> list[str]:
    return [line.strip() for line in log.splitlines() if len(line.strip()) >= 60]


def test_no_held_out_text_is_in_the_knowledge_base() -> None:
    """Entries (signatures, examples) and the shipped dev corpus are written without it.

    A line that a development-part log also holds is the library's fixed wording, seen in
    development, so it may appear; any other held-out line in an entry is a leak.
    """
    knowledge = "\n".join(
        path.read_text(encoding="utf-8") for path in (ROOT / "knowledge" / "entries").glob("*.toml")
    )
    dev_lines = {line for record in DEV_RECORDS for line in _distinctive_lines(record["log"])}
    dev_logs = {record["log"].strip() for record in DEV_RECORDS}
    leaks = [
        (record["id"], line)
        for record in HELDOUT_RECORDS
        for line in _distinctive_lines(record["log"])
        if line in knowledge and line not in dev_lines
    ]
    assert not leaks, leaks[:5]
    assert not [r["id"] for r in HELDOUT_RECORDS if r["log"].strip() in dev_logs]


@pytest.mark.parametrize(
    "record", FAILURES + NON_FAILURES, ids=lambda r: r.get("id", r["source"][:40])
)
def test_every_corpus_text_gets_a_non_empty_answer(record: dict[str, str]) -> None:
    result = answer(record["log"])
    assert result.summary.lines() and result.summary.headline
    if record in FAILURES:
        assert result.diagnoses or result.summary.error, "a failure must at least name its error"


@pytest.mark.parametrize("record", NON_FAILURES, ids=lambda r: r["source"][:50])
def test_non_failures_get_no_diagnosis(record: dict[str, str]) -> None:
    assert diagnose(record["log"]) == []


def test_no_log_gets_two_diagnoses_of_one_cause() -> None:
    for record in FAILURES:
        categories = [d.category for d in diagnose(record["log"])]
        assert len(categories) == len(set(categories)), record["id"]


_PIP = re.compile(r"\bpip3? install\b(?P<rest>[^\n;&|]{1,300})")


def test_no_remedy_is_an_unpinned_install_of_an_installed_package() -> None:
    for record in FAILURES:
        for diagnosis in diagnose(record["log"]):
            for remedy in diagnosis.remedies:
                for match in _PIP.finditer(remedy.command or ""):
                    for word in shlex.split(match.group("rest")):
                        if word.startswith("-"):
                            continue
                        name = re.split(r"[<>=!~\[]", word, maxsplit=1)[0]
                        if installed_version(name):
                            assert name != word, (record["id"], remedy.command)


def test_empty_prose_and_clean_texts_say_what_they_are() -> None:
    assert answer("").summary.kind == "empty" and "empty" in answer("  \n").summary.headline
    assert answer("I ran out of memory yesterday, any tips?").summary.kind == "prose"
    assert diagnose("I ran out of memory yesterday, any tips?") == []
    assert answer("total 8\n-rw-r--r-- 1 root root 12 notes.txt").summary.kind == "clean"


def test_an_unknown_failure_still_gets_its_error_package_and_search() -> None:
    log = (
        "Traceback (most recent call last):\n"
        '  File "/env/lib/python3.11/site-packages/torch/nn/modules/module.py", line 1, in f\n'
        "FrobnicationError: the frobnicator 0x7f00 refused /data/model.bin\n"
    )
    summary = answer(log).summary
    assert summary.kind == "failure" and summary.package == "torch"
    assert summary.installed == installed_version("torch")
    assert summary.error and "FrobnicationError" in summary.error
    assert summary.search and "/data" not in summary.search and summary.report


def test_tokens_are_masked_in_anything_printed() -> None:
    text = "Authorization: Bearer abcdef123456 and hf_AbCdEfGhIjKlMnOp1234"
    masked = mask_secrets(text)
    assert "abcdef123456" not in masked and "hf_AbCdEf" not in masked
    log = "Traceback (most recent call last):\nValueError: bad token hf_AbCdEfGhIjKlMnOp1234"
    assert "hf_AbCdEfGhIjKlMnOp1234" not in "\n".join(answer(log).summary.lines())
