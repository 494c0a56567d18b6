"""The engine: it performs every action of the wizard, does each step's work and records facts.

The machine (``onnx_wizard.flow.machine``) only routes; this module runs the checks, inspects the
model, builds the plan, runs the export and decides what follows it. Faces (Textual, ipywidgets,
``demo``) draw ``machine.view(state)``, bind its actions to keys and buttons, and call exactly
two functions: :func:`act` for a button (``yes=True`` when the user ticked the action's consent)
and :func:`work` when the view names long work (``view.work``). Both may block, so faces call
them from a worker thread; :class:`RunControl` lets a face cancel the work from its own thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from onnx_wizard.errors import WizardError
from onnx_wizard.flow import fallback_route, machine, preflight_view, publishing, quantizing
from onnx_wizard.flow.actions import chosen_remedy, consent_key, remote_code_key
from onnx_wizard.flow.results import file_rows
from onnx_wizard.flow.session import SessionInfo, find_resumable
from onnx_wizard.flow.steps import ANSWER_STEPS, Step, WizardState
from onnx_wizard.planning.answers import plan_from_answers
from onnx_wizard.planning.plan import ExportPlan
from onnx_wizard.result import ExportResult


def inspect_source(state: WizardState) -> WizardState:
    """Inspect the model named on SOURCE; a problem becomes an error on the ``source`` field.

    A sample being built stops when :meth:`RunControl.cancel` is called: the build raises
    KeyboardInterrupt here, which is recorded as a cancel on the field, never a crash."""
    from onnx_wizard.inspection.report import inspect_model

    spec = str(state.answers.get("source") or "").strip()
    try:
        report = inspect_model(spec)
    except WizardError as error:
        errors = {**state.errors, "source": f"{error.problem} Fix: {error.fix}"}
        return replace(state, errors=errors, attempted=True)
    except KeyboardInterrupt:
        errors = {**state.errors, "source": INSPECTION_CANCELLED}
        return replace(state, errors=errors, attempted=True)
    facts = fallback_route.with_cache_choice(report.to_dict())
    return preflight_view.checked(machine.with_facts(state, report=facts))


INSPECTION_CANCELLED = "Cancelled while the model was being read. Press Next to read it again."


def check_output(state: WizardState) -> WizardState:
    """Refuse an output folder that would overwrite the user's files; record why on the field."""
    from onnx_wizard.planning.output import check_output_folder

    output = state.answers.get("output")
    if not output:
        return state
    report = state.facts.report or {}
    source: str | None = None
    if report.get("path") and report.get("source_kind") != "hub":
        source = str(report["path"])  # an output in, around or equal to the model is refused
    elif Path(str(state.answers.get("source") or "")).expanduser().is_dir():
        source = str(state.answers.get("source"))  # a local folder, before it is read
    try:
        check_output_folder(
            str(output), overwrite=bool(state.answers.get("overwrite")), source=source
        )
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


def plan_command(state: WizardState) -> str:
    """The command that does what the wizard will do: optimum-cli's, or the fallback route's."""
    plan = current_plan(state)
    answers = machine.effective_answers(state)
    return fallback_route.command(answers, state.facts.report, plan) or plan.to_command()


def refresh(state: WizardState) -> WizardState:
    """Do the work the current step waits for (checks, plan command); no-op when done."""
    if state.step is Step.PREREQUISITES and state.facts.checks is None:
        return run_prerequisites(state)
    if state.step in PLAN_SHOWN and state.facts.report is not None:
        command = plan_command(state)  # a fix changed the plan: say so everywhere
        if command != state.facts.command:
            state = machine.with_facts(state, command=command)
    if state.step is Step.REVIEW and state.facts.report is not None:
        state = preflight_view.checked_plan(state)  # what would stop this plan, before Run
    if state.step is Step.PUBLISH:
        state = publishing.enter(state)  # where the token would come from (no request)
    return state


# The steps that show the plan's equivalent command (the review and everything after the run).
PLAN_SHOWN = (Step.REVIEW, Step.RUN, Step.VALIDATE, Step.RECOVER, Step.PUBLISH, Step.DONE)


