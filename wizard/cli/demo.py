"""``onnx-wizard demo``: walk the wizard on a built-in sample to a validated export, offline.

It drives the same engine as the interactive faces, pressing each step's main button with the
recommended answers, runs the export and its validation, and prints what every step showed and
the results (files with sizes, validation figures). Progress goes to stderr, results to stdout.
It is the README's first command and the CI's first smoke test.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from onnx_wizard.cli.progress import announce_model, say
from onnx_wizard.errors import WizardError
from onnx_wizard.flow import engine, machine
from onnx_wizard.flow.steps import Field, Step, StepView, Table, WizardState
from onnx_wizard.inspection.samples import SAMPLES

MAX_MOVES = 40  # a walk is ~12 moves; more means the engine stopped moving: say so, never spin
_SKIPPED_FIELDS = ("command",)  # the equivalent command is printed once, at the end
INDENT = "    "
WIDTH = 100


# ---- driving the engine (the only place that knows how a step moves on) ---------------------


def step_forward(state: WizardState, on_event: Any = None) -> WizardState:
    """One move: the long work the view names (checks, inspection, export), else its main
    button."""
    view = machine.view(state)
    if view.work is not None:
        return engine.work(state, on_event=on_event)
    primary = view.primary
    if primary is None or not primary.enabled:
        reason = (
            view.error or (primary.reason if primary else "") or "; ".join(state.errors.values())
        )
        raise WizardError(
            f"The demo stopped at '{view.title}': {reason or 'no way forward'}",
            "Run `onnx-wizard check` for the environment, or `onnx-wizard` to walk it yourself.",
        )
    return engine.act(state, primary.name)


def walk(sample: str, output: str, on_event: Any = None) -> tuple[WizardState, list[WizardState]]:
    """Drive the wizard from SOURCE to DONE (or RECOVER) with its recommended answers; the final
    state and the state each step was left in (its last look before the wizard moved on)."""
    state = machine.start({"source": f"sample:{sample}", "output": output})
    visited: list[WizardState] = []
    for _ in range(MAX_MOVES):
        if state.step in (Step.DONE, Step.RECOVER):
            visited.append(state)
            return state, visited
        before = state
        if machine.view(state).work == "checks":
            say("Checking the environment...")
        elif machine.view(state).work == "export":
            say("Exporting and validating (progress below; the full log is kept):")
        state = step_forward(state, on_event)
        if state == before:
            view = machine.view(state)
            raise WizardError(
                f"The demo stopped at '{view.title}': the step did not move on "
                f"({view.error or '; '.join(state.errors.values()) or 'no reason given'}).",
                "Run `onnx-wizard` to walk it yourself and see the step.",
            )
        if state.step is not before.step:
            visited.append(before)
    raise WizardError("The demo did not finish in a reasonable number of steps.", "Report it.")


# ---- printing --------------------------------------------------------------------------------


def format_value(item: Field) -> str:
    """A field's value in words: yes/no, choice labels, the real default, never None/False."""
    value = item.value
    if value is None or value == "":
        if item.default is not None and item.default != "":
            return f"{_words(item, item.default)} (default)"
        return "(none)" if item.kind == "multichoice" else "(default)"
    return _words(item, value)


def _words(item: Field, value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    labels = {str(v): label for v, label in item.choices}
    if isinstance(value, (list, tuple)):
        return ", ".join(labels.get(str(v), str(v)) for v in value) or "(none)"
    return labels.get(str(value), str(value))


def step_lines(view: StepView) -> list[str]:
    """The step's fields as ``label  value`` rows, values in one column (long ones wrapped)."""
    shown = [
        item
        for item in view.fields
        if not item.name.startswith("check:") and not any(s in item.name for s in _SKIPPED_FIELDS)
    ]
    width = max((len(item.label) for item in shown), default=0)
    lead = f"{INDENT}{'':<{width}}  "
    lines = []
    for item in shown:
        first = f"{INDENT}{item.label:<{width}}  "
        for number, line in enumerate(format_value(item).splitlines() or [""]):
            wrapped = textwrap.wrap(
                line, WIDTH - len(lead), break_on_hyphens=False, break_long_words=False
            ) or [""]
            lines += [
                (first if number == 0 and i == 0 else lead) + w for i, w in enumerate(wrapped)
            ]
    return lines


def checks_line(state: WizardState) -> str:
    checks = state.facts.checks or ()
    failed = sum(1 for c in checks if c["status"] == "fail")
    warned = sum(1 for c in checks if c["status"] == "warn")
    return (
        f"{INDENT}{len(checks)} checks: {failed} failed, {warned} warnings "
        "(details: onnx-wizard check)"
    )


def run_line(state: WizardState) -> str:
    """How the run went, from the facts the run step recorded."""
    run = state.facts.run or {}
    attempts = run.get("attempts") or ()
    seconds = sum(float(a.get("seconds") or 0) for a in attempts)
    took = f" in {seconds:.1f} s" if seconds else ""
    status = {"ok": "exported", "failed": "failed", "cancelled": "cancelled"}
    return f"{INDENT}{status.get(str(run.get('status')), 'not run')}{took}"


def table_lines(table: Table) -> list[str]:
    """An engine table as aligned text columns (the engine already formatted each cell)."""
    rows = [table.columns, *table.rows]
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(table.columns))]
    lines = [f"{table.title}:"] if table.title else []
    for row in rows:
        cells = [str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)]
        lines.append(INDENT + "  ".join(cells).rstrip())
    if table.note:
        lines.append(INDENT + table.note)
    return lines


