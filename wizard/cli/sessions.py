"""``onnx-wizard sessions``: list the saved wizard sessions, say how to resume one, delete them."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from onnx_wizard.errors import WizardError

if TYPE_CHECKING:
    from onnx_wizard.flow.steps import WizardState

Launcher = Callable[["WizardState | None"], int]


def add_sessions_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    actions = parser.add_subparsers(dest="sessions_action", metavar="ACTION")
    resume = actions.add_parser("resume", help="show a session and how to resume it")
    resume.add_argument("session_id", metavar="ID", help="a session id (or its first letters)")
    delete = actions.add_parser("delete", help="delete a session, or every finished one")
    which = delete.add_mutually_exclusive_group(required=True)
    which.add_argument("session_id", nargs="?", metavar="ID", help="the session to delete")
    which.add_argument("--finished", action="store_true", help="delete every finished session")


def cmd_sessions(args: argparse.Namespace) -> int:
    action = getattr(args, "sessions_action", None)
    if action == "resume":
        return resume(args.session_id)
    if action == "delete":
        return delete(args.session_id, finished=args.finished)
    return show_list(as_json=args.json)


def show_list(*, as_json: bool = False) -> int:
    from onnx_wizard.flow.session import list_sessions, sessions_table
    from onnx_wizard.paths import sessions_dir

    sessions = list_sessions()
    if as_json:
        payload = {"folder": str(sessions_dir()), "sessions": [s.to_dict() for s in sessions]}
        print(json.dumps(payload, indent=2))
        return 0
    if not sessions:
        print(f"No saved sessions (they are kept in {sessions_dir()}).")
        return 0
    table = sessions_table(sessions)
    print(_text_table(table.columns, table.rows))
    for info in sessions:
        if info.problem:
            delete = f"onnx-wizard sessions delete {info.id}"
            print(f"\n{info.id}: {info.problem}. Delete it with: {delete}")
    print(f"\n{len(sessions)} session(s) in {sessions_dir()}.")
    print("Resume one: onnx-wizard sessions resume ID    Delete: onnx-wizard sessions delete ID")
    return 0


def resume(session: str) -> int:
    """Check the session can be resumed and print how; a finished or damaged one is an error."""
    from onnx_wizard.flow.session import find_by_id

    info = find_by_id(session)
    if info.state is None:
        raise WizardError(
            f"The session {info.id} is damaged ({info.problem}) and cannot be resumed.",
            f"Start a new session with: onnx-wizard    and delete this one with: "
            f"onnx-wizard sessions delete {info.id}",
        )
    if info.finished:
        done = "its export passed" if info.status == "exported" else "it was stopped"
        raise WizardError(
            f"The session {info.id} is finished ({done}): there is nothing to resume.",
            f"Its files are in {info.output}. Start a new export with: "
            f"onnx-wizard --model {info.source} --output {info.output}",
        )
    print(f"Session {info.id}: {info.source} -> {info.output}")
    print(f"Stopped at '{info.title}' ({info.status}), saved {info.saved_at:%Y-%m-%d %H:%M} UTC.")
    if info.log:
        print(f"Last run log: {info.log}")
    print(f"\nResume it in the terminal app:\n  onnx-wizard --resume {info.id}")
    return 0


def open_session(session: str, *, launch: Launcher | None = None) -> int:
    """``onnx-wizard --resume ID``: the terminal app on that session (a run that was cut off
    goes back to its review, as the engine resumes it). A damaged session gives a clear note and
    a fresh wizard (the file is kept aside as ``*.broken``); an unknown id is an error."""
    from onnx_wizard.flow import engine
    from onnx_wizard.flow.session import find_by_id

    info = find_by_id(session)
    state: WizardState | None = None
    if info.state is None:
        print(
            f"note: the saved session {info.id} could not be read ({info.problem}); it is kept "
            f"aside as {info.path}. Starting a new session instead.",
            file=sys.stderr,
        )
    else:
        state = engine.resume(info)
    return (launch or _terminal_app)(state)


def _terminal_app(state: WizardState | None) -> int:
    try:
        from onnx_wizard.widgets.tui import run_app
    except ImportError:
        raise WizardError(
            "The terminal app is not installed, so a session cannot be resumed here.",
            'Install it with: pip install "textual>=0.80"',
        ) from None
    return run_app() if state is None else run_app(state=state)


def delete(session: str | None, *, finished: bool) -> int:
    from onnx_wizard.flow.session import delete_finished, delete_session

    if finished:
        gone = delete_finished()
        print(f"Deleted {len(gone)} finished session(s){': ' if gone else '.'}{', '.join(gone)}")
        return 0
    assert session is not None  # argparse requires one of the two
    removed = delete_session(session)
    print(f"Deleted session {session}: {', '.join(str(p) for p in removed)}")
    return 0


def _text_table(columns: tuple[str, ...], rows: tuple[tuple[str, ...], ...]) -> str:
    """Aligned columns, headers in capitals; the last column (sizes) aligned right."""
    head = tuple(c.upper() for c in columns)
    widths = [max(len(str(row[i])) for row in [head, *rows]) for i in range(len(head))]
    lines = []
    for row in [head, *rows]:
        cells = [str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)]
        cells[-1] = str(row[-1]).rjust(widths[-1])  # sizes line up on their units
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
