"""STOP-GAPS: what the terminal app shows or does that ``machine.view`` does not offer yet.

Everything here reads facts the engine already recorded, or makes one engine call sequence, and
names the engine change that would replace it. When the engine provides it, delete the function
and draw the view instead. Nothing here decides a route or checks an answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from onnx_wizard.errors import WizardError
from onnx_wizard.flow import engine, machine
from onnx_wizard.flow.steps import Step, WizardState


def task_reasons(state: WizardState) -> list[str]:
    """Why the task was detected. Engine: an info field ``task_reasons`` on the TASK view."""
    return [str(r) for r in (state.facts.report or {}).get("task_reasons") or ()]


def accuracy_rows(state: WizardState) -> list[tuple[str, str, str, bool]]:
    """(output, largest difference, tolerance, passed) per checked output, for DONE.

    Engine: the DONE view should repeat VALIDATE's ``result:<output>`` info fields."""
    rows = []
    for check in (state.facts.validation or {}).get("checks") or ():
        if not isinstance(check, Mapping):
            continue
        name = f"{check.get('submodel')}/{check.get('output')}"
        rows.append(
            (
                name,
                _number(check.get("max_abs_diff")),
                _number(check.get("atol")),
                bool(check.get("passed")),
            )
        )
    return rows


def output_files(state: WizardState) -> list[tuple[str, int]]:
    """(file name, bytes) of the finished export. Engine: info fields on the DONE view."""
    files = (state.facts.run or {}).get("files") or ()
    return [(str(f.get("name")), int(f.get("bytes") or 0)) for f in files if isinstance(f, Mapping)]


def edit_plan(state: WizardState) -> WizardState:
    """RECOVER's "Edit plan": back to the export options (or the review), answers kept."""
    target = Step.EXPORT_OPTIONS if Step.EXPORT_OPTIONS in state.history else Step.REVIEW
    return engine.back_to(state, target)


def failed_before_start(state: WizardState, error: BaseException) -> WizardState:
    """A run that raised instead of running (e.g. remote code not allowed) as a failed run, so
    the wizard can go on to RECOVER. Engine: ``run_export_step`` should record it itself."""
    if isinstance(error, WizardError):
        detail = f"{error.problem} Fix: {error.fix}"
    else:  # a bug: say so plainly rather than leave the run screen waiting forever
        detail = f"internal error: {type(error).__name__}: {error}"
    return machine.with_facts(state, run={"status": "failed", "detail": detail})


def unrecognised_failure(state: WizardState) -> bool:
    """A failed run with no diagnosis: the RECOVER view then says "Diagnosing..." forever.
    Engine: record an "unrecognised failure" diagnosis (title, explanation, log hint)."""
    diagnosis = state.facts.diagnosis
    unknown = diagnosis is None or diagnosis.get("id") == "OW-WIZ-UNKNOWN"
    return state.step is Step.RECOVER and unknown


def _number(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, (int, float)) else "-"
