"""From the doctor to the wizard: take a diagnosis's fix into the wizard, ready to review and run.

A headless part of the engine shared by the terminal doctor screen and ``%%onnx_wizard doctor``.
:func:`fix_offer` says whether a pasted log holds a fix that changes an export plan (the button
a face draws, enabled or with the reason, and the yes it needs); :func:`take_fix` applies it:
to the open wizard when it exports the same model, else to a new wizard pre-filled from the
log's own ``optimum-cli export onnx`` command. Either way the wizard lands on REVIEW with the
plan changed, and the REVIEW view's "what the doctor's fix changed" table says what changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from onnx_wizard.errors import WizardError
from onnx_wizard.flow import engine, machine
from onnx_wizard.flow.actions import remote_code_key
from onnx_wizard.flow.steps import ActionView, Step, WizardState
from onnx_wizard.planning.plan import ExportPlan

LABEL = "Take this fix into the wizard"
BUSY = "Reading the model and applying the fix..."


@dataclass(frozen=True)
class FixOffer:
    """The doctor's "take this fix" button for one log: ``action`` is what a face draws
    (enabled, or disabled with its ``reason``; ``consent`` when it needs a yes), ``fix`` the
    remedy's words, ``changes`` the plan settings it changes ({name: (before, after)})."""

    action: ActionView
    fix: str = ""
    changes: Mapping[str, tuple[Any, Any]] | None = None

    @property
    def summary(self) -> str:
        """One line for the face to show beside the button."""
        if not self.action.enabled:
            return self.action.reason
        changed = ", ".join(
            f"{name} {_word(old)} → {_word(new)}"
            for name, (old, new) in (self.changes or {}).items()
        )
        return f"Fix: {self.fix} ({changed})" if changed else f"Fix: {self.fix}"


def fix_offer(
    state: WizardState | None, log: str, result: Mapping[str, Any] | None = None
) -> FixOffer:
    """Whether ``log``'s diagnosis holds a fix the wizard can take (``result`` is the log's
    ``run_doctor`` answer when the face already has it)."""
    result = result if result is not None else _doctor(log)
    diagnoses = list(result.get("diagnoses") or ())
    if not diagnoses:
        return _refused(
            "The doctor recognised no known failure in this log, so it has no fix to take into "
            "the wizard."
        )
    plan = _base_plan(state, log)
    if plan is None:
        return _refused(
            "The log holds no `optimum-cli export onnx ...` command and no wizard is open on a "
            "model, so there is no plan to change. Paste the log with its command, or open the "
            "wizard on the model first."
        )
    found = _first_fix(plan, diagnoses, gpu=bool(state and state.facts.gpu))
    if found is None:
        return _refused(
            "None of the doctor's fixes for this log changes the export plan: they are commands "
            "or changes to make by hand (listed above)."
        )
    fixed, remedy = found
    note = str(remedy.get("note") or remedy.get("action"))
    consent = ""
    if remedy.get("needs_consent"):
        consent = (
            f"Yes, run the Python code that ships with {plan.model} on this computer "
            "(trust_remote_code)."
            if remedy.get("action") == "trust_remote_code"
            else f"Yes, apply this change: {note}."
        )
    action = ActionView("apply", LABEL, "primary", consent=consent, busy=BUSY)
    return FixOffer(action, note, plan.changes(fixed))


def take_fix(
    state: WizardState | None,
    log: str,
    *,
    yes: bool = False,
    result: Mapping[str, Any] | None = None,
) -> WizardState:
    """The wizard with ``log``'s fix applied, on REVIEW (``state`` is the open wizard, or None).

    The open wizard is used when it has a plan for the same model as the log's command (or the
    log has no command); otherwise a new wizard starts from the log's command. Raises
    :class:`engine.ActionRefused` when there is no plan-changing fix, or the fix needs a yes
    (``FixOffer.action.consent``) and ``yes`` is false. When the new wizard cannot reach REVIEW
    (the model cannot be read, a step needs an answer), it stops on that step, showing why.
    """
    result = result if result is not None else _doctor(log)
    offer = fix_offer(state, log, result)
    if not offer.action.enabled:
        raise engine.ActionRefused(offer.action.reason, "Edit the plan in the wizard yourself.")
    if offer.action.consent and not yes:
        raise engine.ActionRefused(
            f"'{LABEL}' needs your explicit yes: {offer.action.consent}",
            "Tick the box beside the button (or pass yes=True), or make the change yourself.",
        )
    wizard = _open_wizard(state, log)
    if wizard is None:
        wizard = _from_log(log)
    reviewed = _to_review(wizard)
    if reviewed.step is not Step.REVIEW:
        return reviewed  # stopped where the user must act; that step says why
    for diagnosis in result.get("diagnoses") or ():
        for choice in engine.remedy_choices(reviewed, diagnosis):
            if choice["needs_consent"] and not yes:
                continue
            return _applied(reviewed, diagnosis, choice)
    raise engine.ActionRefused(
        "None of the doctor's fixes changes this model's plan (the values they name are not "
        "offered for it).",
        "Edit the plan in the wizard yourself.",
    )


def _doctor(log: str) -> dict[str, Any]:
    from onnx_wizard.flow.diagnosis import run_doctor

    return run_doctor(log)


