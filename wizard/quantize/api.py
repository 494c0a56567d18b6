"""``quantize_folder``: make, prove and report every requested variant of an exported model.

Light on purpose: it checks the input, then starts one child process per variant
(``python -m onnx_wizard.quantize.child``); a crash or an out-of-memory kill costs that variant
only. Children write into a staging folder beside the export; a variant's files move into the
export only once the child finished, so a bad input or a crash leaves the folder as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from onnx_wizard.errors import WizardError
from onnx_wizard.quantize.calibration import SAMPLE_SENTENCES, load_samples
from onnx_wizard.quantize.outputs import (
    append_child_logs,
    command_lines,
    file_bytes,
    place_files,
    update_config,
)
from onnx_wizard.quantize.report import QuantizationReport, VariantRow
from onnx_wizard.quantize.targets import (
    DEVICE_PREFERENCE,
    VARIANT_SUFFIXES,
    Target,
    parse_targets,
    task_kind,
    threshold_for,
)

Event = dict[str, Any]
REPORT_NAME = "quantization.json"
SKIPPED_FOLDERS = ("ort-", "quantization-failed")
# 8-bit variants keep searching (per-channel, then float MatMuls) until they clear the
# threshold by this much: 0.9902 on ten sentences is too thin a pass to publish as the default.
SEARCH_MARGIN = {"cosine": 0.001}
CHILD_OVERHEAD = 400 * 1024**2  # onnxruntime, onnx and numpy in a fresh interpreter


def find_fp32_files(onnx_dir: Path) -> list[str]:
    """The export's own ONNX files (relative paths): not variants, not preset folders."""
    found = []
    for path in sorted(onnx_dir.rglob("*.onnx")):
        relative = path.relative_to(onnx_dir)
        if any(part.startswith(SKIPPED_FOLDERS) for part in relative.parts[:-1]):
            continue
        if len(relative.parts) > 2 or path.stem.endswith(VARIANT_SUFFIXES):
            continue
        found.append(str(relative))
    return found


def log_path_for(onnx_dir: Path) -> Path:
    """Logs live with the export's run logs in the wizard's home: never in or beside the
    user's folder (failed variants' files are kept there too, out of the published set)."""
    from onnx_wizard.paths import run_logs_dir

    return run_logs_dir(onnx_dir) / "quantize.log"