def go_next(state: WizardState) -> WizardState:
    """Next, with the engine's work around it: validate the source first, then route, refresh."""
    if state.step is Step.QUANTIZATION:
        stale = ("calibration", "calibration_column")  # checked again from scratch
        state = replace(state, errors={k: v for k, v in state.errors.items() if k not in stale})
        problem = quantizing.calibration_error(machine.effective_answers(state))
        if problem is not None:
            return replace(state, errors={**state.errors, problem[0]: problem[1]}, attempted=True)
    if state.step is Step.SOURCE:
        state = replace(state, errors={k: v for k, v in state.errors.items() if k != "source"})
        state = check_output(state)
        if state.errors:
            return state
        if state.facts.report is None:
            state = inspect_source(state)
            if state.errors:
                return state
            state = check_output(state)  # now against the folder the model was read from
            if state.errors:
                return state
    return refresh(machine.advance(state))


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
    if plan.trust_remote_code and remote_code_key(state.answers) not in state.facts.consents:
        detail = (
            "The plan runs the model's own code (trust_remote_code) but nobody said yes to it. "
            "Fix: go back to the model step and confirm you trust this model."
        )
        return machine.with_facts(state, run={"status": "failed", "detail": detail, "files": []})
    route = fallback_route.job(machine.effective_answers(state), state.facts.report, plan.task)
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
            tokenizer=getattr(plan, "tokenizer", None) or None,  # one from elsewhere, if named
            # A type optimum cannot export goes by the route chosen on the model step.
            fallback=route,
        )
    except WizardError as error:  # e.g. remote code without consent: a failed run, with why
        failure = {"status": "failed", "detail": f"{error.problem} Fix: {error.fix}", "files": []}
        needs_code = (state.facts.report or {}).get("needs_remote_code")
        if needs_code and not plan.trust_remote_code:
            found = remote_code_diagnosis(state, error)
        else:
            found = unrecognised_failure(str(failure["detail"]))
        return machine.with_facts(state, run=failure, diagnosis=found)
    except Exception as error:  # a bug must end as a failed run, never a screen that waits
        detail = f"internal error: {type(error).__name__}: {error}"
        failure = {"status": "failed", "detail": detail, "files": []}
        return machine.with_facts(state, run=failure, diagnosis=unrecognised_failure(detail))
    final = result.final
    promoted = final is not None and result.status in ("ok", "not_validated")
    run = {
        "status": result.status,
        "detail": result.reason,
        "files": final.outcome.files if final and result.status == "ok" else [],
        # An attempt by a fallback route ran that route, not the optimum-cli line it carries.
        "attempts": [
            {**a.to_dict(), **({"command": plan_command(state)} if route else {})}
            for a in result.attempts
        ],
        "log": final.outcome.log_path if final else "",
        # The user's own files the run left in the output, and where clashing ones went.
        "kept": list(final.outcome.kept) if final and promoted else [],
        "backup": final.outcome.backup if final and promoted else None,
        "route": result.route,  # how a fallback route made it, in words; None for optimum's
    }
    validation = final.outcome.validation if final else None
    diagnosis: dict[str, Any] | None = None
    if final and final.diagnoses:
        best = dict(final.diagnoses[0])
        best["remedies"] = remedy_choices(state, best)
        diagnosis = best
    elif final and result.status == "failed":
        log = final.outcome.log_text()
        answers = machine.effective_answers(state)
        routed = fallback_route.failure_diagnosis(answers, state.facts.report, log)
        diagnosis = routed or unrecognised_failure(log)
    elif result.status == "not_validated":
        diagnosis = not_validated_diagnosis(result.reason)
    instead = fallback_route.instead_of_optimum(state.facts.report, result)
    if instead is not None and diagnosis is not None and route is None:
        # optimum's export of a type it supports failed: the fallback routes are the last fix.
        diagnosis = {**diagnosis, "remedies": [*(diagnosis.get("remedies") or ()), instead]}
    if validation is not None and run["status"] == "failed":
        run["status"] = "ok"  # the export ran; VALIDATE shows the mismatch, then RECOVER
    facts: dict[str, Any] = {"run": run, "diagnosis": diagnosis}
    if validation is not None:
        facts["validation"] = {**validation, "summary": _validation_summary(validation)}
    # A new diagnosis has new fixes: the fix picked for the last one must not carry over.
    state = replace(state, answers={k: v for k, v in state.answers.items() if k != "remedy"})
    return machine.with_facts(state, **facts)


def remote_code_diagnosis(state: WizardState, error: WizardError) -> dict[str, Any]:
    """The model ships its own code: say so, and offer the switch, which needs the user's yes."""
    diagnosis = {
        "id": "OW-WIZ-REMOTE-CODE",
        "category": "trust_remote_code",
        "title": "This model runs its own Python code",
        "confidence": 1.0,
        "explanation": f"{error.problem} {error.fix}",
        "remedies": [
            {
                "action": "trust_remote_code",
                "note": "Run the model's own code (trust_remote_code)",
                "needs_consent": True,
            }
        ],
    }
    diagnosis["remedies"] = remedy_choices(state, diagnosis)
    return diagnosis