def _refused(reason: str) -> FixOffer:
    return FixOffer(ActionView("apply", LABEL, "primary", "", False, reason, busy=BUSY))


def _word(value: Any) -> str:
    return "default" if value is None else str(value)


def _open_plan(state: WizardState | None) -> ExportPlan | None:
    if state is None or state.facts.report is None:
        return None
    try:
        return engine.current_plan(state)
    except (WizardError, ValueError):
        return None


def _open_wizard(state: WizardState | None, log: str) -> WizardState | None:
    """The open wizard, when it has a plan and the log names no other model."""
    from onnx_wizard.flow.diagnosis import plan_from_log

    plan = _open_plan(state)
    if state is None or plan is None:
        return None
    logged = plan_from_log(log)
    if logged is not None and not _same_model(logged.model, plan.model, state):
        return None
    if (state.facts.run or {}).get("status") == "running":
        return None  # never touch a running export; the log's command starts a new wizard
    return state


def _same_model(logged: str, planned: str, state: WizardState) -> bool:
    from pathlib import Path

    names = {planned, str(state.answers.get("source") or "")}
    if logged in names:
        return True
    try:
        return any(Path(logged).resolve() == Path(name).resolve() for name in names if name)
    except OSError:
        return False


def _base_plan(state: WizardState | None, log: str) -> ExportPlan | None:
    from onnx_wizard.flow.diagnosis import plan_from_log

    wizard = _open_wizard(state, log)
    if wizard is not None:
        return _open_plan(wizard)
    return plan_from_log(log)


def _first_fix(
    plan: ExportPlan, diagnoses: list[dict[str, Any]], *, gpu: bool
) -> tuple[ExportPlan, dict[str, Any]] | None:
    """The first remedy, best diagnosis first, that the wizard can apply and that changes
    ``plan`` (remedies needing a yes included: the offer carries the consent)."""
    from onnx_wizard.runner.recovery import apply_remedy

    for diagnosis in diagnoses:
        for remedy in diagnosis.get("remedies") or ():
            if remedy.get("action") not in engine.REMEDY_ANSWERS:
                continue  # e.g. --dynamo or an install: not something the wizard asks
            fixed = apply_remedy(plan, remedy, None, gpu=gpu)
            if fixed is not None and plan.changes(fixed):
                return fixed, dict(remedy)
    return None


def answers_from_plan(plan: ExportPlan) -> dict[str, Any]:
    """Wizard answers that describe ``plan`` (a log's command): the source, output and flags."""
    answers: dict[str, Any] = {"source": plan.model, "output": plan.output}
    if plan.task and plan.task != "auto":
        answers["task"] = plan.task.removesuffix("-with-past")
        if plan.task.endswith("-with-past"):
            answers["with_past"] = True
    for name in ("opset", "optimize", "atol"):
        if getattr(plan, name) is not None:
            answers[name] = getattr(plan, name)
    if plan.device != "cpu":
        answers["device"] = plan.device
    if plan.dtype != "fp32":
        answers["dtype"] = plan.dtype
    if plan.monolith:
        answers["decoder_files"] = "monolith"
    elif plan.no_post_process:
        answers["decoder_files"] = "separate"
    if plan.trust_remote_code:
        answers["trust_remote_code"] = True
    answers.update(
        {
            name: plan.shapes[name]
            for name in ("batch_size", "sequence_length")
            if name in plan.shapes
        }
    )
    return answers


def _from_log(log: str) -> WizardState:
    from onnx_wizard.flow.diagnosis import plan_from_log

    plan = plan_from_log(log)
    if plan is None:  # fix_offer found a plan, so this is only a changed log
        raise engine.ActionRefused("The log holds no optimum-cli command.", "Paste it with it.")
    return machine.start(answers_from_plan(plan))


def _to_review(state: WizardState) -> WizardState:
    """Next through the steps (with the engine's work and consent rules) until REVIEW, or
    back to it from a later step; stops on the first step that cannot go on."""
    if state.step is not Step.REVIEW and Step.REVIEW in state.history:
        return engine.back_to(state, Step.REVIEW)
    for _ in range(len(Step)):
        if state.step is Step.REVIEW:
            return engine.refresh(state)
        if machine.view(state).work in ("checks", "inspect"):
            state = engine.work(state)
        try:
            moved = engine.act(state, "next")
        except engine.ActionRefused:
            return state  # a step that needs the user (a yes, an answer): show it
        if moved.step is state.step:
            return moved  # the step said no (its errors are in the view)
        state = moved
    return state


def _applied(
    state: WizardState, diagnosis: Mapping[str, Any], choice: dict[str, Any]
) -> WizardState:
    """REVIEW with ``choice``'s answers set, and the fix recorded for the "what changed" table."""
    changed = machine.with_answers(state, choice["answers"])
    consents = list(changed.facts.consents)
    if "trust_remote_code" in choice["answers"]:
        consents.append(remote_code_key(changed.answers))  # the yes was given to take_fix
    taken = {
        "id": diagnosis.get("id"),
        "title": diagnosis.get("title"),
        "explanation": diagnosis.get("explanation"),
        "remedies": [choice],
        "taken": True,
    }
    changed = machine.with_facts(changed, diagnosis=taken, consents=tuple(consents))
    return engine.refresh(replace(changed, errors={}))
