"""``onnx-wizard export``: the non-interactive export, with live progress on stderr."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from onnx_wizard.errors import WizardError
from onnx_wizard.planning.answers import plan_for_model
from onnx_wizard.planning.memory import default_limit, format_size, parse_size
from onnx_wizard.planning.output import refuse_protected
from onnx_wizard.planning.preflight import blocking, preflight, render_findings
from onnx_wizard.runner.attempts import RecoveryOutcome, export_with_recovery, ladder_after_optimum
from onnx_wizard.runner.process import Event, ExportRun, log_dir_for


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--auto-fix", action="store_true", help="apply safe remedies and retry")
    parser.add_argument(
        "--max-memory",
        metavar="SIZE",
        help="stop the export before it uses more RAM than this (e.g. 300MiB, 8GiB; "
        "default: 85%% of the memory free now)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty OUTDIR")
    parser.add_argument(
        "--route",
        metavar="ROUTE",
        help="for a model type optimum cannot export: auto (every route below, in order of "
        "measured success, first validated wins), related-config (or related-config:TYPE, a "
        "related model's ONNX config), torchscript or dynamo (torch.onnx); --auto-fix takes auto",
    )
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=float,
        help="stop the run (every attempt included) after this many seconds",
    )
    parser.add_argument(
        "--tokenizer",
        metavar="ID_OR_PATH",
        help="the tokenizer to validate with, when the model folder has none of its own "
        "(default: the model's; without one, validation uses generated inputs)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="run even when the pre-flight check says the export cannot succeed here",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    parser.add_argument(
        "--quantize",
        metavar="LIST",
        help="after a validated export, make and prove these variants (as `onnx-wizard "
        "quantize --targets LIST`), e.g. q8,fp16,q4,avx2",
    )
    from onnx_wizard.cli.quantize import add_quantize_arguments

    add_quantize_arguments(parser, for_export=True)


class ProgressPrinter:
    """Stage lines, a percentage and memory on stderr; the full log stays in the log file."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.fraction = 0.0
        self.rss = 0

    def __call__(self, event: Event) -> None:
        kind = event.get("event")
        elapsed = time.monotonic() - self.started
        if kind == "progress":
            self.fraction = float(event.get("fraction") or 0.0)
        elif kind == "memory":
            self.rss = int(event.get("rss") or 0)
        elif kind == "attempt":
            print(f"attempt {event['number']}: {event['command']}", file=sys.stderr)
        elif kind == "stage":
            print(
                f"  [{elapsed:6.1f}s {self.fraction:4.0%} {format_size(self.rss):>9}] "
                f"{event.get('label')}",
                file=sys.stderr,
            )
        elif kind == "diagnosis":
            for diagnosis in event.get("diagnoses", [])[:1]:
                print(f"  diagnosis: {diagnosis['title']} ({diagnosis['id']})", file=sys.stderr)


def cmd_export(args: argparse.Namespace) -> int:
    # SIGTERM at any stage (building a sample, inspecting, exporting) cancels like Ctrl-C does.
    with terminate_as_interrupt():
        return _export(args)


