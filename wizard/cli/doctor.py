"""``onnx-wizard doctor``: diagnose a pasted or piped log of a failed export; fix its command."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onnx_wizard.errors import WizardError

if TYPE_CHECKING:
    from onnx_wizard.planning.plan import ExportPlan

MAX_LOG_BYTES = 64 * 1024 * 1024  # far above any real log; stops a wrong file from eating RAM


def read_log(source: str | None) -> str:
    """The log from a file, or from stdin for ``-`` (or no argument with piped input)."""
    if source in (None, "-"):
        if source is None and sys.stdin.isatty():
            raise WizardError(
                "No log was given.",
                "Pass the log file (onnx-wizard doctor export.log), or pipe it in "
                "(optimum-cli export onnx ... 2>&1 | onnx-wizard doctor -).",
            )
        return sys.stdin.read(MAX_LOG_BYTES)
    path = Path(source).expanduser()
    if not path.is_file():
        raise WizardError(
            f"The log file {source!r} does not exist.",
            "Check the path, or pipe the log in with `... 2>&1 | onnx-wizard doctor -`.",
        )
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        return handle.read(MAX_LOG_BYTES)


def plan_from_log(log: str) -> ExportPlan | None:
    """The export plan of the `optimum-cli export onnx ...` command the log holds, if any."""
    from onnx_wizard.knowledge import extract_plan_command
    from onnx_wizard.planning.plan import ExportPlan

    command = extract_plan_command(log)
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
    return {
        "diagnoses": diagnoses,
        "tell_apart": close.to_dict() if close else None,
        "tell_apart_text": close.text() if close else None,
        "corrected_command": corrected_command(log, diagnoses),
        "summary": result.summary.to_dict(),
        "summary_text": "\n".join(result.summary.lines()),
    }


def cmd_doctor(args: argparse.Namespace) -> int:
    log = read_log(args.logfile)
    result = run_doctor(log)
    if getattr(args, "plan", False):
        return _print_plan(log, result)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0 if result["diagnoses"] else 1
    if not result["diagnoses"]:
        print(result["summary_text"])  # never empty: empty, prose, clean or what the error says
        return 1
    from onnx_wizard.cli.export import render_diagnoses

    print(render_diagnoses(result["diagnoses"]))
    if result["tell_apart_text"]:
        print(f"\n{result['tell_apart_text']}")
    if result["corrected_command"]:
        print(f"\nCorrected command:\n  {result['corrected_command']}")
    return 0


def _print_plan(log: str, result: dict[str, Any]) -> int:
    """`doctor LOG --plan`: the plan the log's command had, changed by the fix, and its command."""
    plan = plan_from_log(log)
    if plan is None:
        print(
            "The log holds no `optimum-cli export onnx ...` command, so there is no plan to change."
        )
        print(result["summary_text"] if not result["diagnoses"] else "")
        return 1
    fixed = fix_plan(plan, result["diagnoses"], gpu=True)
    if fixed is None:
        print("No remedy changes this plan; the fixes are listed by `onnx-wizard doctor LOG`.")
        return 1
    changed, remedy = fixed
    print(f"Fix: {remedy.get('note') or remedy.get('action')}")
    for name, (before, after) in plan.changes(changed).items():
        print(f"  {name}: {before!r} -> {after!r}")
    print(f"\nChanged plan:\n{json.dumps(changed.to_dict(), indent=2)}")
    print(f"\nCommand:\n  {changed.to_command()}")
    return 0
