"""Pre-flight in the wizard: what would make the run fail, found before it starts, on the model
and review steps of every face, with the plan changes that lower the need and a "go anyway" yes.

The engine calls :func:`checked` (model step: the model alone) and :func:`checked_plan` (review:
the plan as it stands) and records the findings in ``facts.preflight``; the view side
(:func:`tables`, :func:`outcome`, :func:`consent_key`, :func:`consent_text`, :func:`first_fix`) only
reads them. Findings come from ``onnx_wizard.planning.preflight``; nothing here imports anything
heavy or draws anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from onnx_wizard.flow.steps import Facts, Step, Table, WizardState

# How a pre-flight remedy reads as wizard answers. The GPU export is fp16 as well: it is what
# keeps the weights off this machine's RAM. A change this model's choices do not offer (cuda
# without a GPU, decoder files on a model that has none to choose) is not offered.
FIX_ANSWERS: dict[str, dict[str, Any]] = {
    "no_post_process": {"decoder_files": "separate"},
    "set_device": {"device": "cuda", "dtype": "fp16"},
    "reduce_shapes": {"batch_size": 1, "sequence_length": 16},
}
FIX_NOTES = {"reduce_shapes": "trace with smaller dummy inputs (batch 1, sequence 16)"}
SHOWN_ON = (Step.MODEL, Step.REVIEW)


def checked(state: WizardState, *, memory_limit: int | None = None) -> WizardState:
    """``state`` with the model-level findings (right after inspection: no plan yet)."""
    from onnx_wizard.flow import machine
    from onnx_wizard.planning.preflight import preflight

    report = state.facts.report
    if report is None:
        return state
    found = [f.to_dict() for f in preflight(report, memory_limit=memory_limit)]
    return machine.with_facts(state, preflight=tuple(found))


def checked_plan(state: WizardState, *, memory_limit: int | None = None) -> WizardState:
    """``state`` with the findings for the plan the answers describe (the review step), each
    with the plan changes that would lower the need (``choices``)."""
    from onnx_wizard.flow import machine
    from onnx_wizard.flow.engine import current_plan
    from onnx_wizard.planning.preflight import preflight

    report = state.facts.report
    if report is None:
        return state
    plan = current_plan(state)
    findings = preflight(
        report, plan, memory_limit=memory_limit, gpu=state.facts.gpu, output=plan.output
    )
    found = []
    for finding in findings:
        data = finding.to_dict()
        if finding.kind == "memory":
            data["choices"] = _choices(state, [*finding.remedies, {"action": "reduce_shapes"}])
        found.append(data)
    if tuple(found) == tuple(_plain(f) for f in state.facts.preflight or ()):
        return state
    return machine.with_facts(state, preflight=tuple(found))


def _choices(state: WizardState, remedies: list[Mapping[str, str]]) -> list[dict[str, Any]]:
    """The remedies that really change the plan, as answers, each with its plan diff."""
    from onnx_wizard.flow import machine
    from onnx_wizard.flow.engine import current_plan

    plan = current_plan(state)
    choices: list[dict[str, Any]] = []
    for remedy in remedies:
        action = str(remedy.get("action"))
        answers = FIX_ANSWERS.get(action)
        if answers is None:
            continue
        try:
            changed = machine.with_answers(state, answers)
            diff = plan.changes(current_plan(changed))
        except ValueError:
            continue  # e.g. cuda on a machine without a GPU: not a choice here
        if diff:
            label = str(remedy.get("note") or FIX_NOTES.get(action) or action)
            choices.append(
                {
                    "action": action,
                    "label": label,
                    "answers": answers,
                    "diff": {k: [old, new] for k, (old, new) in diff.items()},
                }
            )
    return choices


def _plain(value: Any) -> Any:
    from onnx_wizard.flow.steps import thaw

    return thaw(value)


# ---- what the views read -----------------------------------------------------------------------


def blockers(facts: Facts) -> list[Mapping[str, Any]]:
    if facts.report is None:
        return []  # findings of a model that is being read again are stale
    return [f for f in facts.preflight or () if f.get("blocking")]


def consent_key(facts: Facts) -> str:
    """The "go anyway" yes, named by the kinds of blocker it was given for: when that set
    changes (a fix cleared one, a new one appeared) the question is asked again."""
    kinds = sorted({str(f.get("kind")) for f in blockers(facts)})
    return f"preflight:{','.join(kinds)}" if kinds else ""


def consent_text(facts: Facts) -> str:
    found = blockers(facts)
    if not found:
        return ""
    problems = "; ".join(_short(f) for f in found)
    return f"Go anyway: run the export although it would likely fail ({problems})."


def _short(finding: Mapping[str, Any]) -> str:
    return {
        "no_weights": "no weight files",
        "foreign_weights": "weights the export cannot read",
        "missing_shards": "weight shards missing",
        "memory": "not enough free RAM",
        "disk": "not enough disk space",
    }.get(str(finding.get("kind")), str(finding.get("kind")))


def first_fix(facts: Facts) -> Mapping[str, Any] | None:
    """The first plan change that lowers what a blocker needs (the review's "apply")."""
    for finding in blockers(facts):
        for choice in finding.get("choices") or ():
            return choice
    return None


def tables(step: Step, facts: Facts) -> tuple[Table, ...]:
    """The findings, and on the review the fixes that change the plan, as formatted tables."""
    if step not in SHOWN_ON or facts.report is None or not facts.preflight:
        return ()
    rows = tuple(
        (
            str(f.get("message")),
            "blocks the run" if f.get("blocking") else "warning",
            str(f.get("fix")) + _remedy_notes(f, step),
        )
        for f in facts.preflight
    )
    note = ""
    if blockers(facts):
        note = (
            "The export would fail: fix this first, or tick 'Go anyway' on the review step."
            if step is Step.MODEL
            else "Run needs your 'Go anyway' while a problem above is not resolved."
        )
    found = Table(
        "preflight", "Before the run: what would make it fail", ("Problem", "", "Fix"), rows, note
    )
    fixes = [c for f in blockers(facts) for c in f.get("choices") or ()]
    if step is not Step.REVIEW or not fixes:
        return (found,)
    fix_rows = tuple(
        (
            str(c.get("label")),
            ", ".join(
                f"{k}: {_word(v[0])} -> {_word(v[1])}" for k, v in dict(c.get("diff") or {}).items()
            ),
        )
        for c in fixes
    )
    plan_fixes = Table(
        "preflight_fixes",
        "Plan changes that lower what the run needs",
        ("Fix", "Changes in the plan"),
        fix_rows,
        "'Apply fix' makes the first change; the check runs again.",
    )
    return (found, plan_fixes)


def _remedy_notes(finding: Mapping[str, Any], step: Step) -> str:
    if step is Step.REVIEW and finding.get("choices") is not None:
        return ""  # the review lists the fixes that apply here in their own table
    notes = [str(r.get("note")) for r in finding.get("remedies") or () if r.get("note")]
    return "".join(f"\n{number}. {note}" for number, note in enumerate(notes, start=1))


def _word(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "default" if value is None else str(value)


def outcome(step: Step, facts: Facts) -> tuple[str, str]:
    """The sentence that says the run is stopped before it starts, and why."""
    found = blockers(facts)
    if step not in SHOWN_ON or not found:
        return "", ""
    reasons = " ".join(str(f.get("message")) for f in found)
    if step is Step.MODEL:
        return f"This export would fail: {reasons}", "bad"
    return f"Run is stopped until this is resolved, or you say go anyway: {reasons}", "bad"
