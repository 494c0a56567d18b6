"""The engine's services behind the state machine: it does each step's work and records facts.

The machine (``onnx_wizard.flow.machine``) only routes; this module runs the checks, inspects the
model and builds the plan when the wizard reaches the step that needs them. Renderers (Textual,
ipywidgets, ``demo``) call :func:`go_next`, :func:`go_back` and :func:`refresh` and draw
``machine.view(state)``; the calls may block for a moment, so UIs run them in a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from onnx_wizard.errors import WizardError
from onnx_wizard.flow import machine
from onnx_wizard.flow.steps import Step, WizardState
from onnx_wizard.planning.answers import plan_from_answers
from onnx_wizard.planning.plan import ExportPlan


def inspect_source(state: WizardState) -> WizardState:
    """Inspect the model named on SOURCE; a problem becomes an error on the ``source`` field."""
    from onnx_wizard.inspection.report import inspect_model

    spec = str(state.answers.get("source") or "").strip()
    try:
        report = inspect_model(spec)
    except WizardError as error:
        errors = {**state.errors, "source": f"{error.problem} Fix: {error.fix}"}
        return replace(state, errors=errors, attempted=True)
    return machine.with_facts(state, report=report.to_dict())


def check_output(state: WizardState) -> WizardState:
    """Refuse an output folder that would overwrite the user's files; record why on the field."""
    from onnx_wizard.planning.output import check_output_folder

    output = state.answers.get("output")
    if not output:
        return state
    try:
        check_output_folder(str(output), overwrite=bool(state.answers.get("overwrite")))
    except WizardError as error:
        fix = error.fix.replace("pass --overwrite", "tick 'Replace what is in the output folder'")
        errors = {**state.errors, "output": f"{error.problem} Fix: {fix}"}
        return replace(state, errors=errors, attempted=True)
    return state


def run_prerequisites(state: WizardState) -> WizardState:
    from onnx_wizard.checks.environment import run_checks

    results = [r.to_dict() for r in run_checks()]
    gpu = any(r["name"] == "nvidia gpu" and "none found" not in r["detail"] for r in results)
    return machine.with_facts(state, checks=tuple(results), gpu=gpu)


def current_plan(state: WizardState) -> ExportPlan:
    """The export plan that the answers given so far describe."""
    report = state.facts.report
    if report is None:
        raise WizardError("The model has not been inspected yet.", "Go back to the model step.")
    return plan_from_answers(machine.effective_answers(state), report)


def refresh(state: WizardState) -> WizardState:
    """Do the work the current step waits for (checks, plan command); no-op when done."""
    if state.step is Step.PREREQUISITES and state.facts.checks is None:
        return run_prerequisites(state)
    if state.step is Step.REVIEW:
        return machine.with_facts(state, command=current_plan(state).to_command())
    return state


def go_next(state: WizardState) -> WizardState:
    """Next, with the engine's work around it: validate the source first, then route, refresh."""
    if state.step is Step.SOURCE:
        state = replace(state, errors={k: v for k, v in state.errors.items() if k != "source"})
        state = check_output(state)
        if state.errors:
            return state
        if state.facts.report is None:
            state = inspect_source(state)
            if state.errors:
                return state
    if state.step is Step.PUBLISH:
        return record_publish(machine.advance(state))
    return refresh(machine.advance(state))


def record_publish(state: WizardState) -> WizardState:
    """Publishing to the Hub is not built yet: say so plainly, with the command that does it."""
    output = current_plan(state).output
    repo = state.answers.get("repo_id") or "your-name/model-ONNX"
    detail = (
        "onnx-wizard cannot publish yet. Upload the folder yourself: "
        f"huggingface-cli upload {repo} {output}"
    )
    return machine.with_facts(state, publish={"status": "failed", "detail": detail})


def go_back(state: WizardState) -> WizardState:
    return machine.back(state)


# ---- the run step: export, validation and the diagnosis the RECOVER step offers -------------

# How a knowledge-base remedy reads as wizard answers (the RECOVER step applies these).
REMEDY_ANSWERS = {
    "set_opset": lambda args: {"opset": int(args["opset"])},
    "set_task": lambda args: {"task": args["task"]} if args.get("task") else {},
    "set_atol": lambda args: {"atol": args.get("atol")},
    "set_device": lambda args: {"device": args["device"]},
    "set_dtype": lambda args: {"dtype": args["dtype"]},
    "set_optimize": lambda args: {"optimize": args.get("optimize")},
    "no_post_process": lambda args: {"decoder_files": "separate"},
    "monolith": lambda args: {"decoder_files": "monolith"},
    "reduce_shapes": lambda args: {"batch_size": 1, "sequence_length": 16},
    "trust_remote_code": lambda args: {"trust_remote_code": True},
}