def quantize_folder(
    onnx_dir: str | Path,
    targets: str | Sequence[str],
    *,
    calibration: str | Path | None = None,
    column: str | None = None,
    calibration_samples: int | None = None,
    task: str | None = None,
    on_event: Callable[[Event], None] | None = None,
    thresholds: dict[str, float] | None = None,
    per_channel: bool = False,
    reduce_range: bool = False,
    device: str = "wasm",
    export_command: str | None = None,
    jobs: int | None = None,
    cancel: threading.Event | None = None,
    external_data_bytes: int | None = None,
) -> QuantizationReport:
    """Make each target's files beside the fp32 ones, prove each, write ``quantization.json``.

    ``targets``: names such as "fp16,q8,q4,avx2" (see targets.TARGETS). ``thresholds``: the
    accuracy figure a variant must reach, by variant name (defaults in targets). ``per_channel``
    and ``reduce_range`` apply to the ONNX Runtime presets. ``device`` ("wasm" or "webgpu")
    picks the default dtype written to config.json. Events: ``quantize_started``, one
    ``variant`` per finished variant (with its row), ``quantize_finished`` (with the report).
    Raises WizardError for bad input, before anything is written."""
    started = time.monotonic()
    emit = on_event or (lambda event: None)
    folder = Path(onnx_dir).expanduser().absolute()
    chosen = parse_targets(targets if isinstance(targets, str) else list(targets))
    files = check_folder(folder)
    static = any(t.family == "static" for t in chosen)
    samples = (
        load_samples(calibration, column=column, count=calibration_samples)
        if (calibration is not None or calibration_samples or static)
        else list(SAMPLE_SENTENCES)
    )
    facts = inspect_files(folder, files, chosen)
    if device not in DEVICE_PREFERENCE:
        raise WizardError(
            f"Unknown device {device!r}.", f"Use one of: {', '.join(DEVICE_PREFERENCE)}."
        )
    kind = task_kind(folder, files, task)
    log = log_path_for(folder)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(
        f"onnx-wizard quantize {folder} --targets {','.join(t.name for t in chosen)}\n",
        encoding="utf-8",
    )
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.quantize-", dir=folder.parent))
    fp32_bytes = sum(file_bytes(folder, f) for f in files)
    metric = {"features": "cosine", "classifier": "top1_agreement"}.get(kind, "token_agreement")
    emit(
        {
            "event": "quantize_started",
            "variants": [t.name for t in chosen],
            "files": files,
            "task_kind": kind,
            "log": str(log),
        }
    )
    rows: dict[str, VariantRow] = {}
    commands: dict[str, list[str]] = {}
    reference: dict[str, Any] = {"files": files, "bytes": fp32_bytes, "latency_ms": None}
    lock = threading.Lock()
    done = [0]

    def one(target: Target) -> None:
        job = {
            "onnx_dir": str(folder),
            "staging": str(staging / target.name),
            "target": {
                "name": target.name,
                "family": target.family,
                "bits": target.bits,
                "weight_type": target.weight_type,
                "block_size": target.block_size,
                "then_fp16": target.then_fp16,
            },
            "files": files,
            "outputs": [target.output_name(f) for f in files],
            "kind": kind,
            "threshold": threshold_for(target, metric, thresholds),
            "margin": SEARCH_MARGIN.get(metric, 0.0) if target.family == "int8" else 0.0,
            "options": _first_options(target, per_channel, reduce_range),
            "sentences": list(SAMPLE_SENTENCES),
            "calibration": samples,
            "external_data_bytes": external_data_bytes,
        }
        result = run_child(job, staging, log.parent / f"quantize-{target.name}.log", cancel)
        row = _row(target, job, result, fp32_bytes)
        placed = place_files(
            staging / target.name,
            folder if row.passed else log.parent / "quantization-failed" / target.name,
        )
        row.files = placed
        with lock:
            rows[target.name] = row
            commands[target.name] = [
                c.replace(str(staging / target.name), str(folder))
                for c in result.get("commands", [])
            ]
            if result.get("reference_latency_ms") and reference["latency_ms"] is None:
                reference["latency_ms"] = result["reference_latency_ms"]
            done[0] += 1
            emit(
                {
                    "event": "variant",
                    "variant": target.name,
                    "index": done[0],
                    "total": len(chosen),
                    "verdict": row.verdict,
                    "row": _row_dict(row),
                }
            )

    workers = jobs or parallel_jobs(fp32_bytes, len(chosen))
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(one, chosen))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    ordered = [rows[t.name] for t in chosen]
    report = QuantizationReport(
        onnx_dir=str(folder),
        task_kind=kind,
        reference=reference,
        rows=ordered,
        commands=command_lines(export_command, chosen, commands),
        log=str(log),
        inputs=f"{len(SAMPLE_SENTENCES)} everyday sentences",
    )
    report.transformers_js_config = update_config(folder, ordered, device, facts)
    report.seconds = time.monotonic() - started
    append_child_logs(log, chosen)
    (folder / REPORT_NAME).write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
    emit({"event": "quantize_finished", "report": report.to_dict()})
    return report


def check_folder(folder: Path) -> list[str]:
    if not folder.is_dir():
        raise WizardError(
            f"{folder} is not a folder.",
            "Give the folder an export wrote (it holds model.onnx or encoder_model.onnx, ...).",
        )
    files = find_fp32_files(folder)
    if not files:
        raise WizardError(
            f"{folder} holds no ONNX file to quantize.",
            f"Export first: onnx-wizard export MODEL {folder}",
        )
    return files


def inspect_files(folder: Path, files: list[str], chosen: list[Target]) -> list[dict[str, Any]]:
    """Ask a child whether each file is ONNX and fp32 (onnx is too heavy to import here)."""
    process = subprocess.run(
        [sys.executable, "-m", "onnx_wizard.quantize.child", "inspect", str(folder), *files],
        capture_output=True,
        text=True,
        env=_child_env(),
        check=False,
    )
    events = [json.loads(line) for line in process.stdout.splitlines() if line.startswith("{")]
    found = next((e for e in events if e.get("event") == "inspected"), None)
    if found is None:
        raise RuntimeError(f"the quantization inspector failed: {process.stderr[-2000:]}")
    facts: list[dict[str, Any]] = found["files"]
    for fact in facts:
        if not fact["onnx"]:
            raise WizardError(
                f"{folder / fact['file']} is not a readable ONNX model ({fact['error']}).",
                "Export the model again, or remove that file from the folder.",
            )
    half = [f["file"] for f in facts if f.get("fp16")]
    if half:
        asked = [t.name for t in chosen if t.family == "fp16" or t.then_fp16]
        problem = (
            f"{', '.join(half)} is already float16, so it cannot become {'/'.join(asked)} again."
            if asked
            else f"{', '.join(half)} is already float16; these quantizers need fp32 weights."
        )
        raise WizardError(
            problem,
            "Quantize the fp32 export (export with --dtype fp32, the "
            "default) and ask for fp16 there.",
        )
    return facts


