"""The ``%onnx_wizard`` line/cell magic: the wizard, ``check``, ``inspect`` and ``doctor``.

Imported only by ``load_ipython_extension``, so IPython is never loaded by ``import onnx_wizard``.
Bad arguments raise IPython's ``UsageError`` (a short message, no traceback) with the usage line.
"""

from __future__ import annotations

import argparse
import shlex
from typing import Any, NoReturn

from IPython.core.error import UsageError
from IPython.display import HTML, display

from onnx_wizard.errors import WizardError
from onnx_wizard.planning.answers import answers_from_args
from onnx_wizard.widgets.notebook import render

MAGIC = "onnx_wizard"
USAGE = """\
Usage:
  %onnx_wizard [MODEL] [--output DIR] [--overwrite] [plan flags]   the wizard, pre-filled
  %onnx_wizard check [--gpu]                                       check this environment
  %onnx_wizard inspect MODEL                                       what the wizard reads
  %%onnx_wizard doctor                                             explain the log in the cell
  %onnx_wizard doctor LOGFILE                                      explain a log file
MODEL is a local folder, a Hub id or sample:bert-classifier / sample:gpt2 / sample:t5.
Plan flags: --task, --opset, --device, --dtype, --optimize, --atol, --batch_size,
--sequence_length, --trust-remote-code, --monolith, --no-post-process."""


def usage_error(message: str) -> NoReturn:
    raise UsageError(f"%{MAGIC}: {message}\n{USAGE}")


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of printing and exiting the kernel."""

    def error(self, message: str) -> NoReturn:
        usage_error(message)


def _parser(command: str | None) -> _Parser:
    parser = _Parser(prog=f"%{MAGIC} {command or ''}".strip(), add_help=False, allow_abbrev=False)
    if command == "check":
        parser.add_argument("--gpu", action="store_true")
    elif command == "inspect":
        parser.add_argument("model", metavar="MODEL")
    elif command == "doctor":
        parser.add_argument("logfile", nargs="?", metavar="LOGFILE")
    else:
        from onnx_wizard.planning.plan import add_plan_arguments

        parser.add_argument("model", nargs="?", metavar="MODEL")
        parser.add_argument("--output", metavar="DIR")
        parser.add_argument("--overwrite", action="store_true")
        add_plan_arguments(parser)
    return parser


def onnx_wizard(line: str, cell: str | None = None) -> Any:
    """``%onnx_wizard ...`` and ``%%onnx_wizard doctor``; see ``USAGE``. The wizard form
    returns its widget, so ``w = %onnx_wizard MODEL`` keeps it (``w.result`` once it passed)."""
    try:
        tokens = shlex.split(line)
    except ValueError as error:
        usage_error(f"cannot split the arguments ({error}).")
    if tokens[:1] in (["-h"], ["--help"], ["help"]):
        display(HTML(render.code(USAGE)))
        return
    command = tokens[0] if tokens and tokens[0] in ("check", "inspect", "doctor") else None
    if cell is not None and command != "doctor":
        usage_error("only `%%onnx_wizard doctor` reads a cell body.")
    args = _parser(command).parse_args(tokens[1:] if command else tokens)
    try:
        if command == "doctor":
            _doctor(args.logfile, cell)
        elif command == "check":
            _check(args.gpu)
        elif command == "inspect":
            _inspect(args.model)
        else:
            return _wizard(args)
    except WizardError as error:
        display(HTML(render.error_box(error.problem, error.fix)))
    return None


def _wizard(args: argparse.Namespace) -> Any:
    from onnx_wizard.flow.engine import check_prefill
    from onnx_wizard.widgets.notebook.wizard import Wizard

    try:
        answers = answers_from_args(args)
    except ValueError as error:
        usage_error(str(error))
    if args.overwrite:
        answers["overwrite"] = True
    problems = check_prefill(answers)
    if problems:
        usage_error(" ".join(problems))  # refused now, not five steps later
    wizard = Wizard(model=args.model, output=args.output, **answers)
    wizard.show()
    return wizard


def _doctor(logfile: str | None, cell: str | None) -> None:
    from onnx_wizard.cli.doctor import read_log, run_doctor

    if cell is not None and logfile:
        usage_error("give the log either in the cell body or as LOGFILE, not both.")
    if cell is None and not logfile:
        usage_error("doctor needs a log: paste it under `%%onnx_wizard doctor`, or give LOGFILE.")
    log = cell if cell is not None else read_log(logfile)
    if not log.strip():
        usage_error("the cell is empty: paste the log of the failed export under the magic.")
    from onnx_wizard.widgets.notebook.doctor import DoctorPanel

    # The diagnosis and a "Take this fix into the wizard" button that opens the wizard below.
    display(DoctorPanel(log, run_doctor(log)))


def _check(gpu: bool) -> None:
    from onnx_wizard.checks.environment import run_checks

    display(HTML(render.checks_table([r.to_dict() for r in run_checks(probe_gpu=gpu)])))


def _inspect(model: str) -> None:
    from onnx_wizard.inspection.report import inspect_model, render_text

    # The CLI's words and units (22.7 M parameters, 90.9 MB), one source for both.
    display(HTML(render.code(render_text(inspect_model(model)))))


def register(ipython: Any) -> None:
    ipython.register_magic_function(onnx_wizard, magic_kind="line_cell", magic_name=MAGIC)


def unregister(ipython: Any) -> None:
    manager = ipython.magics_manager
    for kind in ("line", "cell"):
        if manager.magics[kind].get(MAGIC) is onnx_wizard:
            del manager.magics[kind][MAGIC]
    if getattr(manager.user_magics, MAGIC, None) is onnx_wizard:
        delattr(manager.user_magics, MAGIC)