def remedy_choices(state: WizardState, diagnosis: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The diagnosis' remedies that change the plan, as answers, each with its plan diff."""
    plan = current_plan(state)
    choices: list[dict[str, Any]] = []
    for remedy in diagnosis.get("remedies") or ():
        to_answers = REMEDY_ANSWERS.get(str(remedy.get("action")))
        if to_answers is None:
            continue
        args = dict(remedy.get("args") or {})
        if remedy.get("action") == "set_task" and not args.get("task"):
            args["task"] = (state.facts.report or {}).get("task")
        answers = to_answers(args)
        try:
            changed = machine.with_answers(state, answers)
        except ValueError:
            continue  # the remedy names a value this model's choices do not offer
        diff = plan.changes(current_plan(changed))
        if not diff:
            continue
        choices.append(
            {
                "label": str(remedy.get("note") or remedy.get("action")),
                "answers": answers,
                "needs_consent": bool(remedy.get("needs_consent")),
                "diff": {k: [old, new] for k, (old, new) in diff.items()},
            }
        )
    return choices


def run_export_step(
    state: WizardState,
    *,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    on_run: Callable[[Any], None] | None = None,
    memory_limit: int | None = None,
) -> WizardState:
    """Run the plan once (no automatic fixes: the RECOVER step asks the user) and record it."""
    from onnx_wizard.runner.attempts import export_with_recovery
    from onnx_wizard.runner.process import log_dir_for

    plan = current_plan(state)
    try:
        result = export_with_recovery(
            plan,
            report=state.facts.report,
            log_dir=log_dir_for(Path(plan.output).expanduser().absolute()),
            auto_fix=False,
            memory_limit=memory_limit,
            gpu=state.facts.gpu,
            on_event=on_event,
            on_run=on_run,
        )
    except WizardError as error:  # e.g. remote code without consent: a failed run, with why
        run = {"status": "failed", "detail": f"{error.problem} Fix: {error.fix}", "files": []}
        return machine.with_facts(state, run=run, diagnosis=None)
    final = result.final
    run = {
        "status": result.status,
        "detail": result.reason,
        "files": final.outcome.files if final and result.status == "ok" else [],
        "attempts": [a.to_dict() for a in result.attempts],
        "log": final.outcome.log_path if final else "",
    }
    validation = final.outcome.validation if final else None
    diagnosis = None
    if final and final.diagnoses:
        best = dict(final.diagnoses[0])
        best["remedies"] = remedy_choices(state, best)
        diagnosis = best
    elif final and result.status == "failed":
        diagnosis = unrecognised_failure(final.outcome.log_text())
    if validation is not None and run["status"] == "failed":
        run["status"] = "ok"  # the export ran; VALIDATE shows the mismatch, then RECOVER
    facts: dict[str, Any] = {"run": run, "diagnosis": diagnosis}
    if validation is not None:
        facts["validation"] = {**validation, "summary": _validation_summary(validation)}
    return machine.with_facts(state, **facts)


def unrecognised_failure(log: str) -> dict[str, Any]:
    """A diagnosis that says plainly the failure is not a known one, with the log's last lines."""
    tail = "\n".join(log.strip().splitlines()[-8:])
    return {
        "id": "OW-WIZ-UNKNOWN",
        "category": "unknown",
        "title": "A failure onnx-wizard does not recognise",
        "confidence": 0.0,
        "explanation": "None of the known failures matches this log. Its last lines:\n" + tail,
        "remedies": [],
    }


def _validation_summary(validation: Mapping[str, Any]) -> str:
    from onnx_wizard.validation.report import ValidationReport

    return ValidationReport.from_dict(dict(validation)).summary()


def act(state: WizardState, action: str) -> WizardState:
    """A view action (next, back, apply, stop, ...) with the engine's work around it."""
    if action == "next":
        return go_next(state)
    if action == "back":
        return go_back(state)
    return refresh(machine.act(state, action))


def back_to(state: WizardState, target: Step) -> WizardState:
    """Back through the history to ``target`` (e.g. RECOVER's "Edit plan"), answers kept.

    Stops where Back is not offered, so it never loops; refreshes the step it lands on."""
    while state.step is not target and state.history:
        earlier = machine.back(state)
        if earlier is state:
            break
        state = earlier
    return refresh(state)


def results(state: WizardState) -> list[dict[str, Any]]:
    """One row per ONNX file of the last run: size and its validation figures.

    Rows: ``{"file", "variant", "bytes", "max_abs_diff", "atol", "passed"}``; quantized
    variants join them when quantization lands.
    """
    facts = state.facts
    run: Mapping[str, Any] = facts.run or {}
    checks = list((facts.validation or {}).get("checks") or ())
    sizes: dict[str, int] = {}
    for item in run.get("files") or ():
        name = str(item.get("name"))
        if name.endswith(".onnx"):
            sizes[name] = sizes.get(name, 0) + int(item.get("bytes") or 0)
        elif name.endswith(".onnx_data"):  # external weights count towards their graph's size
            graph = name.removesuffix("_data")
            sizes[graph] = sizes.get(graph, 0) + int(item.get("bytes") or 0)
    rows: list[dict[str, Any]] = []
    for name in sorted(sizes):
        submodel = name.rsplit("/", 1)[-1].removesuffix(".onnx")
        mine = [c for c in checks if c.get("submodel") == submodel]
        diffs = [float(c["max_abs_diff"]) for c in mine if c.get("max_abs_diff") is not None]
        tolerances = [float(c["atol"]) for c in mine if c.get("atol") is not None]
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
