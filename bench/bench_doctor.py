"""Time diagnose() on 10 MB logs (target: median < 1 s per log).

Usage: python bench/bench_doctor.py [--runs N]. Exits 1 when a median misses its target.
Cases: a noisy terminal log with the real error at the end, a log full of near misses of the
signatures, and a log made only of known failures (every signature has work to do).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from onnx_wizard.knowledge import default_catalogue, diagnose

TARGET_S = 1.0
SIZE = 10 * 1024 * 1024


def _fill(block: str, tail: str = "") -> str:
    return block * (SIZE // len(block) + 1) + tail


def build_logs() -> dict[str, tuple[str, str | None]]:
    """name -> (log, id expected first, or None when any diagnosis will do)."""
    catalogue = default_catalogue()
    error = catalogue.get("OW-OPSET-001").examples[0].log
    bar = "".join(f"\rLoading shards: {p:3d}%|{'#' * (p // 5):20}|" for p in range(0, 101, 5))
    noise = (
        "\x1b[33m/site-packages/transformers/modeling_attn_mask_utils.py:196: TracerWarning: "
        "torch.tensor results are registered as constants in the trace.\x1b[0m\n"
        "  inverted_mask = torch.tensor(1.0, dtype=dtype) - expanded_mask\n"
        f"{bar}\nTraceback (most recent call last):\n"
        '  File "/usr/lib/python3/site-packages/pkg_resources/__init__.py", line 3, in <module>\n'
        "DeprecationWarning: pkg_resources is deprecated as an API\n"
    )
    near_misses = (
        "Exporting the operator 'aten::foo' to ONNX opset version " + "1" * 300 + "\n"
        "Required inputs ([" + "'input_ids', " * 400 + "\n"
        'Could not locate file: "' + "a/" * 300 + "\n" + "Killed by " + "k" * 900 + " but no\n"
    )
    every_failure = "\n".join(x.log for entry in catalogue.entries for x in entry.examples)
    return {
        "noisy log, error at the end": (_fill(noise, error), "OW-OPSET-001"),
        "near misses, then Killed": (_fill(near_misses, "Killed\n"), "OW-OOM-001"),
        "only known failures": (_fill(every_failure + "\n"), None),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    default_catalogue()  # load once, outside the timings, as a long-running wizard does
    failed = False
    header = f"{'case (10 MB each)':32} {'median':>8} {'max':>8}"
    print(f"{header}  target < {TARGET_S:.1f} s ({runs} runs)")
    for name, (log, expected) in build_logs().items():
        timings = []
        for _ in range(runs):
            start = time.perf_counter()
            diagnoses = diagnose(log)
            timings.append(time.perf_counter() - start)
        median = statistics.median(timings)
        correct = bool(diagnoses) and expected in (None, diagnoses[0].id)
        verdict = "ok" if median < TARGET_S and correct else "FAIL"
        failed |= verdict == "FAIL"
        note = "" if correct else f"  (expected {expected}, got {[d.id for d in diagnoses[:2]]})"
        print(f"{name:32} {median:7.3f}s {max(timings):7.3f}s  {verdict}{note}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