def print_walk(visited: list[WizardState], final: WizardState) -> None:
    done = machine.view(final)
    total = done.progress[1]  # the whole path is known only once the model was read
    for state in visited:
        view = machine.view(state)
        print(f"\n[{view.progress[0]}/{total}] {view.title}")
        if state.step is Step.PREREQUISITES:
            print(checks_line(state))
        elif state.step is Step.RUN:
            print(run_line(final))  # the run's facts are recorded as the wizard leaves the step
        elif state.step is Step.VALIDATE:
            passed = (final.facts.validation or {}).get("passed")
            print(f"{INDENT}{'passed' if passed else 'did not pass'} (figures below)")
        elif state.step not in (Step.DONE, Step.RECOVER):
            print("\n".join(step_lines(view)))
    if done.outcome:
        print(textwrap.fill(done.outcome, WIDTH, initial_indent=INDENT, subsequent_indent=INDENT))
    for table in done.tables:
        print()
        print("\n".join(table_lines(table)))


# ---- the command -----------------------------------------------------------------------------


def fresh_demo_folder(sample: str) -> str:
    """A new, not yet existing folder name in the temp folder, so a second demo never meets the
    first one's files. Nothing is created here: the export makes the folder only once it has
    passed, so a failed or cancelled demo leaves no empty folder behind (mkdtemp did)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(tempfile.gettempdir()) / f"onnx-wizard-demo-{sample}-{stamp}-{os.getpid()}"
    folder, number = base, 1
    while folder.exists():
        number += 1
        folder = base.with_name(f"{base.name}-{number}")
    return str(folder)


def run_demo(sample: str, output: str | None, *, as_json: bool = False) -> int:
    if sample not in SAMPLES:
        raise WizardError(
            f"There is no built-in sample called {sample!r}.",
            f"Use one of: {', '.join(SAMPLES)}.",
        )
    target = output or fresh_demo_folder(sample)
    if not as_json:
        print(f"onnx-wizard demo: sample:{sample}, a {SAMPLES[sample].description}.")
        print("The sample has RANDOM weights: it is for trying the tool, not for real use.")
    announce_model(f"sample:{sample}")
    from onnx_wizard.cli.export import ProgressPrinter

    started = time.monotonic()
    final, visited = walk(sample, target, on_event=ProgressPrinter())
    say(f"Finished in {time.monotonic() - started:.1f} s.")
    plan = engine.current_plan(final)
    passed = bool((final.facts.validation or {}).get("passed"))
    if as_json:
        payload = {
            "sample": sample,
            "steps": [s.step.value for s in visited],
            "status": "ok" if passed else "failed",
            "output": plan.output,
            "report": dict(final.facts.report or {}),
            "checks": [dict(c) for c in final.facts.checks or ()],
            "plan": plan.to_dict(),
            "command": plan.to_command(),
            "results": engine.results(final),
            "validation": json.loads(json.dumps(final.facts.validation, default=_plain)),
            "log": str((final.facts.run or {}).get("log") or ""),
        }
        print(json.dumps(payload, indent=2, default=_plain))
        return 0 if passed else 1
    print_walk(visited, final)
    print("\nEquivalent command (reruns this export without the wizard):")
    print(f"{INDENT}{plan.to_command()}")
    if not passed:
        log = (final.facts.run or {}).get("log")
        print(f"\nThe export did not pass.{f' Full log: {log}' if log else ''}", file=sys.stderr)
        return 1
    return 0


def _plain(value: Any) -> Any:
    """JSON for the engine's frozen data (mappingproxy, tuples)."""
    try:
        return dict(value)
    except (TypeError, ValueError):
        return str(value)
