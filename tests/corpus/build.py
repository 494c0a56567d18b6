# ruff: noqa: E501 - long bounded regexes / one-off data plumbing read better on one line
"""Build the doctor's corpus files from their raw sources; the split is fixed by a hash.

Sources: ``threads.txt`` (log text copied as data from public issue threads, each with its URL),
``/work/shared/failures/dev.jsonl`` style records (``--shared``), the reproduced runs written by
``reproduce.py``, ``reproduce_js.py`` (Transformers.js in Node) and ``reproduce_quant.py`` into
one folder, and the
non-failure texts in ``clean.txt``.

The split is BY SOURCE THREAD: ``split_of(source)`` hashes the thread (reproduced runs: their
failure family) with SHA-256 and sends even first bytes to ``heldout.jsonl``, odd ones to the
development part, which ships as ``knowledge/corpus/dev.jsonl`` (the matcher's similarity
examples). One thread therefore never feeds both parts, and rebuilding never moves a record.
Run: python tests/corpus/build.py [--shared DEV.jsonl] [--reproduced DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DEV_OUT = ROOT / "knowledge" / "corpus" / "dev.jsonl"
HELDOUT_OUT = HERE / "heldout.jsonl"
CLEAN_OUT = HERE / "nonfailures.jsonl"


def split_of(source: str) -> str:
    """'heldout' or 'dev', decided once and for all by the source thread's hash."""
    return "heldout" if hashlib.sha256(source.encode()).digest()[0] % 2 == 0 else "dev"


def _thread_records(path: Path) -> list[dict[str, str]]:
    records = []
    for block in path.read_text(encoding="utf-8").split("\n=== ")[0:]:
        block = block.removeprefix("=== ")
        header, _, log = block.partition("\n")
        source, category, entry, cause, fix = (part.strip() for part in header.split(" | "))
        records.append(
            {
                "source": source,
                "category": category,
                "entry": entry,
                "root_cause": cause,
                "fix": fix,
                "log": log.rstrip("\n"),
            }
        )
    return records


def _shared_records(path: Path, entries: dict[str, str]) -> list[dict[str, str]]:
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        records.append(
            {
                "source": "https://github.com/" + case["source"].replace("#", "/issues/"),
                "category": case["category"],
                "entry": entries.get(case["id"], ""),
                "root_cause": case["root_cause"],
                "fix": case["fix"],
                "log": case["error_log"],
            }
        )
    return records


def _reproduced_records(folder: Path, labels: dict[str, list[str]]) -> list[dict[str, str]]:
    records = []
    for name in (
        "reproduced.jsonl",
        "variants.jsonl",
        "runtime_variants.jsonl",
        "js_variants.jsonl",
        "quant_variants.jsonl",
    ):
        if not (folder / name).exists():
            continue
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            case = json.loads(line)
            label = labels.get(case["name"])
            # Skip runs whose error fell outside the kept tail (nothing left to diagnose).
            if not label or case["failed"] != "True" or "rror" not in case["log"]:
                continue
            family, category, entry, cause, fix = label
            log = re.sub(r"/tmp/repro/work2?/", "", case["log"]).strip()
            records.append(
                {
                    "source": f"reproduced here ({family}): {case['command']}",
                    "family": family,
                    "category": category,
                    "entry": entry,
                    "root_cause": cause,
                    "fix": fix,
                    "log": log,
                }
            )
    return records


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", type=Path)
    parser.add_argument("--reproduced", type=Path)
    args = parser.parse_args()
    labels = json.loads((HERE / "reproduced_labels.json").read_text(encoding="utf-8"))
    records = _thread_records(HERE / "threads.txt")
    if args.shared:
        shared_entries = labels.pop("_shared_entries")
        records += _shared_records(args.shared, shared_entries)
    else:
        labels.pop("_shared_entries")
    if args.reproduced:
        records += _reproduced_records(args.reproduced, labels)
    parts: dict[str, list[dict[str, str]]] = {"dev": [], "heldout": []}
    for record in records:
        thread = record.get("family") or record["source"]
        record = {
            "id": f"log-{hashlib.sha256((record['source'] + record['log']).encode()).hexdigest()[:10]}",
            **record,
        }
        parts[split_of(thread)].append(record)
    DEV_OUT.parent.mkdir(parents=True, exist_ok=True)
    for path, rows in ((DEV_OUT, parts["dev"]), (HELDOUT_OUT, parts["heldout"])):
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
        print(path, len(rows))


if __name__ == "__main__":
    main()
