"""``onnx-wizard doctor``: diagnose a pasted or piped log of a failed export; fix its command."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from onnx_wizard.errors import WizardError

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


def corrected_command(log: str, diagnoses: list[dict[str, Any]]) -> str | None:
    """The log's own optimum-cli command with the first remedy that changes it applied."""
    from onnx_wizard.knowledge import extract_plan_command
    from onnx_wizard.planning.plan import ExportPlan
    from onnx_wizard.runner.recovery import apply_remedy

    command = extract_plan_command(log)
    if not command:
        return None
    try:
        plan = ExportPlan.from_command(command)
    except WizardError:
        return None  # a command with flags this optimum does not know: leave it to the user
    for diagnosis in diagnoses:
        for remedy in diagnosis.get("remedies") or ():
            fixed = apply_remedy(plan, remedy, None, gpu=True)
            if fixed is not None:
                return fixed.to_command()
    return None


def run_doctor(log: str) -> dict[str, Any]:
    from onnx_wizard.knowledge import diagnose

    diagnoses = [d.to_dict() | {"evidence": d.evidence} for d in diagnose(log)]
    return {"diagnoses": diagnoses, "corrected_command": corrected_command(log, diagnoses)}


def cmd_doctor(args: argparse.Namespace) -> int:
    log = read_log(args.logfile)
    result = run_doctor(log)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0 if result["diagnoses"] else 1
    if not result["diagnoses"]:
        print(
            "No known failure was recognised in this log. If the export failed, the error is "
            "usually in the last 30 lines: run `onnx-wizard check`, then rerun the export with "
            "`onnx-wizard export MODEL OUTDIR --auto-fix`.",
        )
        return 1
    from onnx_wizard.cli.export import render_diagnoses

    print(render_diagnoses(result["diagnoses"]))
    if result["corrected_command"]:
        print(f"\nCorrected command:\n  {result['corrected_command']}")
    return 0
