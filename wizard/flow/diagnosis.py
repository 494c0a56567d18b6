"""The doctor's answer for a pasted log: diagnoses, the never-empty summary, the log's own
``optimum-cli`` command as a plan and that plan with the first fix applied; tokens masked.

Engine work, shared by ``onnx-wizard doctor``, the terminal doctor screen, ``%%onnx_wizard
doctor`` and ``flow.doctoring`` (which takes the fix into the wizard).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from onnx_wizard.errors import WizardError

if TYPE_CHECKING:
    from onnx_wizard.planning.plan import ExportPlan


def plan_from_log(log: str) -> ExportPlan | None:
    """The export plan of the `optimum-cli export onnx ...` command the log holds, if any."""
    from onnx_wizard.knowledge import extract_plan_command
    from onnx_wizard.planning.plan import ExportPlan

    command = extract_plan_command(log)
    # The last mention may be a traceback frame (`File ".../bin/optimum-cli"`), not the command
    # the user ran: look at the earlier mentions too, latest first.
    text, tries = log, 0
    while not command and tries < 20:
        cut = max(text.rfind("optimum-cli"), text.rfind("optimum.exporters.onnx"))
        if cut <= 0:
            break
        text, tries = text[:cut], tries + 1
        command = extract_plan_command(text)
    if not command:
        return None
    try:
        return ExportPlan.from_command(command)
    except WizardError:
        return None  # a command with flags this optimum does not know: leave it to the user


def fix_plan(
    plan: ExportPlan, diagnoses: list[dict[str, Any]], *, gpu: bool = False
) -> tuple[ExportPlan, dict[str, Any]] | None:
    """From the doctor to the wizard: ``plan`` with the first remedy that changes it applied.

    Returns the changed plan and the remedy used, or None when no remedy changes this plan.
    Remedies that need the user's yes (install, remote code) are skipped here: the face asks.
    """
    from onnx_wizard.runner.recovery import apply_remedy

    for diagnosis in diagnoses:
        for remedy in diagnosis.get("remedies") or ():
            if remedy.get("needs_consent"):
                continue
            fixed = apply_remedy(plan, remedy, None, gpu=gpu)
            if fixed is not None:
                return fixed, remedy
    return None


def corrected_command(log: str, diagnoses: list[dict[str, Any]]) -> str | None:
    """The log's own optimum-cli command with the first remedy that changes it applied."""
    plan = plan_from_log(log)
    fixed = fix_plan(plan, diagnoses, gpu=True) if plan is not None else None
    return fixed[0].to_command() if fixed else None


def run_doctor(log: str) -> dict[str, Any]:
    """Diagnoses (maybe none), the corrected command, and the never-empty summary."""
    from onnx_wizard.knowledge.answer import answer, mask_secrets

    result = answer(log)
    diagnoses = [d.to_dict() | {"evidence": mask_secrets(d.evidence)} for d in result.diagnoses]
    close = result.tell_apart
    # Every text the doctor shows may quote the pasted log (the command, the error line): mask
    # tokens everywhere, with the project's one rule for them.
    return masked(
        {
            "diagnoses": diagnoses,
            "tell_apart": close.to_dict() if close else None,
            "tell_apart_text": close.text() if close else None,
            "corrected_command": corrected_command(log, diagnoses),
            "summary": result.summary.to_dict(),
            "summary_text": "\n".join(result.summary.lines()),
        }
    )


def masked(value: Any) -> Any:
    """``value`` (JSON-like) with tokens masked in every string (``onnx_wizard.secrets``)."""
    from onnx_wizard.secrets import mask_secrets

    if isinstance(value, str):
        return mask_secrets(value)
    if isinstance(value, dict):
        return {key: masked(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [masked(item) for item in value]
    return value
