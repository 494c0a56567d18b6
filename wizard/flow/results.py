"""The results every face shows, formatted once: file and validation tables, outcomes, snippets.

Pure functions of answers and facts. Sizes, figures and verdicts become text here, so the terminal
app, the notebook and ``demo`` print the same words and numbers; a face only lays the cells out.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from onnx_wizard.flow import preflight_view
from onnx_wizard.flow.steps import Facts, Step, Table
from onnx_wizard.planning.memory import format_size
from onnx_wizard.result import ORT_CLASSES, base_task

Answers = Mapping[str, Any]

JS_PIPELINES: dict[str, str] = {
    "sentence-similarity": "feature-extraction",
    "text2text-generation": "text2text-generation",
}


# The stages the export child reports, in order, with the words every face shows for them.
RUN_STAGES: tuple[tuple[str, str], ...] = (
    ("load", "Load model"),
    ("export", "Export"),
    ("post_process", "Post-process"),
    ("validate", "Validate"),
)


def file_rows(facts: Facts) -> list[dict[str, Any]]:
    """One row per ONNX file of the last run: size and its validation figures.

    Rows: ``{"file", "variant", "bytes", "max_abs_diff", "atol", "passed"}``; an external-data
    file counts towards its graph's size.
    """
    run: Mapping[str, Any] = facts.run or {}
    checks = list((facts.validation or {}).get("checks") or ())
    sizes: dict[str, int] = {}
    for item in run.get("files") or ():
        name = str(item.get("name"))
        if name.endswith(".onnx"):
            sizes[name] = sizes.get(name, 0) + int(item.get("bytes") or 0)
        elif name.endswith(".onnx_data"):
            graph = name.removesuffix("_data")
            sizes[graph] = sizes.get(graph, 0) + int(item.get("bytes") or 0)
    rows: list[dict[str, Any]] = []
    for name in sorted(sizes):
        submodel = name.rsplit("/", 1)[-1].removesuffix(".onnx")
        mine = [c for c in checks if c.get("submodel") == submodel]
        diffs = [float(c["max_abs_diff"]) for c in mine if _is_number(c.get("max_abs_diff"))]
        tolerances = [float(c["atol"]) for c in mine if _is_number(c.get("atol"))]
        rows.append(
            {
                "file": name,
                "variant": "fp32",
                "bytes": sizes[name],
                "max_abs_diff": max(diffs) if diffs else None,
                "atol": min(tolerances) if tolerances else None,
                "passed": all(bool(c.get("passed")) for c in mine) if mine else None,
            }
        )
    return rows


def figure(value: Any) -> str:
    """A difference or tolerance as people read it: three significant digits, '-' when absent."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.3g}"
    return "-" if value is None else str(value)  # NaN and inf arrive as strings in strict JSON


def verdict(passed: Any) -> str:
    return "not checked" if passed is None else ("passed" if passed else "FAILED")


def files_table(facts: Facts) -> Table:
    """The export's files (checked against PyTorch), then one row per quantized variant
    (checked against the fp32 ONNX model), failed variants marked with their reason."""
    from onnx_wizard.flow.quantizing import reference_latency, variant_table_rows

    rows = tuple(
        (
            str(r["file"]),
            format_size(r["bytes"]),
            str(r["variant"]),
            "1.00",
            "reference",
            reference_latency(facts),
            figure(r["max_abs_diff"]),
            verdict(r["passed"]),
        )
        for r in file_rows(facts)
    )
    variants, note = variant_table_rows(facts)
    columns = ("File", "Size", "Variant", "Ratio", "Accuracy", "Latency", "Max |diff|", "Result")
    return Table("files", "Files", columns, rows + variants, note)


def checks_table(facts: Facts) -> Table:
    """Every output that was compared with PyTorch, in which decoding step, and its figures."""
    validation = facts.validation or {}
    rows = tuple(
        (
            f"{c.get('submodel')}/{c.get('output')}",
            str(c.get("stage") or "single pass"),
            figure(c.get("max_abs_diff")),
            figure(c.get("atol")),
            verdict(c.get("passed")),
        )
        for c in validation.get("checks") or ()
    )
    skipped = [str(n) for n in validation.get("not_validated") or ()]
    note = ("Not validated: " + ", ".join(skipped)) if skipped else ""
    columns = ("Output", "Decoding step", "Max |diff|", "Tolerance", "Result")
    return Table("checks", "Checks against PyTorch", columns, rows, note)


