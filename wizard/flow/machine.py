"""The wizard's state machine: an explicit routing table over frozen states, shared by every UI.

A headless core: renderers (Textual, ipywidgets, the CLI) draw :func:`view` and call the
functions below; none of them holds step logic. Every function is pure and returns a new state.

Public API::

    start(answers=None, facts=None) -> WizardState     # answers pre-filled, e.g. from CLI flags
    view(state) -> StepView                            # what to draw for state.step
    answer(state, name, value) -> WizardState          # a field of the current step; a bad value
                                                       # becomes a field error, never an exception
    with_answers(state, changes) -> WizardState        # the engine sets answers of any step
    with_facts(state, **changes) -> WizardState        # the engine records what it learned
    next(state) -> WizardState                         # validate, then push and route (alias:
                                                       # advance); on error the same step, with
                                                       # the errors in its view
    back(state) -> WizardState                         # pop the history
    act(state, action) -> WizardState                  # a StepView action: back/next/run/...
    effective_answers(state) -> dict                   # answers of the steps on the taken path
    ROUTES: dict[Step, Route]                          # (answers, facts) -> Step, one per step
    EDGES: dict[Step, dict[Step, str]]                 # possible successors, with conditions
    successors(step) -> frozenset[Step]
    path(state) -> tuple[Step, ...]                    # the steps this run will show (step bar)
    to_mermaid() -> str                                # the table as a mermaid flowchart

The machine never computes facts (no inspection, no checks, no export): the engine does that work
and reports it with :func:`with_facts`. Types live in ``onnx_wizard.flow.steps``, the forms in
``onnx_wizard.flow.views``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import fields as dataclass_fields
from dataclasses import replace
from typing import Any

from onnx_wizard.flow import actions, publishing, quantizing, results, views
from onnx_wizard.flow.steps import (
    ANSWER_STEPS,
    Facts,
    Field,
    Layout,
    Step,
    StepView,
    WizardState,
    Work,
    coerce,
)
from onnx_wizard.flow.views import Answers, asks_architecture

Route = Callable[[Answers, Facts], Step]

# A user changing the model makes everything learned about the old one, and the answers that
# depend on its kind, stale: drop them so no screen shows the previous model's facts. (Not for
# with_answers: an accepted trust_remote_code remedy must keep the task and the report.)
_MODEL_ANSWERS = {"source": None, "trust_remote_code": False}  # name -> value when unanswered
_MODEL_DEPENDENT = ("task", "with_past", "decoder_files")
_RUN_FACTS = {
    "run": None,
    "validation": None,
    "diagnosis": None,
    "publish": None,
    "quantization": None,
}


# ---- the routing table -------------------------------------------------------------------------


def _after_task(answers: Answers, facts: Facts) -> Step:
    return Step.ARCHITECTURE if asks_architecture(answers, facts) else Step.EXPORT_OPTIONS


def _after_run(answers: Answers, facts: Facts) -> Step:
    outcome = (facts.run or {}).get("status")
    if outcome == "ok":
        return Step.VALIDATE
    return Step.REVIEW if outcome == "cancelled" else Step.RECOVER


def _after_validate(answers: Answers, facts: Facts) -> Step:
    if not (facts.validation or {}).get("passed"):
        return Step.RECOVER
    return Step.PUBLISH if answers.get("publish") else Step.DONE


def _after_recover(answers: Answers, facts: Facts) -> Step:
    return Step.RUN if answers.get("recovery") == "apply" else Step.DONE


def _to(step: Step) -> Route:
    def route(answers: Answers, facts: Facts) -> Step:
        return step

    return route


ROUTES: dict[Step, Route] = {
    Step.SOURCE: _to(Step.PREREQUISITES),
    Step.PREREQUISITES: _to(Step.MODEL),
    Step.MODEL: _to(Step.TASK),
    Step.TASK: _after_task,
    Step.ARCHITECTURE: _to(Step.EXPORT_OPTIONS),
    Step.EXPORT_OPTIONS: _to(Step.QUANTIZATION),
    Step.QUANTIZATION: _to(Step.REVIEW),
    Step.REVIEW: _to(Step.RUN),
    Step.RUN: _after_run,
    Step.VALIDATE: _after_validate,
    Step.RECOVER: _after_recover,
    Step.PUBLISH: _to(Step.DONE),
}

# Every successor a route may return, with the condition in words (for the diagram). next()
# refuses a route that leaves this table, and the tests check both directions.
EDGES: dict[Step, dict[Step, str]] = {
    Step.SOURCE: {Step.PREREQUISITES: ""},
    Step.PREREQUISITES: {Step.MODEL: "checks pass, or ignored"},
    Step.MODEL: {Step.TASK: "export supported, or a fallback route"},
    Step.TASK: {
        Step.ARCHITECTURE: "generator: decoder or encoder-decoder",
        Step.EXPORT_OPTIONS: "encoder, or a task without KV cache",
    },
    Step.ARCHITECTURE: {Step.EXPORT_OPTIONS: ""},
    Step.EXPORT_OPTIONS: {Step.QUANTIZATION: ""},
    Step.QUANTIZATION: {Step.REVIEW: ""},
    Step.REVIEW: {Step.RUN: "run"},
    Step.RUN: {Step.VALIDATE: "export ok", Step.RECOVER: "failed", Step.REVIEW: "cancelled"},
    Step.VALIDATE: {Step.PUBLISH: "passed, publish", Step.DONE: "passed", Step.RECOVER: "failed"},
    Step.RECOVER: {Step.RUN: "apply the fix and retry", Step.DONE: "stop"},
    Step.PUBLISH: {Step.DONE: "finish"},
    Step.DONE: {},
}


def successors(step: Step) -> frozenset[Step]:
    """The steps ``next()`` may lead to from ``step``; empty only for DONE."""
    return frozenset(EDGES[step])


def path(state: WizardState) -> tuple[Step, ...]:
    """The steps of this run in order, for a step bar (RECOVER is a detour, shown as RUN).

    The KV-cache step is always counted, so the count stays the same when the model is read
    (an encoder passes it by: :func:`skipped`)."""
    answers, seen = state.answers, {state.step, *state.history}
    steps = [Step.SOURCE, Step.PREREQUISITES, Step.MODEL, Step.TASK, Step.ARCHITECTURE]
    steps += [Step.EXPORT_OPTIONS, Step.QUANTIZATION, Step.REVIEW, Step.RUN, Step.VALIDATE]
    if answers.get("publish") or Step.PUBLISH in seen:
        steps.append(Step.PUBLISH)
    return (*steps, Step.DONE)


def skipped(state: WizardState) -> frozenset[Step]:
    """Steps of :func:`path` this walk passes by (a step bar marks them, never as done)."""
    seen = {state.step, *state.history}
    known, facts = state.facts.report is not None, state.facts
    if known and Step.ARCHITECTURE not in seen and not asks_architecture(state.answers, facts):
        return frozenset({Step.ARCHITECTURE})
    return frozenset()


def to_mermaid() -> str:
    """The routing table as a mermaid flowchart, for the README."""
    lines = ["flowchart TD"]
    lines += [f'    {step.value}["{views.title(step)}"]' for step in Step]
    for step, targets in EDGES.items():
        for target, label in targets.items():
            arrow = f'-->|"{label}"|' if label else "-->"
            lines.append(f"    {step.value} {arrow} {target.value}")
    return "\n".join(lines) + "\n"


# ---- states and views --------------------------------------------------------------------------


def start(answers: Mapping[str, Any] | None = None, facts: Facts | None = None) -> WizardState:
    """A new wizard on SOURCE. Pre-filled answers are checked by name now, by value on their
    step (a bad one shows there as a field error)."""
    _known(answers or {})
    return WizardState(answers=dict(answers or {}), facts=facts or Facts())


def view(state: WizardState) -> StepView:
    """Everything a renderer needs to draw the current step."""
    step = state.step
    status, blocker = views.status(step, state.answers, state.facts)
    _, errors = _checked(state, strict=state.attempted)
    shown = tuple(
        item
        if item.kind == "info"
        else views.with_value(item, state.answers, errors.get(item.name))
        for item in views.form(step, state.answers, state.facts)
    )
    error = blocker or ("Some answers need attention: see the marked fields." if errors else None)
    steps = path(state)
    here = Step.RUN if step is Step.RECOVER else step
    outcome, tone = results.outcome(step, state.answers, state.facts)
    return StepView(
        step=step,
        title=views.title(step, status),
        help=views.help_text(step, state.facts, status),
        fields=shown,
        status=status,
        actions=actions.offered(step, status, state.answers, state.facts, bool(state.history)),
        error=error,
        progress=(steps.index(here) + 1, len(steps)),
        layout=_layout(step, state.facts),
        work=_work(step, state.answers, state.facts),
        tables=results.tables(step, state.answers, state.facts),
        outcome=outcome,
        outcome_tone=tone,
    )


LAYOUTS: dict[Step, Layout] = {Step.RUN: "run", Step.RECOVER: "recover"}


def _layout(step: Step, facts: Facts) -> Layout:
    if step is Step.PUBLISH and (facts.publish or {}).get("status") == "uploading":
        return "run"  # the upload's per-file progress goes to the run pane
    return LAYOUTS.get(step, "form")


def _work(step: Step, answers: Answers, facts: Facts) -> Work | None:
    """The long work the engine must do before this step can go on (``engine.work`` does it)."""
    if step is Step.PREREQUISITES and facts.checks is None:
        return "checks"
    if step is Step.MODEL and facts.report is None:
        return "inspect"  # the model changed (or its code was trusted) since it was read
    if step is Step.RUN and facts.run is None:
        return "export"
    if step is Step.RUN and quantizing.pending(answers, facts):
        return "quantize"
    if step is Step.PUBLISH:
        return publishing.pending_work(facts)
    return None


def answer(state: WizardState, name: str, value: Any) -> WizardState:
    """Set a field of the current step. ValueError for a name this step does not ask."""
    shown = {item.name: item for item in views.form(state.step, state.answers, state.facts)}
    if name in shown and shown[name].kind == "info":
        raise ValueError(f"{name!r} is shown for information and cannot be answered.")
    _known({name: value})
    item = _input_fields(state).get(name)
    if item is None:
        raise ValueError(
            f"{name!r} is not asked on the {state.step.value} step "
            f"(it belongs to {ANSWER_STEPS[name].value}, when that step offers it)."
        )
    try:
        stored = coerce(item, value)
    except ValueError as error:
        return replace(state, errors={**state.errors, name: str(error)})
    errors = {k: v for k, v in state.errors.items() if k != name}
    updated = replace(state, answers={**state.answers, name: stored}, errors=errors)
    if name in _MODEL_ANSWERS and stored != state.answers.get(name, _MODEL_ANSWERS[name]):
        updated = _forget_model(updated)
    # An answer can narrow another field's choices (with_past -> decoder files): drop answers
    # that no longer fit, so the field falls back to its default instead of showing an error.
    dropped = [
        other
        for other, item in _input_fields(updated).items()
        if other != name and other in updated.answers and not _valid(item, updated.answers[other])
    ]
    if dropped:
        kept = {k: v for k, v in updated.answers.items() if k not in dropped}
        updated = replace(updated, answers=kept)
    return updated


def with_answers(state: WizardState, changes: Mapping[str, Any]) -> WizardState:
    """Set answers of any step (the engine applying flags or a remedy); ValueError if invalid."""
    _known(changes)
    coerced, problem = _coerced(state, changes)
    if problem:
        raise ValueError(problem)
    return replace(state, answers={**state.answers, **coerced})


def with_facts(state: WizardState, **changes: Any) -> WizardState:
    """Record what the engine learned, e.g. ``with_facts(state, report=..., gpu=False)``."""
    unknown = set(changes) - {f.name for f in dataclass_fields(Facts)}
    if unknown:
        raise ValueError(f"Unknown facts: {', '.join(sorted(unknown))}.")
    return replace(state, facts=replace(state.facts, **changes))


def advance(state: WizardState) -> WizardState:
    """Go to the next step if the current one is complete; otherwise stay and show why."""
    step = state.step
    if step is Step.DONE:
        return state
    status, _ = views.status(step, state.answers, state.facts)
    values, errors = _checked(state, strict=True)
    recovery = state.answers.get("recovery") if step is Step.RECOVER else None
    stopping = recovery == "stop"
    if errors or (status in ("blocked", "running") and not stopping):
        return replace(state, attempted=True)
    answers = {**state.answers, **values}
    facts = state.facts
    if recovery == "apply":
        remedies = (facts.diagnosis or {}).get("remedies") or ()
        fix = remedies[values["remedy"]] if "remedy" in values else {}
        changes, problem = _coerced(replace(state, answers=answers), fix.get("answers") or {})
        if problem:
            return replace(state, errors={**state.errors, "remedy": problem}, attempted=True)
        answers.update(changes)
    if step is Step.REVIEW or recovery == "apply":
        # A new run: forget the last one's results, but a retry keeps the attempt history.
        earlier = results.attempt_history(facts) if recovery == "apply" else ()
        facts = replace(facts, **_RUN_FACTS, earlier_attempts=earlier)
    target = ROUTES[step](answers, facts)
    if target not in EDGES[step]:
        raise RuntimeError(f"route {step.value} -> {target.value} is missing from EDGES")
    answers.pop("recovery", None)  # a choice made once, never replayed by a later Next
    return WizardState(target, answers, facts, (*state.history, step))


next = advance  # the name the design uses; ``advance`` avoids shadowing the builtin in callers


def back(state: WizardState) -> WizardState:
    """Return to the previous step as it was left; the same state where Back is not offered."""
    if not view(state).offers("back"):
        return state
    return WizardState(state.history[-1], state.answers, state.facts, state.history[:-1])


def act(state: WizardState, action: str) -> WizardState:
    """Perform one of ``view(state).actions`` that only routes (back, next, run, apply, stop,
    finish). Consent, "edit", "cancel" and the work around each action are the engine's
    (``onnx_wizard.flow.engine.act``); here a refused action is a ValueError."""
    current = view(state)
    if not current.offers(action):
        offered = [a.name for a in current.actions if a.enabled]
        raise ValueError(f"{action!r} is not offered on {state.step.value}; offered: {offered}")
    if action == "back":
        return back(state)
    if action in ("cancel", "close", "edit"):
        return state
    if action == "run" and state.step is Step.RUN:  # run again after a cancel
        return replace(state, facts=replace(state.facts, **_RUN_FACTS))
    if action in ("apply", "stop"):
        state = replace(state, answers={**state.answers, "recovery": action})
    return advance(state)


def effective_answers(state: WizardState) -> dict[str, Any]:
    """The answers of the steps on the path taken (history and current step), defaults included;
    answers of steps that were skipped or backed out of are left out."""
    result: dict[str, Any] = {}
    for step in dict.fromkeys((*state.history, state.step)):
        values, _ = _checked(replace(state, step=step, errors={}), strict=False)
        result.update(values)
    return result


# ---- helpers -----------------------------------------------------------------------------------


def _known(names: Mapping[str, Any]) -> None:
    unknown = [name for name in names if name not in ANSWER_STEPS]
    if unknown:
        raise ValueError(
            f"Unknown answer(s): {', '.join(unknown)}. Known: {', '.join(sorted(ANSWER_STEPS))}."
        )


def _input_fields(state: WizardState) -> dict[str, Field]:
    return {
        item.name: item
        for item in views.form(state.step, state.answers, state.facts)
        if item.kind not in ("info", "secret")  # a secret is never an answer
    }


def _valid(item: Field, value: Any) -> bool:
    try:
        coerce(item, value)
    except ValueError:
        return False
    return True


def _checked(state: WizardState, *, strict: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """The current step's values (answer or default) and errors. Rejected inputs and stale
    answers always count; missing and conflicting ones only once Next was tried (``strict``)."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = dict(state.errors)
    for name, item in _input_fields(state).items():
        if name in state.answers:
            try:
                values[name] = coerce(item, state.answers[name])
            except ValueError as error:
                errors.setdefault(name, str(error))
        elif item.default is None and item.required:
            if strict:
                errors.setdefault(name, f"{item.label} is required.")
        else:
            values[name] = item.default
    if strict:
        for name, message in views.cross_errors(state.step, values, state.facts).items():
            errors.setdefault(name, message)
    return values, errors


def _coerced(state: WizardState, changes: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    """``changes`` checked against the fields of the steps that ask them, in today's context."""
    result: dict[str, Any] = {}
    for name, value in changes.items():
        owner = replace(state, step=ANSWER_STEPS[name], answers={**state.answers, **result})
        item = _input_fields(owner).get(name)
        if item is None:
            return result, f"{name} does not apply to this model."
        try:
            result[name] = coerce(item, value)
        except ValueError as error:
            return result, f"{name}: {error}"
    return result, None


def _forget_model(state: WizardState) -> WizardState:
    answers = {k: v for k, v in state.answers.items() if k not in _MODEL_DEPENDENT}
    facts = replace(state.facts, report=None, command=None, **_RUN_FACTS)
    return replace(state, answers=answers, facts=facts)
