"""The doctor on its corpus: never an empty answer, no diagnosis for non-failures, honest split."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from onnx_wizard.knowledge import default_catalogue, diagnose
from onnx_wizard.knowledge.answer import answer, mask_secrets
from onnx_wizard.knowledge.matcher import render_remedies
from onnx_wizard.knowledge.pins import installed_version
from onnx_wizard.knowledge.tellapart import MARGIN

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
    assert len(FAILURES) >= 300 and len(HELDOUT_RECORDS) >= 100 and len(NON_FAILURES) >= 30
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


def _no_op_installs(command: str) -> list[str]:
    """The requirements in ``command`` that an installed package already meets (a no-op)."""
    found = []
    if "--force-reinstall" in command:
        return found  # replaces what is installed (another build): not a no-op
    for match in _PIP.finditer(command):
        for word in shlex.split(match.group("rest")):
            if word.startswith("-"):
                continue
            name = re.split(r"[<>=!~\[]", word, maxsplit=1)[0]
            version = installed_version(name)
            spec = word[len(name) :].split("]")[-1]
            if version and Version(version) in SpecifierSet(spec, prereleases=True):
                found.append(word)
    return found


def test_no_remedy_installs_what_is_already_installed() -> None:
    """No `pip install` (or `-U`) remedy is met by what is installed: each one changes something.

    Covers every remedy of every entry as this environment renders it, and every remedy the
    corpus logs get (with the values their logs fill in).
    """
    commands = [
        (entry.id, remedy.command or "")
        for entry in default_catalogue().entries
        for remedy in render_remedies(entry)
    ]
    commands += [
        (record["id"], remedy.command or "")
        for record in FAILURES
        for diagnosis in diagnose(record["log"])
        for remedy in diagnosis.remedies
    ]
    assert sum("pip install" in command for _, command in commands) >= 20
    no_ops = [(where, command) for where, command in commands if _no_op_installs(command)]
    assert not no_ops, no_ops[:5]


def test_a_no_op_install_becomes_a_check_that_says_what_else_is_wrong() -> None:
    # transformers' wording when accelerate is not importable; accelerate is installed here.
    log = (
        "ImportError: Using a `device_map` requires `accelerate`. "
        "You can install it with `pip install accelerate`"
    )
    remedies = diagnose(log)[0].remedies
    assert not [r for r in remedies if _no_op_installs(r.command or "")]
    check = next(r for r in remedies if r.command == "python -m pip show accelerate")
    assert (
        installed_version("accelerate") in check.note and "another Python environment" in check.note
    )
    # The detector itself flags the command the remedy used to be.
    assert _no_op_installs("pip install 'accelerate>=0.26'") == ["accelerate>=0.26"]
    assert _no_op_installs("pip install -U 'onnxruntime>99'") == []


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


def _close_pairs() -> list[tuple[dict[str, str], list]]:
    pairs = []
    for record in FAILURES:
        found = diagnose(record["log"])
        if len(found) >= 2 and found[0].confidence - found[1].confidence < MARGIN:
            pairs.append((record, found))
    return pairs


def test_two_close_causes_get_one_answer_that_tells_them_apart() -> None:
    """On real corpus logs: whenever two diagnoses are close, the answer names both and says
    what points to each; when one cause stands out, there is no such paragraph."""
    close = _close_pairs()
    assert len(close) >= 5, "the corpus should hold several logs with two close causes"
    close_ids = {record["id"] for record, _ in close}
    for record, found in close:
        result = answer(record["log"])
        assert result.tell_apart is not None, record["id"]
        causes = result.tell_apart.causes
        assert [c.id for c in causes] == [found[0].id, found[1].id]
        text = result.tell_apart.text()
        assert found[0].title.rstrip(".") in text and found[1].title.rstrip(".") in text
        # Each cause states its own distinguishing condition, and the two conditions differ.
        assert all(c.condition and len(c.sign) > 30 for c in causes), record["id"]
        assert causes[0].sign != causes[1].sign
    for record in FAILURES[::7]:
        if record["id"] not in close_ids:
            assert answer(record["log"]).tell_apart is None, record["id"]


def test_the_bf16_export_names_both_kernel_causes_and_the_type_that_separates_them() -> None:
    bf16 = next(r for r in FAILURES if "(bf16)" in r["source"])
    result = answer(bf16["log"])
    assert result.tell_apart is not None
    signs = {cause.id: cause.sign for cause in result.tell_apart.causes}
    assert set(signs) == {"OW-ORT-003", "OW-DEVICE-007"}
    assert "bfloat16" in signs["OW-DEVICE-007"] and "not bfloat16" in signs["OW-ORT-003"]
    assert "How to tell them apart" in result.tell_apart.text()