def diff_table(answers: Answers, facts: Facts) -> Table:
    """What the chosen fix changes in the plan: one row per decision, now and after."""
    from onnx_wizard.flow.actions import chosen_remedy

    remedy = chosen_remedy(answers, facts) or {}
    rows = tuple(
        (str(name), _setting(change[0]), _setting(change[1]))
        for name, change in dict(remedy.get("diff") or {}).items()
    )
    note = "" if rows else "No fix that changes the plan is known for this failure."
    columns = ("Setting", "Now", "After the fix")
    return Table("diff", "What this fix changes in the plan", columns, rows, note)


def _setting(value: Any) -> str:
    return "default" if value is None else str(value)


def tables(step: Step, answers: Answers, facts: Facts) -> tuple[Table, ...]:
    """The step's formatted tables: the pre-flight findings first where they are shown."""
    return preflight_view.tables(step, facts) + _step_tables(step, answers, facts)


def _step_tables(step: Step, answers: Answers, facts: Facts) -> tuple[Table, ...]:
    history = attempts_table(facts)
    if step in (Step.VALIDATE, Step.DONE) and facts.validation is not None:
        return (files_table(facts), checks_table(facts), *history)
    if step is Step.RECOVER and facts.diagnosis is not None:
        return (diff_table(answers, facts), *history)
    if step is Step.QUANTIZATION:
        from onnx_wizard.flow.quantizing import recommendation_table

        return (recommendation_table(),)
    if step is Step.PUBLISH:
        from onnx_wizard.flow.publishing import publish_tables

        return publish_tables(facts)
    if step is Step.REVIEW and (facts.diagnosis or {}).get("taken"):
        return (taken_table(facts),)
    return ()


def attempt_history(facts: Facts) -> tuple[Mapping[str, Any], ...]:
    """Every attempt since the review: the earlier runs' and this run's."""
    return (*facts.earlier_attempts, *((facts.run or {}).get("attempts") or ()))


def attempts_table(facts: Facts) -> tuple[Table, ...]:
    """Every attempt since the review, once there was more than one (retries included)."""
    attempts = attempt_history(facts)
    if len(attempts) < 2:
        return ()
    rows = tuple(
        (
            str(number),
            str(attempt.get("status") or ""),
            _attempt_error(attempt),
            str(attempt.get("command") or ""),
        )
        for number, attempt in enumerate(attempts, start=1)
    )
    columns = ("Attempt", "Result", "Why", "Command")
    return (Table("attempts", "Attempts so far", columns, rows),)


def _attempt_error(attempt: Mapping[str, Any]) -> str:
    diagnosis = attempt.get("diagnosis") or {}
    if diagnosis.get("title"):
        return str(diagnosis["title"])
    error = attempt.get("error") or {}
    return str(error.get("type") or "-") if attempt.get("status") != "ok" else "-"


def taken_table(facts: Facts) -> Table:
    """What the fix taken from the doctor (``flow.doctoring.take_fix``) changed in the plan."""
    diagnosis = facts.diagnosis or {}
    remedy: Mapping[str, Any] = (diagnosis.get("remedies") or ({},))[0]
    rows = tuple(
        (str(name), _setting(change[0]), _setting(change[1]))
        for name, change in dict(remedy.get("diff") or {}).items()
    )
    label = str(remedy.get("label") or "").rstrip(".")
    note = f"From the doctor: {diagnosis.get('title')}. Fix: {label}."
    columns = ("Setting", "Before", "Now")
    return Table("taken", "What the doctor's fix changed", columns, rows, note)


def failed_text(run: Mapping[str, Any]) -> str:
    """The words "The export failed." and the runner's reason as a sentence. The runner's own
    closing hint ("rerun with --auto-fix") is for the command line: in the wizard the recovery
    step offers those fixes itself, so it is left out."""
    detail = str(run.get("detail") or "").strip()
    if detail.startswith("the export failed"):
        detail = ""
    if detail:
        detail = detail[0].upper() + detail[1:] + ("" if detail.endswith(".") else ".")
    return f"The export failed. {detail}".strip()


def outcome(step: Step, answers: Answers, facts: Facts) -> tuple[str, str]:
    """(sentence, tone) saying how the last run ended, for the steps that show it."""
    run: Mapping[str, Any] = facts.run or {}
    status = run.get("status")
    log = f" The log: {run['log']}" if run.get("log") else ""
    if step is Step.RUN:
        if status == "ok":
            return f"Export finished: the files are in {answers.get('output')}.", "good"
        if status == "cancelled":
            return "Cancelled. The output folder was not touched.", "warn"
        if status == "failed":
            return failed_text(run) + log, "bad"
    if step in (Step.RUN, Step.RECOVER) and status == "not_validated":
        return NOT_VALIDATED + log, "bad"
    if step is Step.RECOVER and status == "failed":
        return failed_text(run) + log, "bad"
    if step is Step.RECOVER and (facts.validation or {}).get("passed") is False:
        return str((facts.validation or {}).get("summary") or "Validation failed."), "bad"
    if step is Step.DONE:
        return done_summary(answers, facts)
    if step is Step.VALIDATE and facts.quantization is not None:
        from onnx_wizard.flow.quantizing import quantization_outcome

        return quantization_outcome(facts)
    if step is Step.PUBLISH:
        from onnx_wizard.flow.publishing import publish_outcome

        return publish_outcome(facts)
    return preflight_view.outcome(step, facts)


