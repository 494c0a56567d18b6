# ruff: noqa: E501 - long bounded regexes / one-off data plumbing read better on one line
"""Held-out figures of the doctor: how often it names the right failure on logs it never saw.

Prints, for the held-out part of the corpus (tests/corpus/heldout.jsonl, split from the
development part by a hash of each source thread, see tests/corpus/build.py): the number of logs,
top-1 category accuracy, top-1 entry accuracy, and how often the fix is among the remedies (the
first diagnosis's remedies include one of the expected entry's remedies, as this environment
renders them), and on how many logs one answer names two close causes (with how often the right
entry is one of the two). ``--part dev`` scores the development part instead (for development;
the held-out figure is the one to quote).
Run: python bench/bench_doctor_heldout.py [--part heldout|dev] [--misses]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from onnx_wizard.knowledge import default_catalogue, diagnose
from onnx_wizard.knowledge.matcher import render_remedies
from onnx_wizard.knowledge.tellapart import tell_apart

ROOT = Path(__file__).resolve().parents[1]
PARTS = {
    "heldout": ROOT / "tests" / "corpus" / "heldout.jsonl",
    "dev": ROOT / "knowledge" / "corpus" / "dev.jsonl",
}


def score(records: list[dict[str, str]], show_misses: bool = False) -> dict[str, float]:
    catalogue = default_catalogue()
    category = entry = fix = told = named = 0
    for record in records:
        found = diagnose(record["log"])
        top = found[0] if found else None
        if close := tell_apart(found, catalogue):
            # One answer names two close causes: is the right one among them?
            told += 1
            named += any(c.id == record["entry"] for c in close.causes)
        category += bool(top and top.category == record["category"])
        entry += bool(top and top.id == record["entry"])
        if top and record["entry"] in {e.id for e in catalogue.entries}:
            # The expected entry's remedies as this environment renders them (pinned installs,
            # no-op installs replaced), compared by action and note without the pin detail.
            wanted = {(r.action, r.note) for r in render_remedies(catalogue.get(record["entry"]))}
            fix += any(
                (r.action, r.note.split(" (")[0]) in {(a, n.split(" (")[0]) for a, n in wanted}
                for r in top.remedies
            )
        if show_misses and not (top and top.category == record["category"]):
            last = [line for line in record["log"].splitlines() if line.strip()][-1][:140]
            print(
                f"MISS {record['entry']:<13} got {top.id if top else '-':<13} {record['source'][:60]}\n     {last}"
            )
    n = len(records) or 1
    return {
        "logs": len(records),
        "category": category / n,
        "entry": entry / n,
        "fix": fix / n,
        "told_apart": told,
        "right_among_told": named / (told or 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", choices=sorted(PARTS), default="heldout")
    parser.add_argument("--misses", action="store_true")
    args = parser.parse_args()
    records = [json.loads(line) for line in PARTS[args.part].read_text("utf-8").splitlines()]
    started = time.perf_counter()
    result = score(records, args.misses)
    threads = [r for r in records if not r["source"].startswith("reproduced")]
    by_thread = score(threads)
    print(
        f"{args.part}: {result['logs']} logs ({by_thread['logs']} from public threads), "
        f"{time.perf_counter() - started:.1f}s"
    )
    print(
        f"  top-1 category accuracy   {result['category']:.1%}  (threads only {by_thread['category']:.1%})"
    )
    print(
        f"  top-1 entry accuracy      {result['entry']:.1%}  (threads only {by_thread['entry']:.1%})"
    )
    print(f"  fix among the remedies    {result['fix']:.1%}  (threads only {by_thread['fix']:.1%})")
    print(
        f"  two causes told apart     {result['told_apart']} logs; the right entry is one of the "
        f"two named in {result['right_among_told']:.0%} of them"
    )


if __name__ == "__main__":
    main()
