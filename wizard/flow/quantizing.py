"""The wizard's quantization: which variants were chosen, making them after the export, and words.

Glue between the flow and ``onnx_wizard.quantize``: pure helpers the views and the machine read
(:func:`chosen_targets`, :func:`pending`, :func:`command_line`, the target choices with their
why), and :func:`run_quantization`, which the engine calls for the ``quantize`` work once an
export has passed. It calls ``quantize_folder`` (one child process per variant), turns its events
into one run-pane line per variant, and records the report in ``facts.quantization``.
"""

from __future__ import annotations

import functools
import shlex
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from onnx_wizard.errors import WizardError
from onnx_wizard.flow.steps import Facts, Table
from onnx_wizard.planning.memory import format_size

Answers = Mapping[str, Any]
Event = dict[str, Any]
STATIC_PRESETS = ("tensorrt", "cpu-qdq")


@functools.lru_cache(maxsize=1)
def cpu_preset() -> str:
    """This machine's ONNX Runtime preset (read once: /proc/cpuinfo does not change)."""
    from onnx_wizard.quantize.targets import detect_cpu_preset

    return detect_cpu_preset()


def ort_choices() -> tuple[tuple[str, str], ...]:
    """The ONNX Runtime presets with their why; this CPU's is marked as such."""
    from onnx_wizard.quantize.targets import ORT_PRESETS

    mine = cpu_preset()
    return tuple(
        (t.name, f"{t.name}: {t.why}" + (" (this CPU's preset)" if t.name == mine else ""))
        for t in ORT_PRESETS
    )


def js_choices() -> tuple[tuple[str, str], ...]:
    """The Transformers.js dtypes with their why, in the order Transformers.js documents them."""
    from onnx_wizard.quantize.targets import TRANSFORMERS_JS

    return tuple((t.name, f"{t.name}: {t.why}") for t in TRANSFORMERS_JS)


def recommendation_rows() -> tuple[tuple[str, str, str], ...]:
    """The seed guidance: which dtype for which runtime, and why."""
    from onnx_wizard.quantize.targets import recommendation_rows as rows

    return tuple((r["target"], r["dtype"], r["why"]) for r in rows())


def chosen_targets(answers: Answers) -> list[str]:
    """The variants the user ticked: Transformers.js dtypes first, then ONNX Runtime presets."""
    return [str(t) for t in (*answers.get("js_dtypes", ()), *answers.get("ort_presets", ()))]


def needs_calibration(answers: Answers) -> bool:
    return any(name in STATIC_PRESETS for name in answers.get("ort_presets", ()))


def pending(answers: Answers, facts: Facts) -> bool:
    """A passed export whose chosen variants are not made yet (the ``quantize`` work)."""
    run_ok = (facts.run or {}).get("status") == "ok"
    passed = bool((facts.validation or {}).get("passed"))
    return run_ok and passed and bool(chosen_targets(answers)) and facts.quantization is None


def command_line(output: str, answers: Answers) -> str:
    """The ``onnx-wizard quantize`` command that makes the chosen variants by hand."""
    targets = chosen_targets(answers)
    if not targets:
        return ""
    words = ["onnx-wizard", "quantize", output, "--targets", ",".join(targets)]
    if answers.get("calibration") and needs_calibration(answers):
        words += ["--calibration", str(answers["calibration"])]
        if answers.get("calibration_column"):
            words += ["--column", str(answers["calibration_column"])]
    return shlex.join(words)


def calibration_error(answers: Answers) -> tuple[str, str] | None:
    """(field, problem and fix) when the calibration file the static presets need cannot be
    read as asked: found on QUANTIZATION's Next, not after the export."""
    if not (needs_calibration(answers) and answers.get("calibration")):
        return None
    from onnx_wizard.quantize.calibration import load_samples

    try:
        load_samples(answers["calibration"], column=answers.get("calibration_column") or None)
    except WizardError as error:
        fix = error.fix.replace("--column", "the Column field")
        field = "calibration_column" if "column" in error.problem.lower() else "calibration"
        return field, f"{error.problem} Fix: {fix}"
    return None