def not_validated_diagnosis(reason: str) -> dict[str, Any]:
    """An export nothing was compared with: said as such (RECOVER), never counted as ok."""
    return {
        "id": "OW-WIZ-NOT-VALIDATED",
        "category": "not_validated",
        "title": "The export was not validated",
        "confidence": 1.0,
        "explanation": f"{reason or 'nothing was compared with PyTorch'}. The files may be "
        "wrong: run the export again with validation before you use them.",
        "remedies": [],
    }


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


class ActionRefused(WizardError):
    """An action the current step does not offer now, or one that needs a yes it did not get."""


def act(
    state: WizardState,
    action: str,
    *,
    yes: bool = False,
    secrets: Mapping[str, str] | None = None,
) -> WizardState:
    """Perform one of ``machine.view(state).actions`` with the engine's work around it.

    An action that needs consent (``ActionView.consent``) is refused unless ``yes`` is true or
    the user already said yes to that exact action; the yes is recorded in ``facts.consents``.
    ``cancel`` is :meth:`RunControl.cancel`; ``close`` changes nothing (the face closes).
    ``secrets`` holds what the view's ``secret`` fields hold (a typed Hub token): used by this
    action and dropped, never stored in the state.
    """
    view = machine.view(state)
    offered = view.action(action)
    if offered is None or not offered.enabled:
        why = offered.reason if offered is not None else "it is not offered on this step"
        raise ActionRefused(
            f"'{action}' cannot be done on '{view.title}' now: {why}",
            "Use one of the buttons the step shows.",
        )
    key = consent_key(state.step, action, state.answers, state.facts)
    if key and key not in state.facts.consents:
        if not yes:
            raise ActionRefused(
                f"'{offered.label}' needs your explicit yes: {offered.consent}",
                "Tick the box beside the button (or pass yes=True), or choose another way.",
            )
        keys = [key]
        remedy = chosen_remedy(state.answers, state.facts) if action == "apply" else None
        if remedy and "trust_remote_code" in dict(remedy.get("answers") or {}):
            keys.append(remote_code_key(state.answers))  # the run itself checks this yes
        state = machine.with_facts(state, consents=(*state.facts.consents, *keys))
    if action == "next":
        return go_next(state)
    if action == "back":
        return go_back(state)
    if action == "edit":
        return edit_plan(state)
    if action in ("cancel", "close"):
        return state
    if action == "apply" and state.step is Step.REVIEW:
        return apply_preflight_fix(state)
    if state.step is Step.PUBLISH and action in ("stage", "upload", "finish"):
        moved = publishing.act(state, action, secrets)
        return refresh(machine.advance(moved)) if action == "finish" else moved
    return refresh(machine.act(state, action))


def apply_preflight_fix(state: WizardState) -> WizardState:
    """The review's "Apply fix": the first plan change that lowers what a pre-flight blocker
    needs (skip the decoder merge, the GPU in fp16, smaller shapes); the check runs again."""
    fix = preflight_view.first_fix(state.facts)
    if fix is None:
        return refresh(state)
    return refresh(machine.with_answers(state, dict(fix.get("answers") or {})))


def edit_plan(state: WizardState) -> WizardState:
    """RECOVER's "Edit plan": back to the step that asks what the chosen fix would change (the
    export options for most fixes), else the review; answers kept, nothing applied."""
    remedy = chosen_remedy(state.answers, state.facts) or {}
    owners = [ANSWER_STEPS[name] for name in dict(remedy.get("answers") or {})]
    for target in (*owners, Step.EXPORT_OPTIONS, Step.REVIEW):
        if target in state.history:
            return back_to(state, target)
    return back_to(state, Step.REVIEW)