def _export(args: argparse.Namespace) -> int:
    from onnx_wizard.cli.progress import announce_model
    from onnx_wizard.runner.leftovers import sweep_leftovers

    sweep_leftovers()  # staging folders of wizards that died, wherever they wrote
    announce_model(args.model)  # building a sample or reading the Hub takes seconds: say so
    plan, report = plan_for_model(
        args.model, args.output, args, overwrite=args.overwrite, allow_unsupported=True
    )
    facts = report.to_dict()
    if facts.get("source_kind") != "hub":
        refuse_protected(plan.output, source=facts.get("path"))
    from onnx_wizard.fallback.routes import choose_fallback, refuse_unhonoured

    fallback = choose_fallback(facts, args.route, auto=args.auto_fix, task=args.task)
    if fallback is not None:
        refuse_unhonoured(plan)
    limit = parse_size(args.max_memory) if args.max_memory else default_limit()
    if args.timeout is not None and args.timeout <= 0:
        raise WizardError(
            f"--timeout {args.timeout:g} is not a positive number of seconds.", "Try --timeout 600"
        )
    check_preflight(facts, plan, limit, force=args.force)
    output = Path(plan.output)
    printer = ProgressPrinter()
    runs: list[ExportRun] = []
    holder: dict[str, Any] = {}
    interrupted = threading.Event()

    def on_run(run: ExportRun) -> None:
        runs.append(run)
        if interrupted.is_set():  # Ctrl-C came before this attempt started: it never runs
            run.cancel()

    finished = threading.Event()

    def work() -> None:
        try:
            holder["result"] = run_export()
        except BaseException as error:  # re-raised in the main thread, where the CLI reports it
            holder["error"] = error
        finally:
            finished.set()

    def run_export(route: dict[str, Any] | None = fallback) -> RecoveryOutcome:
        result = export_with_recovery(
            plan,
            report=facts,
            log_dir=log_dir_for(output),
            auto_fix=args.auto_fix,
            memory_limit=limit,
            on_event=printer,
            on_run=on_run,
            fallback=route,
            timeout=args.timeout,
            tokenizer=args.tokenizer,
        )
        last_resort = None if route or not args.auto_fix else ladder_after_optimum(facts, result)
        # (The wizard offers the same job as a fix on its recovery step.)
        if last_resort is None:
            return result
        # optimum's own export failed every safe remedy: the fallback ladder is the last resort.
        retry = run_export(last_resort)
        retry.attempts[:0] = result.attempts
        return retry

    # The export runs in a thread so Ctrl-C (or SIGTERM) here can cancel the child's whole
    # process tree and clean its staging folder before this process ends.
    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    # An Event, not Thread.join: on Python < 3.13 a join interrupted by Ctrl-C can return early
    # ever after, while the export still runs.
    while not finished.is_set():
        try:
            finished.wait(timeout=0.2)
        except KeyboardInterrupt:
            interrupted.set()
            if runs:
                runs[-1].cancel()
    if "error" in holder or "result" not in holder:
        raise holder.get("error") or RuntimeError("the export thread ended without a result")
    result: RecoveryOutcome = holder["result"]
    if not (args.quantize and result.status == "ok" and result.final):
        print_result(result, as_json=args.json)
        return {"ok": 0, "cancelled": 130}.get(result.status, 1)
    # Quantize only a validated export: variants are measured against these fp32 files.
    if not args.json:
        print_result(result, as_json=False)
    from onnx_wizard.cli.quantize import run_quantization

    final = result.final
    done = run_quantization(
        str(output),
        args.quantize,
        args,
        task=final.plan.task,
        export_command=None if result.route else final.plan.to_command(),
    )
    if args.json:
        print(json.dumps({**result.to_dict(), "quantization": done["dict"]}, indent=2, default=str))
    else:
        print(done["text"])
    return 1 if done["report"].failed else 0


def check_preflight(facts: dict[str, Any], plan: Any, limit: int, *, force: bool) -> None:
    """Show the pre-flight findings; refuse a run one of them blocks, unless ``force``."""
    findings = preflight(facts, plan, memory_limit=limit, output=plan.output)
    if not findings:
        return
    stopping = blocking(findings) and not force
    if not stopping:
        print(render_findings(findings).replace("blocked:", "warning:"), file=sys.stderr)
        return
    raise WizardError(
        "The export cannot succeed as planned, so it was not started:\n"
        + render_findings(blocking(findings)),
        "Fix what is named above, or pass --force to run it anyway.",
    )


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """While open, SIGTERM behaves like Ctrl-C: the run is cancelled and cleaned up."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def print_result(result: RecoveryOutcome, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
        return
    final = result.final
    if result.status == "ok" and final:
        print(f"Exported to {result.output} in {len(result.attempts)} attempt(s):")
        for item in final.outcome.files:
            print(f"  {item['name']:<40} {format_size(item['bytes']):>10}")
        validation = final.outcome.validation
        if validation:
            from onnx_wizard.validation.report import ValidationReport

            print(ValidationReport.from_dict(validation).render_text())
        if result.route:
            print(result.route)
        else:
            print(f"Equivalent command: {final.plan.to_command()}")
        if final.outcome.kept:
            print(
                f"Kept {len(final.outcome.kept)} file(s) in the output that onnx-wizard did "
                "not write."
            )
        if final.outcome.backup:
            print(
                f"Files it did not write that the new export replaces were moved to "
                f"{final.outcome.backup}"
            )
        return
    print(f"Export {result.status}: {result.reason}", file=sys.stderr)
    if final and final.diagnoses:
        print(render_diagnoses(final.diagnoses[:2]), file=sys.stderr)
    if final:
        print(f"Full log: {final.outcome.log_path}", file=sys.stderr)


def render_diagnoses(diagnoses: list[dict[str, Any]]) -> str:
    """Diagnoses as plain text: the cause, why, and numbered fixes with their commands."""
    lines: list[str] = []
    for diagnosis in diagnoses:
        lines.append(
            f"Cause: {diagnosis['title']} [{diagnosis['id']}, {diagnosis['category']}, "
            f"confidence {float(diagnosis.get('confidence') or 0):.0%}]"
        )
        lines += textwrap.wrap(
            str(diagnosis.get("explanation") or ""), 96, initial_indent="  ", subsequent_indent="  "
        )
        for number, remedy in enumerate(diagnosis.get("remedies") or (), start=1):
            consent = " (needs your explicit yes)" if remedy.get("needs_consent") else ""
            lines.append(f"  {number}. {remedy.get('note') or remedy.get('action')}{consent}")
            if remedy.get("command"):
                lines.append(f"       {remedy['command']}")
    return "\n".join(lines)
