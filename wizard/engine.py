"""The engine's services behind the state machine: it does each step's work and records facts.

The machine (``onnx_wizard.machine``) only routes; this module runs the checks, inspects the
model and builds the plan when the wizard reaches the step that needs them. Renderers (Textual,
ipywidgets, ``demo``) call :func:`go_next`, :func:`go_back` and :func:`refresh` and draw
``machine.view(state)``; the calls may block for a moment, so UIs run them in a worker thread.
"""

from __future__ import annotations

from dataclasses import replace

from onnx_wizard import machine
from onnx_wizard.errors import WizardError
from onnx_wizard.plan import ExportPlan
from onnx_wizard.planning import plan_from_answers
from onnx_wizard.steps import Step, WizardState


def inspect_source(state: WizardState) -> WizardState:
    """Inspect the model named on SOURCE; a problem becomes an error on the ``source`` field."""
    from onnx_wizard.inspection import inspect_model

    spec = str(state.answers.get("source") or "").strip()
    try:
        report = inspect_model(spec)
    except WizardError as error:
        errors = {**state.errors, "source": f"{error.problem} Fix: {error.fix}"}
        return replace(state, errors=errors, attempted=True)
    return machine.with_facts(state, report=report.to_dict())


def check_output(state: WizardState) -> WizardState:
    """Refuse an output folder that would overwrite the user's files; record why on the field."""
    from onnx_wizard.output import check_output_folder

    output = state.answers.get("output")
    if not output:
        return state
    try:
        check_output_folder(str(output))
    except WizardError as error:
        errors = {**state.errors, "output": f"{error.problem} Fix: {error.fix}"}
        return replace(state, errors=errors, attempted=True)
    return state


def run_prerequisites(state: WizardState) -> WizardState:
    from onnx_wizard.checks import run_checks

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
    return refresh(machine.advance(state))


def go_back(state: WizardState) -> WizardState:
    return machine.back(state)
