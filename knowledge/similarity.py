"""Rank entries by how much a log's error text resembles their examples (rapidfuzz).

The fallback for logs no signature matches. Examples are the entries' own examples plus the
development part of the corpus (``corpus/dev.jsonl``, each labelled with its entry). Scores are
turned into a confidence calibrated on that development part: leave-one-thread-out, the share of
dev logs whose nearest example from another thread named the right entry, per score band.
rapidfuzz is imported only when the fallback runs, so ``import onnx_wizard`` stays fast.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

from onnx_wizard.knowledge.catalogue import Catalogue, default_catalogue
from onnx_wizard.knowledge.logparse import parse

DEV_CORPUS = Path(__file__).with_name("corpus") / "dev.jsonl"
# Score bands of rapidfuzz's ratio (0-100). Measured leave-one-thread-out on the dev part,
# token_set_ratio scored 100 for any subset and was right half the time; plain ratio separates.
BANDS = (80.0, 65.0, 50.0, 0.0)
MIN_CONFIDENCE = 0.6  # below this the fallback says nothing and the summary answers instead

_NOISE = (
    (re.compile(r"https?://\S{1,500}"), " URL "),
    (re.compile(r"(?:[A-Za-z]:)?[\\/][\w.\-\\/@~%]{2,500}"), " PATH "),
    (re.compile(r"'[^'\n]{1,200}'|\"[^\"\n]{1,200}\"|`[^`\n]{1,200}`"), " NAME "),
    (re.compile(r"0x[0-9a-f]{1,16}|\d+(?:\.\d+)*"), " N "),
)


def key_text(log: str) -> str:
    """The part of a log that says what failed, with names, paths and numbers blanked out."""
    facts = parse(log)
    parts = [facts.error_line or ""]
    if facts.exceptions:
        parts += [f"{kind}: {message}" for kind, message in facts.exceptions[-3:]]
    parts += list(facts.js_errors[-2:])
    if facts.pip_error:
        parts.append(facts.pip_error)
    text = " ".join(parts) if any(parts) else log[-600:]
    for pattern, replacement in _NOISE:
        text = pattern.sub(replacement, text)
    return " ".join(text.split())[:600]


@dataclass(frozen=True)
class Example:
    entry: str
    thread: str
    key: str


@functools.lru_cache(maxsize=1)
def _examples() -> tuple[Example, ...]:
    catalogue = default_catalogue()
    found = [
        Example(entry.id, example.source, key_text(example.log))
        for entry in catalogue.entries
        for example in entry.examples
    ]
    if DEV_CORPUS.exists():
        known = {entry.id for entry in catalogue.entries}
        for line in DEV_CORPUS.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record.get("entry") in known:
                thread = record.get("family") or record["source"]
                found.append(Example(record["entry"], thread, key_text(record["log"])))
    return tuple(example for example in found if example.key)


def _best(
    key: str, examples: tuple[Example, ...], skip_thread: str | None = None
) -> tuple[str, float] | None:
    from rapidfuzz import fuzz

    best: tuple[str, float] | None = None
    for example in examples:
        if example.thread == skip_thread:
            continue
        score = fuzz.ratio(key, example.key)
        if best is None or score > best[1]:
            best = (example.entry, score)
    return best


@functools.lru_cache(maxsize=1)
def calibration() -> dict[float, float]:
    """Per score band, the share of dev logs whose nearest other-thread example was right."""
    examples = _examples()
    hits: dict[float, list[bool]] = {band: [] for band in BANDS}
    for example in examples:
        found = _best(example.key, examples, skip_thread=example.thread)
        if found:
            band = next(b for b in BANDS if found[1] >= b)
            hits[band].append(found[0] == example.entry)
    table: dict[float, float] = {}
    ceiling = 1.0
    for band in BANDS:  # per band, capped by the band above: confidence never rises as scores fall
        share = sum(hits[band]) / len(hits[band]) if hits[band] else 0.0
        ceiling = min(ceiling, share)
        table[band] = round(ceiling, 3)
    return table


def nearest(log: str, catalogue: Catalogue | None = None) -> tuple[str, float, float] | None:
    """(entry id, similarity 0-100, calibrated confidence) of the closest example, if any."""
    key = key_text(log)
    if not key:
        return None
    found = _best(key, _examples())
    if found is None:
        return None
    entry_id, score = found
    band = next(b for b in BANDS if score >= b)
    return entry_id, score, calibration()[band]