def variant_line(row: Mapping[str, Any], index: int, total: int) -> str:
    """One run-pane line for a finished variant: its verdict, size, ratio, accuracy, latency."""
    name = row.get("variant")
    if row.get("verdict") != "passed":
        return f"[{index}/{total}] {name}: FAILED, kept out: {row.get('reason') or 'no reason'}"
    value = row.get("value")
    accuracy = f"{row.get('metric')} {value:.4f}" if isinstance(value, (int, float)) else "-"
    latency = row.get("latency_ms")
    speed = f", {float(latency):.1f} ms" if isinstance(latency, (int, float)) else ""
    return (
        f"[{index}/{total}] {name}: passed, {format_size(int(row.get('bytes') or 0))} "
        f"({float(row.get('ratio') or 0):.2f} of fp32), {accuracy}{speed}"
    )


class _Cancel:
    """What ``RunControl.attach`` cancels: the event ``quantize_folder`` watches."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def cancel(self) -> None:
        self.event.set()


def run_quantization(
    output: str,
    answers: Answers,
    *,
    task: str | None,
    export_command: str,
    on_event: Callable[[Event], None] | None = None,
    on_run: Callable[[Any], None] | None = None,
) -> dict[str, Any]:
    """Make and prove the chosen variants of the export in ``output``; the fact to record.

    Returns ``{"status": "ok"|"failed"|"cancelled", "detail", "report"}``: "ok" when the run
    finished (variants below their threshold are failed rows inside the report, kept out as the
    API does), "failed" when it could not start (bad calibration file...), with the problem and
    its fix. ``on_run`` receives an object whose ``cancel()`` stops the children."""
    from onnx_wizard.quantize.api import quantize_folder

    emit = on_event or (lambda event: None)
    cancel = threading.Event()
    if on_run is not None:
        on_run(_Cancel(cancel))
    emit({"event": "started", "pid": None})  # what a face's Cancel waits for
    targets = chosen_targets(answers)
    emit({"event": "stage", "stage": "quantize", "label": f"Quantizing: {', '.join(targets)}"})
    emit({"event": "log", "line": f"$ {command_line(output, answers)}"})

    def events(event: Event) -> None:
        kind = event.get("event")
        if kind == "quantize_started":
            emit({"event": "log", "line": f"Making {len(targets)} variant(s), one process each"})
        elif kind == "variant":
            row = dict(event.get("row") or {})
            line = variant_line(row, int(event.get("index") or 0), int(event.get("total") or 0))
            emit({"event": "log", "line": line})
            emit({"event": "progress", "fraction": event["index"] / max(1, event["total"])})

    calibration = answers.get("calibration") if needs_calibration(answers) else None
    column = answers.get("calibration_column") if calibration else None
    try:
        report = quantize_folder(
            output,
            targets,
            calibration=calibration or None,
            column=column or None,
            task=task,
            on_event=events,
            export_command=export_command,
            cancel=cancel,
        )
    except WizardError as error:
        detail = f"{error.problem} Fix: {error.fix}"
        emit({"event": "log", "line": f"Quantization could not start: {detail}"})
        return {"status": "failed", "detail": detail, "report": None}
    data = report.to_dict()
    if cancel.is_set():
        emit({"event": "log", "line": "Quantization cancelled: the fp32 files are kept."})
        return {"status": "cancelled", "detail": "Cancelled.", "report": data}
    dtype = (data.get("transformers.js_config") or {}).get("dtype")
    summary = f"{len(data['passed'])} passed, {len(data['failed'])} failed"
    emit({"event": "log", "line": f"Quantization finished: {summary}"})
    return {"status": "ok", "detail": summary, "report": data, "dtype": dtype}


def report_rows(facts: Facts) -> Sequence[Mapping[str, Any]]:
    """The variant rows of the recorded quantization report ([] when none ran)."""
    report = (facts.quantization or {}).get("report") or {}
    return tuple(report.get("rows") or ())


def recommendation_table() -> Table:
    """The seed guidance as a table on the QUANTIZATION step."""
    columns = ("Runtime", "dtype", "Why")
    return Table("recommendations", "Which dtype for which runtime", columns, recommendation_rows())


def variant_table_rows(facts: Facts) -> tuple[tuple[tuple[str, ...], ...], str]:
    """Rows for the files table, one per variant, and a note (config dtype, failures, log)."""
    from onnx_wizard.flow.results import figure

    quantization = facts.quantization or {}
    rows: list[tuple[str, ...]] = []
    for row in report_rows(facts):
        passed = row.get("verdict") == "passed"
        value = row.get("value")
        accuracy = f"{row.get('metric')} {value:.4f}" if isinstance(value, (int, float)) else "-"
        latency = row.get("latency_ms")
        files = ", ".join(str(f) for f in row.get("files") or ()) or "(none kept)"
        rows.append(
            (
                files if passed else f"{files} (kept out)",
                format_size(int(row.get("bytes") or 0)),
                str(row.get("variant")),
                f"{float(row.get('ratio') or 0):.2f}",
                accuracy,
                f"{float(latency):.1f} ms" if isinstance(latency, (int, float)) else "-",
                figure(row.get("max_abs_diff")),
                "passed" if passed else f"FAILED: {row.get('reason') or 'below its threshold'}",
            )
        )
    note = ""
    if quantization.get("status") in ("failed", "cancelled"):
        note = f"Quantization {quantization['status']}: {quantization.get('detail')}"
    elif rows:
        note = "Variants are compared with the fp32 ONNX model on real inputs. " + dtype_sentence(
            facts
        )
    return tuple(rows), note.strip()


def dtype_sentence(facts: Facts) -> str:
    """Which dtype config.json's transformers.js_config now names, if quantization set one."""
    quantization = facts.quantization or {}
    if quantization.get("status") != "ok":
        return ""
    dtype = ((quantization.get("report") or {}).get("transformers.js_config") or {}).get("dtype")
    if dtype:
        return f"config.json's transformers.js_config loads dtype {dtype} by default."
    return "No Transformers.js variant passed: transformers.js_config names no dtype."