class RunControl:
    """Lets a face cancel the engine's long work from another thread (the UI's)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._run: Any = None
        self.cancelled = False
        self.started = False  # a child process exists: cancelling ends it

    def attach(self, run: Any) -> None:
        with self._lock:
            self._run = run
            cancel_now = self.cancelled
        if cancel_now:
            run.cancel()

    def mark_started(self) -> None:
        self.started = True

    def cancel(self) -> None:
        """Stop the running export's process tree, and a sample model being built (the
        inspection then ends as cancelled); blocks up to about a second."""
        from onnx_wizard.inspection.samples import cancel_builds

        with self._lock:
            self.cancelled = True
            run = self._run
        cancel_builds()
        if run is not None:
            run.cancel()


def work(
    state: WizardState,
    *,
    control: RunControl | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    memory_limit: int | None = None,
) -> WizardState:
    """Do the long work ``machine.view(state).work`` names, and move on as its outcome says:
    a passed export goes to its results, a failed one to recovery, a cancelled one stays."""
    pending = machine.view(state).work
    if pending == "checks":
        return run_prerequisites(state)
    if pending == "inspect":
        inspected = inspect_source(state)
        if inspected.errors.get("source") == INSPECTION_CANCELLED:
            # Cancelled on the model step: back to the model question, which says so.
            return replace(back_to(state, Step.SOURCE), errors=inspected.errors, attempted=True)
        return inspected
    if pending in ("quantize", "stage", "upload"):
        return after_export_work(state, pending, control or RunControl(), on_event)
    if pending != "export":
        return state
    control = control or RunControl()

    def events(event: dict[str, Any]) -> None:
        if event.get("event") == "started":
            control.mark_started()
        if on_event is not None:
            on_event(event)

    done = run_export_step(state, on_event=events, on_run=control.attach, memory_limit=memory_limit)
    status = (done.facts.run or {}).get("status")
    if machine.view(done).work == "quantize":
        return done  # passed, with variants to make: the next work (the faces start it)
    if status in ("ok", "failed", "not_validated"):
        return refresh(machine.advance(done))
    return done


def after_export_work(
    state: WizardState,
    pending: str,
    control: RunControl,
    on_event: Callable[[dict[str, Any]], None] | None,
) -> WizardState:
    """Quantize the passed export (then its results), stage it, or upload it (then DONE)."""
    plan = current_plan(state)
    if pending == "stage":
        return publishing.stage(state, plan.output)
    if pending == "upload":
        sent = publishing.upload(state, plan.output, on_event)
        ok = (sent.facts.publish or {}).get("status") == "ok"
        return refresh(machine.advance(sent)) if ok else sent
    control.mark_started()  # Cancel is offered from here: it stops the variants' children
    fact = quantizing.run_quantization(
        plan.output,
        state.answers,
        task=plan.task,
        export_command=plan_command(state),
        on_event=on_event,
        on_run=control.attach,
    )
    return refresh(machine.advance(machine.with_facts(state, quantization=fact)))


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
    """One row per ONNX file of the last run (``flow.results.file_rows``)."""
    return file_rows(state.facts)


def variant_points(state: WizardState) -> list[dict[str, Any]]:
    """Size against accuracy per quantized variant, fp32 first (``quantizing.chart_points``)."""
    return quantizing.chart_points(state.facts)


def result(state: WizardState) -> ExportResult | None:
    """The finished export as an :class:`~onnx_wizard.result.ExportResult`, once it passed."""
    facts = state.facts
    if not (facts.validation or {}).get("passed") or not facts.run:
        return None
    plan = current_plan(state)
    return ExportResult.from_run(
        plan.output, plan.task or "", facts.run, facts.validation, facts.command or ""
    )


def resume_offer(source: str | None, output: str | None) -> SessionInfo | None:
    """An unfinished session for the same model or output folder, to offer (never to load
    unasked): ``offer.question()`` is the question to show."""
    return find_resumable(source=source, output=output)


def resume(offer: SessionInfo) -> WizardState:
    """The offered session's state, ready to draw. A run that was cut off goes back to the
    review, so resuming never starts an export by itself; a cut-off upload waits for Upload."""
    state = offer.state
    if state is None:
        raise WizardError(f"The session {offer.id} cannot be read.", offer.problem or "Start anew.")
    cut_off = (state.facts.run or {}).get("status") in (None, "running")
    if state.step is Step.RUN and cut_off and Step.REVIEW in state.history:
        # Back is not offered while a run is under way, so step out of it directly.
        keep = len(state.history) - 1 - state.history[::-1].index(Step.REVIEW)
        state = WizardState(Step.REVIEW, state.answers, state.facts, state.history[:keep])
    if state.step is Step.PUBLISH:
        state = publishing.cut_off(state)  # never upload again by itself
    return refresh(state)


def check_prefill(answers: Mapping[str, Any]) -> list[str]:
    """Problems with pre-filled answers that can be told before the model is read (an opset
    out of range, a task optimum does not know), so a face refuses them at once."""
    from onnx_wizard.flow.views import OPSET_RANGE
    from onnx_wizard.inspection.supported_tasks import load_table

    problems: list[str] = []
    try:
        machine.start(answers)
    except ValueError as error:
        problems.append(str(error))
    opset = answers.get("opset")
    low, high = OPSET_RANGE
    if opset is not None and not (isinstance(opset, int) and low <= opset <= high):
        problems.append(f"--opset {opset} is outside the supported range {low}-{high}.")
    task = answers.get("task")
    if task and task != "auto":
        known = set(load_table().all_tasks)
        if str(task).removesuffix("-with-past") not in known:
            problems.append(
                f"--task {task} is not a task optimum knows; known: {', '.join(sorted(known))}."
            )
    return problems