def run_child(
    job: dict[str, Any], staging: Path, log: Path, cancel: threading.Event | None
) -> dict[str, Any]:
    """Run one variant's child; its last result (or a failure) as a dict."""
    job_path = staging / f"{job['target']['name']}.job.json"
    job_path.write_text(json.dumps(job), encoding="utf-8")
    with log.open("w", encoding="utf-8") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "onnx_wizard.quantize.child", "variant", str(job_path)],
            stdout=subprocess.PIPE,
            stderr=log_file,
            stdin=subprocess.DEVNULL,
            text=True,
            env=_child_env(),
            start_new_session=True,
        )
        watcher = threading.Thread(target=_kill_on_cancel, args=(process, cancel), daemon=True)
        watcher.start()
        result: dict[str, Any] | None = None
        error: dict[str, Any] | None = None
        assert process.stdout is not None
        for line in process.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if event.get("event") == "result":
                result = event
            elif event.get("event") == "error":
                error = event
            elif event.get("event") == "attempt":
                log_file.write(f"onnx-wizard: attempt {json.dumps(event)}\n")
                log_file.flush()
        code = process.wait()
    if result is not None:
        return result
    if cancel is not None and cancel.is_set():
        reason = "cancelled"
    elif error is not None:
        reason = f"{error.get('type')}: {error.get('message')}"
    elif code < 0:
        reason = f"the quantizer process was killed by signal {-code} (out of memory?)"
    else:
        reason = f"the quantizer process ended with exit code {code} and no result"
    return {"verdict": "failed", "reason": reason}


def _kill_on_cancel(process: subprocess.Popen[str], cancel: threading.Event | None) -> None:
    while cancel is not None and process.poll() is None:
        if cancel.wait(0.2):
            with contextlib.suppress(OSError):
                os.killpg(process.pid, 9)
            return


def parallel_jobs(fp32_bytes: int, count: int) -> int:
    """As many children at once as the cores and the free memory allow (a child holds the
    fp32 model, the variant and the quantizer's copies: about four times the fp32 size)."""
    try:
        import psutil

        free = int(psutil.virtual_memory().available)
    except Exception:
        free = 0
    by_memory = max(1, int(free * 0.7) // (4 * fp32_bytes + CHILD_OVERHEAD)) if free else 1
    return max(1, min(count, os.cpu_count() or 1, by_memory))


def _first_options(target: Target, per_channel: bool, reduce_range: bool) -> dict[str, Any]:
    if target.kind == "onnxruntime":
        return {"per_channel": per_channel, "reduce_range": reduce_range}
    # Transformers.js 8-bit: per-channel from the start (0.989 against 0.945 on MiniLM).
    return {"per_channel": True} if target.family == "int8" else {}


def _row(target: Target, job: dict[str, Any], result: dict[str, Any], fp32: int) -> VariantRow:
    size = int(result.get("bytes") or 0)
    return VariantRow(
        variant=target.name,
        kind=target.kind,
        bytes=size,
        ratio=round(size / fp32, 4) if fp32 and size else 0.0,
        metric=str(result.get("metric") or ""),
        value=result.get("value"),
        max_abs_diff=result.get("max_abs_diff"),
        latency_ms=result.get("latency_ms"),
        verdict=str(result.get("verdict") or "failed"),
        reason=str(result.get("reason") or ""),
        threshold=job["threshold"],
        options=result.get("options") or {},
        attempts=result.get("attempts") or [],
        detail=str(result.get("detail") or ""),
    )


def _row_dict(row: VariantRow) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(row)


def _child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "TQDM_DISABLE": "1", "ORT_LOGGING_LEVEL": "3"}
