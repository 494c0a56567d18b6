"""diagnose() stays fast and correct on 10 MB logs full of noise (strict figure: bench/)."""

from __future__ import annotations

import time

from onnx_wizard.knowledge import default_catalogue, diagnose

TEN_MB = 10 * 1024 * 1024
# Generous: CI machines vary; bench/bench_doctor.py holds the strict < 1 s target.
LIMIT_S = 5.0
ERROR = default_catalogue().get("OW-OPSET-001").examples[0].log

NOISE_BLOCK = (
    "\x1b[33m/site-packages/transformers/modeling_attn_mask_utils.py:196: TracerWarning: "
    "torch.tensor results are registered as constants in the trace.\x1b[0m\n"
    "  inverted_mask = torch.tensor(1.0, dtype=dtype) - expanded_mask\n"
    + "".join(
        f"\rLoading checkpoint shards: {p:3d}%|{'#' * (p // 5):20}| {p}/100"
        for p in range(0, 101, 5)
    )
    + "\n"
    "Traceback (most recent call last):\n"
    '  File "/usr/lib/python3/site-packages/pkg_resources/__init__.py", line 3, in <module>\n'
    "DeprecationWarning: pkg_resources is deprecated as an API\n"
    "INFO:root:step 1234 done in 0.52 s (ok)\n"
)
# Near misses: the start of real signatures that never complete, to tempt the regexes.
NEAR_MISSES = (
    "Exporting the operator 'aten::foo' to ONNX opset version " + "1" * 300 + "\n"
    "Required inputs ([" + "'input_ids', " * 400 + "\n"
    "Asked to export a " + "x" * 500 + "\n"
    'Could not locate file: "' + "a/" * 300 + "\n" + "Killed by " + "k" * 900 + " but no\n"
)


def _ten_mb(block: str, tail: str) -> str:
    return block * (TEN_MB // len(block) + 1) + tail


def _timed(log: str) -> tuple[float, list]:
    start = time.perf_counter()
    diagnoses = diagnose(log)
    return time.perf_counter() - start, diagnoses


def test_ten_mb_noisy_log_with_error_at_the_end() -> None:
    log = _ten_mb(NOISE_BLOCK, ERROR)
    assert len(log) >= TEN_MB
    elapsed, diagnoses = _timed(log)
    assert diagnoses[0].id == "OW-OPSET-001"
    assert diagnoses[0].remedies[0].command == "--opset 14"
    assert elapsed < LIMIT_S, f"{elapsed:.2f} s"


def test_ten_mb_single_line_progress_stream() -> None:
    bar = "".join(f"\rExporting: {p:3d}%|{'#' * (p // 5):20}|" for p in range(100))
    elapsed, diagnoses = _timed(_ten_mb(bar, "\n" + ERROR))
    assert diagnoses[0].id == "OW-OPSET-001"
    assert elapsed < LIMIT_S, f"{elapsed:.2f} s"


def test_ten_mb_of_near_misses_stays_linear() -> None:
    elapsed, diagnoses = _timed(_ten_mb(NEAR_MISSES, "Killed\n"))
    assert diagnoses[0].category == "out_of_memory"
    assert elapsed < LIMIT_S, f"{elapsed:.2f} s"


def test_error_far_before_the_end_is_still_found() -> None:
    quiet = (
        "INFO:root:step 1234 done in 0.52 s (ok)\n"
        + "".join(f"\rWriting shards: {p:3d}%" for p in range(100))
        + "\n"
    )
    log = ERROR + "\n" + quiet * (TEN_MB // len(quiet))
    elapsed, diagnoses = _timed(log)
    assert diagnoses and diagnoses[0].id == "OW-OPSET-001"
    assert elapsed < LIMIT_S, f"{elapsed:.2f} s"


def test_ten_mb_success_log_gives_nothing() -> None:
    log = _ten_mb(
        NOISE_BLOCK, "The ONNX export succeeded and the exported model was saved at: out\n"
    )
    elapsed, diagnoses = _timed(log)
    assert diagnoses == []
    assert elapsed < LIMIT_S, f"{elapsed:.2f} s"
