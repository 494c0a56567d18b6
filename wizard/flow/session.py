"""Saving and resuming a wizard session: the whole state as JSON, written atomically.

A session is saved next to the output folder (``<parent>/.<name>.onnx-wizard-session.json``,
never inside the output, which stays clean until an export succeeds), or in the wizard home
while no output is known. Every save writes a temporary file in the same folder and renames it
over the old one, so a process killed mid-write leaves the previous session intact, never a
truncated one.

Public API::

    save_session(state, path=None) -> Path      # path defaults to default_session_path(output)
    load_session(path) -> WizardState           # WizardError (problem + fix) if unreadable
    default_session_path(output) -> Path
    find_resumable(output=None, paths=()) -> tuple[Path, WizardState] | None
    state_to_dict(state) -> dict / state_from_dict(data) -> WizardState
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shlex
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import fields as dataclass_fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from onnx_wizard.errors import WizardError
from onnx_wizard.flow.steps import ANSWER_STEPS, Facts, Step, WizardState, thaw
from onnx_wizard.paths import sessions_dir

SCHEMA = "onnx-wizard-session"
VERSION = 1
SUFFIX = ".onnx-wizard-session.json"
HOME_SESSION = "session.json"
RECENT = "recent.json"  # paths of sessions saved next to outputs, newest first
_RECENT_LIMIT = 20


def default_session_path(output: str | os.PathLike[str] | None) -> Path:
    """Next to the output folder when it is known, else the wizard home's single session slot."""
    if output:
        folder = Path(os.path.abspath(os.path.expanduser(os.fspath(output))))
        if folder.name:  # "/" has no name, and no parent to save next to it
            return folder.parent / f".{folder.name}{SUFFIX}"
    return sessions_dir() / HOME_SESSION


def state_to_dict(state: WizardState) -> dict[str, Any]:
    """The state as plain JSON data (non-finite floats become null: JSON has no NaN)."""
    return _finite(
        {
            "step": state.step.value,
            "history": [step.value for step in state.history],
            "answers": thaw(state.answers),
            "facts": {f.name: thaw(getattr(state.facts, f.name)) for f in dataclass_fields(Facts)},
            "errors": thaw(state.errors),
            "attempted": state.attempted,
        }
    )


def state_from_dict(data: Mapping[str, Any]) -> WizardState:
    """The inverse of :func:`state_to_dict`; ValueError/TypeError/KeyError if it does not fit."""
    answers = dict(data.get("answers") or {})
    unknown = sorted(set(answers) - set(ANSWER_STEPS))
    if unknown:
        raise ValueError(f"unknown answers {unknown}")
    facts_data = dict(data.get("facts") or {})
    known_facts = {f.name for f in dataclass_fields(Facts)}
    if set(facts_data) - known_facts:
        raise ValueError(f"unknown facts {sorted(set(facts_data) - known_facts)}")
    return WizardState(
        step=Step(data["step"]),
        answers=answers,
        facts=Facts(**facts_data),
        history=tuple(Step(s) for s in data.get("history") or ()),
        errors=dict(data.get("errors") or {}),
        attempted=bool(data.get("attempted", False)),
    )


def save_session(state: WizardState, path: str | os.PathLike[str] | None = None) -> Path:
    """Write ``state`` atomically and return where it went."""
    target = Path(path) if path is not None else default_session_path(state.answers.get("output"))
    payload = {
        "schema": SCHEMA,
        "version": VERSION,
        "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "finished": state.step is Step.DONE,
        "state": state_to_dict(state),
    }
    _write_atomic(target, payload)
    home_slot = sessions_dir() / HOME_SESSION
    if target != home_slot:
        _remember(target)
        _retire_home_slot(home_slot, state)
    return target


def load_session(path: str | os.PathLike[str]) -> WizardState:
    """The state saved at ``path``; WizardError naming the problem and the fix otherwise."""
    where = Path(path)
    start_over = f"Delete it to start a new session: rm {shlex.quote(str(where))}"
    try:
        text = where.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WizardError(
            f"No saved session at {where}.", "Check the path, or start a new session."
        ) from None
    except OSError as error:
        raise WizardError(f"Cannot read the saved session {where}: {error}.", start_over) from None
    try:
        payload = json.loads(text)
    except ValueError as error:
        raise WizardError(
            f"The saved session {where} is damaged (not valid JSON: {error}).", start_over
        ) from None
    if not isinstance(payload, dict) or payload.get("schema") != SCHEMA:
        raise WizardError(f"{where} is not an onnx-wizard session file.", start_over)
    if payload.get("version") != VERSION:
        raise WizardError(
            f"The saved session {where} uses session format {payload.get('version')!r}; "
            f"this onnx-wizard reads format {VERSION}.",
            f"Resume it with the onnx-wizard version that saved it, or {start_over[0].lower()}"
            f"{start_over[1:]}",
        )
    try:
        return state_from_dict(payload["state"])
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise WizardError(
            f"The saved session {where} is damaged ({type(error).__name__}: {error}).", start_over
        ) from None


def find_resumable(
    output: str | os.PathLike[str] | None = None, paths: Iterable[str | os.PathLike[str]] = ()
) -> tuple[Path, WizardState] | None:
    """The most recently saved unfinished session among the one next to ``output``, the given
    ``paths``, the home slot and the sessions saved next to outputs before; None if there is none.
    Unreadable files are skipped here: loading them directly reports what is wrong."""
    candidates = [Path(p) for p in paths]
    if output:
        candidates.append(default_session_path(output))
    candidates += [sessions_dir() / HOME_SESSION, *_recent()]
    best: tuple[float, Path, WizardState] | None = None
    for candidate in dict.fromkeys(candidates):
        try:
            saved = candidate.stat().st_mtime
            state = load_session(candidate)
        except (OSError, WizardError):
            continue
        if state.step is not Step.DONE and (best is None or saved > best[0]):
            best = (saved, candidate, state)
    return (best[1], best[2]) if best else None


# ---- helpers -----------------------------------------------------------------------------------


def _write_atomic(target: Path, payload: Any) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # Same folder as the target, so os.replace is a rename on one filesystem: atomic.
    folder = target.parent
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(payload, stream, indent=2, allow_nan=False, default=str)
            stream.write("\n")
            stream.flush()
            os.fsync(stream.fileno())  # the data is on disk before the name points at it
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    # A process killed mid-write leaves its temporary behind (never a torn session): sweep.
    for stale in folder.glob(f".{target.name}.*.tmp"):
        with contextlib.suppress(OSError):
            stale.unlink()


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _recent() -> list[Path]:
    try:
        listed = json.loads((sessions_dir() / RECENT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [Path(p) for p in listed if isinstance(p, str)] if isinstance(listed, list) else []


def _remember(target: Path) -> None:
    """List a session saved next to an output, so a resume without --output still finds it."""
    target = target.absolute()
    recent = _recent()
    if recent[:1] == [target]:
        return
    entries = [str(p) for p in [target, *(p for p in recent if p != target)][:_RECENT_LIMIT]]
    with contextlib.suppress(OSError):  # the index is a convenience; the session itself is saved
        _write_atomic(sessions_dir() / RECENT, entries)


def _retire_home_slot(home_slot: Path, state: WizardState) -> None:
    """The home slot held this session before its output was chosen: drop that older copy so it
    is not offered for resume after this session finished."""
    try:
        earlier = load_session(home_slot)
    except WizardError:
        return
    if earlier.answers.get("source") == state.answers.get("source"):
        with contextlib.suppress(OSError):
            home_slot.unlink()
