"""``onnx-wizard doctor``: diagnose a pasted or piped log of a failed export; fix its command."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from onnx_wizard.errors import WizardError

# The doctor's answer is engine work shared with the faces (``flow.diagnosis``); these names
# stay importable from here for scripts that used them.
from onnx_wizard.flow.diagnosis import (  # noqa: F401
    corrected_command,
    fix_plan,
    masked,
    plan_from_log,
    run_doctor,
)

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