def quantization_outcome(facts: Facts) -> tuple[str, str]:
    """How the variants came out, for the VALIDATE step."""
    quantization = facts.quantization or {}
    status = quantization.get("status")
    if status == "cancelled":
        return "Quantization was cancelled: only the fp32 files are in the output.", "warn"
    if status == "failed":
        return f"Quantization could not run: {quantization.get('detail')}", "bad"
    report = quantization.get("report") or {}
    passed, failed = list(report.get("passed") or ()), list(report.get("failed") or ())
    text = f"Variants made and checked: {', '.join(passed) or 'none'}."
    if failed:
        text += f" Failed and kept out: {', '.join(failed)}."
    return f"{text} {dtype_sentence(facts)}".strip(), "warn" if failed else "good"


def chart_points(facts: Facts) -> list[dict[str, Any]]:
    """Size against accuracy per variant, fp32 first (accuracy 1.0 by definition), for a chart:
    ``{"variant", "bytes", "value", "metric", "passed"}``."""
    report = (facts.quantization or {}).get("report") or {}
    rows = report_rows(facts)
    if not rows:
        return []
    reference = report.get("reference") or {}
    points = [
        {
            "variant": "fp32",
            "bytes": int(reference.get("bytes") or 0),
            "value": 1.0,
            "metric": "reference",
            "passed": True,
        }
    ]
    for row in rows:
        value = row.get("value")
        points.append(
            {
                "variant": str(row.get("variant")),
                "bytes": int(row.get("bytes") or 0),
                "value": float(value) if isinstance(value, (int, float)) else None,
                "metric": str(row.get("metric") or ""),
                "passed": row.get("verdict") == "passed",
            }
        )
    return points


def reference_latency(facts: Facts) -> str:
    """The fp32 model's latency measured beside the variants ('-' when none ran)."""
    report = (facts.quantization or {}).get("report") or {}
    latency = (report.get("reference") or {}).get("latency_ms")
    return f"{float(latency):.1f} ms" if isinstance(latency, (int, float)) else "-"