def done_summary(answers: Answers, facts: Facts) -> tuple[str, str]:
    validation = facts.validation or {}
    output = answers.get("output")
    if not validation.get("passed"):
        return (
            f"Stopped without a validated export; {output} was left as it was. Your answers "
            "are saved: start the wizard again to resume.",
            "bad",
        )
    count = len(file_rows(facts))
    files = f"{count} ONNX file" + ("s" if count != 1 else "")
    summary = f"{files} in {output}, validated against PyTorch. {validation.get('summary')}"
    from onnx_wizard.flow.publishing import done_sentence
    from onnx_wizard.flow.quantizing import dtype_sentence

    extra = "".join(f" {s}" for s in (dtype_sentence(facts), done_sentence(answers, facts)) if s)
    return summary + kept_sentence(facts) + extra, "good"


# A run that exported but compared nothing with PyTorch: never called ok, anywhere.
NOT_VALIDATED = (
    "The export ran but was not validated: nothing was compared with PyTorch, so onnx-wizard "
    "cannot say the files are right."
)


def kept_sentence(facts: Facts) -> str:
    """Which of the user's own files the run left in the output, and where clashing ones went."""
    run: Mapping[str, Any] = facts.run or {}
    kept = [str(name) for name in run.get("kept") or ()]
    text = ""
    if kept:
        shown = ", ".join(kept[:5]) + (f" and {len(kept) - 5} more" if len(kept) > 5 else "")
        text += f" Your own files in the output were kept: {shown}."
    if run.get("backup"):
        text += f" Files of yours that the new export replaced were moved to {run['backup']}."
    return text


def snippets(answers: Answers, facts: Facts) -> dict[str, str]:
    """Code to load the finished export: Python (optimum's ORTModel) and Transformers.js."""
    task = base_task(answers.get("task") or (facts.report or {}).get("task"))
    output = str(answers.get("output") or ".")
    ort_class = ORT_CLASSES.get(task)
    if (facts.run or {}).get("route"):
        names = [str(f["name"]) for f in facts.run.get("files") or () if f.get("name")]
        return _fallback_snippets(output, names, (facts.report or {}).get("model_type"))
    python = (
        f"from optimum.onnxruntime import {ort_class}\n"
        f"model = {ort_class}.from_pretrained({output!r})"
        if ort_class
        else "import onnxruntime\n"
        f"session = onnxruntime.InferenceSession({output!r} + '/model.onnx')"
    )
    pipeline = JS_PIPELINES.get(task, task)
    # The repo it was published to, and the dtype quantization made config.json's default.
    published = (facts.publish or {}).get("status") == "ok"
    repo = str(answers.get("repo_id")) if published else "your-name/model-ONNX"
    report = (facts.quantization or {}).get("report") or {}
    dtype = (report.get("transformers.js_config") or {}).get("dtype") or "fp32"
    js = (
        "import { pipeline } from '@huggingface/transformers';\n"
        f"const run = await pipeline('{pipeline}', '{repo}', {{ dtype: '{dtype}' }});"
    )
    return {"python": python, "js": js}


def _fallback_snippets(output: str, names: list[str], model_type: Any) -> dict[str, str]:
    """A fallback export: optimum's ORTModel classes and Transformers.js pick their code by
    config.json's model_type, which they may not know, so promise only ONNX Runtime itself."""
    files = sorted(n for n in names if n.endswith(".onnx")) or ["model.onnx"]
    python = "import onnxruntime\n" + "\n".join(
        f"{Path(name).stem} = onnxruntime.InferenceSession({output!r} + '/{name}')"
        for name in files
    )
    js = (
        f"// Transformers.js chooses the model class by model_type ({model_type}); optimum has "
        "no ONNX config for it, so check that Transformers.js lists it before you rely on "
        "pipeline(). onnxruntime-web loads the files directly:\n"
        "import * as ort from 'onnxruntime-web';\n"
        f"const session = await ort.InferenceSession.create('{files[0]}');"
    )
    return {"python": python, "js": js}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
