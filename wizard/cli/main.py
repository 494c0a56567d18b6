"""The ``onnx-wizard`` command: argument parsing and dispatch, with every heavy import deferred.

``onnx-wizard --help`` must answer in well under 0.3 s, so this module imports only argparse and
the engine's light modules; each subcommand imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from onnx_wizard import __version__
from onnx_wizard.errors import WizardError

DESCRIPTION = """\
Turn a Hugging Face model into working, validated ONNX files, step by step.

Run without a subcommand to start the interactive wizard. MODEL is a local folder, a Hub id
(e.g. distilbert-base-uncased) or a built-in sample: sample:bert-classifier, sample:gpt2,
sample:t5 (tiny random-weight models for trying the tool offline)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="onnx-wizard",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"onnx-wizard {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    parser.add_argument("--model", help="pre-fill the wizard's model (interactive mode)")
    parser.add_argument("--output", help="pre-fill the wizard's output folder (interactive mode)")
    parser.add_argument(
        "--resume", metavar="ID", help="continue a saved session (see: onnx-wizard sessions)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = commands.add_parser("check", help="check Python, packages, GPU, memory and Hub login")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.add_argument("--gpu", action="store_true", help="also probe CUDA in a child process")

    inspect = commands.add_parser("inspect", help="inspect a model and detect its export task")
    inspect.add_argument("model", metavar="MODEL")
    inspect.add_argument("--json", action="store_true", help="print one JSON object")

    plan = commands.add_parser("plan", help="show the export plan and equivalent optimum-cli")
    plan.add_argument("model", metavar="MODEL")
    plan.add_argument("output", metavar="OUTDIR")
    plan.add_argument("--json", action="store_true", help="print one JSON object")
    plan.add_argument("--overwrite", action="store_true", help="allow a non-empty OUTDIR")
    from onnx_wizard.planning.plan import add_plan_arguments

    add_plan_arguments(plan)

    export = commands.add_parser("export", help="export, validate and recover, non-interactively")
    export.add_argument("model", metavar="MODEL")
    export.add_argument("output", metavar="OUTDIR")
    add_plan_arguments(export)
    from onnx_wizard.cli.export import add_export_arguments

    add_export_arguments(export)

    publish = commands.add_parser(
        "publish", help="publish an export to the Hub in the onnx-community layout, with a card"
    )
    from onnx_wizard.cli.publish import add_publish_arguments

    add_publish_arguments(publish)

    quantize = commands.add_parser(
        "quantize", help="make quantized variants of an export and prove each against fp32"
    )
    quantize.add_argument("onnx_dir", metavar="ONNXDIR", help="the folder an export wrote")
    quantize.add_argument("--json", action="store_true", help="print one JSON object")
    from onnx_wizard.cli.quantize import add_quantize_arguments

    add_quantize_arguments(quantize)

    doctor = commands.add_parser("doctor", help="explain a failed export's log and how to fix it")
    doctor.add_argument("logfile", nargs="?", metavar="LOGFILE", help="the log, or - for stdin")
    doctor.add_argument("--json", action="store_true", help="print one JSON object")
    doctor.add_argument(
        "--plan", action="store_true", help="print the log's export plan changed by the fix"
    )

    demo = commands.add_parser("demo", help="walk the wizard on a built-in sample, offline")
    demo.add_argument(
        "--sample", default="bert-classifier", help="sample name (default: %(default)s)"
    )
    demo.add_argument("--output", dest="demo_output", help="output folder (default: a temp folder)")
    demo.add_argument("--json", action="store_true", help="print one JSON object")

    sessions = commands.add_parser("sessions", help="list, resume or delete saved wizard sessions")
    from onnx_wizard.cli.sessions import add_sessions_arguments

    add_sessions_arguments(sessions)
    return parser


def cmd_check(args: argparse.Namespace) -> int:
    from onnx_wizard.checks.environment import overall_exit_code, render_text, run_checks

    results = run_checks(probe_gpu=args.gpu)
    if args.json:
        status = "fail" if overall_exit_code(results) else "ok"
        print(json.dumps({"status": status, "checks": [r.to_dict() for r in results]}, indent=2))
    else:
        print(render_text(results))
    return overall_exit_code(results)


def cmd_inspect(args: argparse.Namespace) -> int:
    from onnx_wizard.cli.progress import announce_model
    from onnx_wizard.inspection.report import inspect_model, render_text
    from onnx_wizard.planning.answers import require_supported

    announce_model(args.model)  # building a sample takes seconds: say so on stderr
    report = inspect_model(args.model)
    facts, text = report.to_dict(), render_text(report)
    # For a type optimum cannot export: which fallback route, why, and its measured odds.
    from onnx_wizard.fallback.outlook import outlook_for, outlook_text

    outlook = outlook_for(facts)
    if outlook is not None:
        facts["route_outlook"] = outlook
        text += "\n" + outlook_text(outlook)
    print(json.dumps(facts, indent=2) if args.json else text)
    # The report is printed either way; an unsupported model still fails the command, so a
    # script that runs `inspect` before exporting stops here with the reason.
    require_supported(report.to_dict())
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from onnx_wizard.cli.progress import announce_model
    from onnx_wizard.planning.answers import plan_for_model
    from onnx_wizard.planning.plan import render_plan_text

    announce_model(args.model)
    plan, report = plan_for_model(args.model, args.output, args, overwrite=args.overwrite)
    if args.json:
        payload = {"plan": plan.to_dict(), "command": plan.to_command(), "report": report.to_dict()}
        print(json.dumps(payload, indent=2))
    else:
        print(render_plan_text(plan))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from onnx_wizard.cli.export import cmd_export as run_export

    return run_export(args)


def cmd_publish(args: argparse.Namespace) -> int:
    from onnx_wizard.cli.publish import cmd_publish as run

    return run(args)


def cmd_quantize(args: argparse.Namespace) -> int:
    from onnx_wizard.cli.quantize import cmd_quantize as run

    return run(args)


def cmd_doctor(args: argparse.Namespace) -> int:
    from onnx_wizard.cli.doctor import cmd_doctor as run

    return run(args)


def cmd_demo(args: argparse.Namespace) -> int:
    from onnx_wizard.cli.demo import run_demo

    return run_demo(args.sample, args.demo_output, as_json=args.json)


def cmd_sessions(args: argparse.Namespace) -> int:
    from onnx_wizard.cli.sessions import cmd_sessions as run

    return run(args)


def cmd_interactive(args: argparse.Namespace) -> int:
    if args.resume:
        from onnx_wizard.cli.sessions import open_session

        return open_session(args.resume)
    try:
        from onnx_wizard.widgets.tui import run_app

        # run_app imports Textual itself, so a broken install surfaces inside the call too.
        return run_app(model=args.model, output=args.output)
    except ImportError as error:
        # A missing or broken terminal-app dependency is an error to report, not a help page:
        # exiting 0 here would tell scripts and users that the wizard ran.
        missing = f"; missing module: {error.name}" if getattr(error, "name", None) else ""
        raise WizardError(
            f"The interactive wizard could not start: importing its terminal app failed "
            f"({type(error).__name__}: {error}{missing}).",
            "Reinstall its dependencies with `pip install --force-reinstall textual` (or "
            "`pip install onnx-wizard` again); the subcommands work without it: "
            "`onnx-wizard --help`.",
            exit_code=1,
        ) from error


COMMANDS: dict[str | None, Callable[[argparse.Namespace], int]] = {
    None: cmd_interactive,
    "check": cmd_check,
    "inspect": cmd_inspect,
    "plan": cmd_plan,
    "export": cmd_export,
    "quantize": cmd_quantize,
    "publish": cmd_publish,
    "doctor": cmd_doctor,
    "demo": cmd_demo,
    "sessions": cmd_sessions,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except WizardError as error:
        if args.debug:
            raise
        from onnx_wizard.secrets import mask_secrets

        # A path or message the user pasted can hold a token: it is never echoed back.
        print(mask_secrets(f"error: {error.problem}\n  fix: {error.fix}"), file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `onnx-wizard inspect M | head` closed our stdout: not an error of ours or theirs.
        sys.stderr.close()
        return 0
    except Exception as error:  # a bug: say so plainly, keep the traceback behind --debug
        if args.debug:
            raise
        print(
            f"internal error: {type(error).__name__}: {error}\n"
            "  This is a bug in onnx-wizard. Rerun with --debug for the traceback and report it.",
            file=sys.stderr,
        )
        return 1
