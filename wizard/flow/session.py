"""Saved wizard sessions: the whole state as JSON in the wizard's home, listed, resumed and pruned.

Sessions and their run logs live in ``<wizard home>/sessions`` (``ONNX_WIZARD_HOME`` or the user's
cache folder), never beside or inside the user's output. A session's id is the key of its output
folder (:func:`onnx_wizard.paths.folder_key`), or of its model while no output is known, so the
session of one output folder and its logs (``<id>.logs/run-*/attempt-N.log``) share a name.
Every save writes a temporary file and renames it over the old one, so a process killed
mid-write leaves the previous session intact. A file that cannot be read (truncated, damaged, or
written by another format) is kept aside as ``<id>.json.broken`` and reported, never a crash.

Public API::

    save_session(state, path=None, *, replaces=None) -> Path
    load_session(id_or_path) -> WizardState          # SessionDamaged / WizardError with a fix
    find_resumable(source=None, output=None) -> SessionInfo | None
    find_by_id(id) -> SessionInfo                    # for `sessions resume ID`
    sessions_table(list_sessions()) -> Table          # the list as words, for every face
    list_sessions() -> list[SessionInfo]              # newest first, damaged ones included
    delete_session(id) / delete_finished() / prune_sessions(...)
    session_id(state) / session_status(state) / state_to_dict / state_from_dict
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from onnx_wizard.errors import WizardError
from onnx_wizard.flow.session_file import (
    BROKEN,
    SCHEMA,
    VERSION,
    disk_size,
    file_time,
    keep_aside,
    keep_aside_if_unreadable,
    parse,
    saved_time,
    state_from_dict,
    state_to_dict,
    write_atomic,
)
from onnx_wizard.flow.steps import TITLES, Step, Table, WizardState
from onnx_wizard.paths import folder_key, sessions_dir

__all__ = [  # the session API, with the file format's names it re-exports
    "SCHEMA",
    "VERSION",
    "SessionDamaged",
    "SessionInfo",
    "ago",
    "delete_finished",
    "delete_session",
    "find_by_id",
    "find_resumable",
    "is_finished",
    "list_sessions",
    "load_session",
    "move_legacy_sessions",
    "prune_sessions",
    "save_session",
    "session_id",
    "session_output",
    "session_path",
    "session_status",
    "sessions_table",
    "state_from_dict",
    "state_to_dict",
]

MAX_BYTES = 500 * 1024**2  # sessions and logs together; the oldest finished go first
FINISHED_DAYS = 14  # finished sessions (and logs of runs without a session) are kept this long
LEGACY_INDEX = "recent.json"  # older versions saved beside outputs and listed them here
LEGACY_SLOT = "session.json"  # ...and kept a session without an output under this name
LEGACY_SUFFIX = ".onnx-wizard-session.json"
_NOT_SESSIONS = {LEGACY_INDEX}


class SessionDamaged(WizardError):
    """A saved session could not be read; the file was kept aside and a fresh start is next."""


@dataclass(frozen=True)
class SessionInfo:
    """One saved session as the sessions list, ``sessions --json`` and the resume offer show it."""

    id: str
    path: Path
    state: WizardState | None  # None for a damaged session
    source: str
    output: str
    status: str  # in progress, interrupted, failed, exported, stopped, damaged
    saved_at: datetime
    size: int  # bytes: the session file and its run logs
    log: str = ""  # the latest run log, where a run happened
    problem: str = ""  # why a damaged session cannot be read
    model: str = ""  # the source resolved when saved (a local folder's real path)

    @property
    def step(self) -> Step | None:
        return self.state.step if self.state else None

    @property
    def title(self) -> str:
        return TITLES.get(self.state.step, self.state.step.value) if self.state else ""

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def question(self, now: datetime | None = None) -> str:
        """The resume offer in words, e.g. for a Yes/No dialog; it changes nothing."""
        where = f" into {self.output}" if self.output else ""
        return (
            f"Resume the export of {self.source or 'a model'}{where}? It stopped at "
            f"'{self.title}' ({self.status}), {ago(self.saved_at, now)}."
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": str(self.path),
            "source": self.source,
            "output": self.output,
            "step": self.step.value if self.step else None,
            "title": self.title,
            "status": self.status,
            "finished": self.finished,
            "saved_at": self.saved_at.isoformat(timespec="seconds"),
            "size": self.size,
            "log": self.log,
            "problem": self.problem,
            "model": self.model,
        }


FINISHED = ("exported", "stopped", "damaged")


# ---- what a session is called and how far it got --------------------------------------------


def session_output(state: WizardState) -> str:
    """The output folder the session exports to: answered, or the default once it is known."""
    output = state.answers.get("output")
    if output:
        return os.path.abspath(os.path.expanduser(str(output)))
    if state.facts.report is not None:
        from onnx_wizard.planning.answers import default_output

        return default_output(state.facts.report)
    return ""


def session_id(state: WizardState) -> str:
    """The key of the session's output folder; of its model while no output is known."""
    output = session_output(state)
    if output:
        return folder_key(output)
    return _model_key(str(state.answers.get("source") or ""))


def session_status(state: WizardState) -> str:
    """In words: exported (its validation passed), stopped (DONE without a pass), failed (at
    RECOVER), interrupted (the process ended during a run) or in progress."""
    if (state.facts.validation or {}).get("passed"):
        return "exported"
    if state.step is Step.DONE:
        return "stopped"
    if state.step is Step.RECOVER:
        return "failed"
    if state.step is Step.RUN:
        return "interrupted"
    return "in progress"


def is_finished(state: WizardState) -> bool:
    """Finished sessions are never offered for resume: the export passed, or the user stopped."""
    return session_status(state) in FINISHED


# ---- saving and loading ----------------------------------------------------------------------


def save_session(
    state: WizardState,
    path: str | os.PathLike[str] | None = None,
    *,
    replaces: str | os.PathLike[str] | None = None,
) -> Path:
    """Write ``state`` atomically to ``path`` (default: its slot in the sessions folder).

    ``replaces`` is where this wizard saved before (a face keeps the returned path and passes it
    back): when the session moved (the output changed), the older copy is removed, so one wizard
    leaves one session behind."""
    target = Path(path) if path is not None else _store() / f"{session_id(state)}.json"
    new = not target.exists()
    if not new:
        keep_aside_if_unreadable(target)  # never write over a damaged session: keep it
        new = not target.exists()
    payload = {
        "schema": SCHEMA,
        "version": VERSION,
        "id": target.name.removesuffix(".json"),
        "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "finished": is_finished(state),
        # Resolved now, in the wizard's own working folder: a listing elsewhere must not
        # resolve a relative answer against its own folder.
        "output": session_output(state),
        "model": _source_identity(str(state.answers.get("source") or "")),
        "state": state_to_dict(state),
    }
    write_atomic(target, payload)
    if replaces is not None and Path(replaces) != target:
        _remove_replaced(Path(replaces), state)
    if path is None:
        _retire_model_slot(target, state)
        if new:
            with contextlib.suppress(OSError):  # tidying must never cost the user a save
                prune_sessions(keep=(target.name.removesuffix(".json"),))
    return target


def load_session(id_or_path: str | os.PathLike[str]) -> WizardState:
    """The state saved under a session id (or at a path).

    A missing session raises WizardError; a damaged one is renamed ``*.broken`` and raises
    :class:`SessionDamaged`, whose message says so: the caller starts a fresh wizard."""
    where = session_path(id_or_path)
    try:
        text = where.read_text(encoding="utf-8")
    except FileNotFoundError:
        aside = where.with_name(where.name + BROKEN)
        if aside.exists():
            raise SessionDamaged(
                f"The saved session {where.name.removesuffix('.json')} was damaged and is kept "
                f"aside at {aside}; it cannot be resumed.",
                f"Start a new session. {_delete_hint(aside)}",
            ) from None
        raise WizardError(
            f"No saved session {os.fspath(id_or_path)!r} (looked for {where}).",
            "List the saved sessions with: onnx-wizard sessions",
        ) from None
    except OSError as error:
        raise WizardError(f"Cannot read the saved session {where}: {error}.", _fix_os()) from None
    try:
        return parse(text)
    except ValueError as error:
        aside = keep_aside(where)
        raise SessionDamaged(
            f"The saved session {where} could not be read ({error}). It was kept aside as "
            f"{aside}, and the wizard starts afresh.",
            f"Nothing to do to start again. {_delete_hint(aside)}",
        ) from None


def session_path(id_or_path: str | os.PathLike[str]) -> Path:
    """A path as given, or the file of a session id (a unique prefix of one will do)."""
    text = os.fspath(id_or_path)
    if os.sep in text or text.endswith((".json", BROKEN)):
        return Path(text).expanduser()
    exact = _store() / f"{text}.json"
    if exact.exists() or (_store() / f"{text}.json{BROKEN}").exists() or not text:
        return exact
    matches = sorted({info.id for info in list_sessions() if info.id.startswith(text)})
    if len(matches) > 1:
        raise WizardError(
            f"{text!r} matches several sessions: {', '.join(matches)}.",
            "Give more of the id (onnx-wizard sessions lists them).",
        )
    return _store() / f"{matches[0] if matches else text}.json"


# ---- finding, listing, deleting --------------------------------------------------------------


def find_resumable(
    source: str | None = None, output: str | os.PathLike[str] | None = None
) -> SessionInfo | None:
    """The newest unfinished session for the same model or the same output folder (paths
    compared resolved); None when there is none, or when neither is given. Reads only: a face
    asks the user with ``found.question()`` and loads ``found.state`` only on a yes."""
    want_source = _source_identity(source) if source else None
    want_output = os.path.realpath(os.path.expanduser(os.fspath(output))) if output else None
    if want_source is None and want_output is None:
        return None
    for info in list_sessions():  # newest first
        if info.state is None or info.finished:
            continue
        same_output = bool(info.output) and want_output == os.path.realpath(info.output)
        same_source = bool(info.model) and want_source == info.model
        if same_output or same_source:
            return info
    return None


def list_sessions() -> list[SessionInfo]:
    """Every saved session, newest first; a damaged one is kept aside and listed as damaged."""
    store = _store()
    if not store.is_dir():
        return []
    if (store / LEGACY_INDEX).exists() or (store / LEGACY_SLOT).exists():
        move_legacy_sessions()
    found: list[SessionInfo] = []
    for path in sorted(store.glob("*.json")):
        if path.name not in _NOT_SESSIONS:
            found.append(_info(path))
    for path in sorted(store.glob(f"*.json{BROKEN}")):
        found.append(_damaged_info(path, "kept aside: it could not be read"))
    return sorted(found, key=lambda info: info.saved_at, reverse=True)


def find_by_id(session: str) -> SessionInfo:
    """The listed session with this id (or unique id prefix), damaged ones included;
    WizardError naming the fix when there is none."""
    where = session_path(session)
    wanted = where.name.removesuffix(BROKEN).removesuffix(".json")
    for info in list_sessions():
        if info.id == wanted:
            return info
    raise WizardError(
        f"No saved session {session!r}.", "List the saved sessions with: onnx-wizard sessions"
    )


def move_legacy_sessions() -> list[Path]:
    """Bring sessions (and run logs) that older versions left beside the user's outputs into
    the sessions folder, so those folders stop collecting hidden files; the new paths.

    A legacy file that cannot be read is left where it is (it is the user's folder)."""
    store = _store()
    moved: list[Path] = []
    legacy = [store / LEGACY_SLOT]
    with contextlib.suppress(OSError, ValueError, TypeError):
        listed = json.loads((store / LEGACY_INDEX).read_text(encoding="utf-8"))
        legacy += [Path(p) for p in listed if isinstance(p, str)]
    for old in dict.fromkeys(legacy):
        try:
            state = parse(old.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        target = store / f"{session_id(state)}.json"
        if target.exists() and target.stat().st_mtime >= old.stat().st_mtime:
            old.unlink()  # the store already holds a newer copy of this session
            continue
        if old.parent == store:
            os.replace(old, target)
        else:
            _move_file(old, target)
        moved.append(target)
        if old.name.endswith(LEGACY_SUFFIX):  # `.NAME.onnx-wizard-session.json` beside NAME
            name = old.name.removeprefix(".").removesuffix(LEGACY_SUFFIX)
            logs = old.with_name(f".{name}.onnx-wizard-logs")
            if logs.is_dir():
                destination = store / f"{target.stem}.logs" / "run-before-upgrade"
                destination.parent.mkdir(parents=True, exist_ok=True)
                with contextlib.suppress(OSError):
                    shutil.move(str(logs), str(destination))
    with contextlib.suppress(OSError):
        (store / LEGACY_INDEX).unlink()
    return moved


def _move_file(old: Path, target: Path) -> None:
    """Across file systems too (the output may live on another disk than the cache)."""
    shutil.copy2(old, target)
    old.unlink()


def delete_session(session: str) -> list[Path]:
    """Remove a session (its file, a damaged copy, its run logs); the paths removed.

    WizardError when there is no such session."""
    where = session_path(session)
    sid = where.name.removesuffix(BROKEN).removesuffix(".json")
    removed = _remove_entry(where.parent, sid)
    if not removed:
        raise WizardError(
            f"No saved session {session!r}.", "List the saved sessions with: onnx-wizard sessions"
        )
    return removed


def delete_finished() -> list[str]:
    """Remove every finished (or damaged) session with its logs; the ids removed."""
    gone = [info.id for info in list_sessions() if info.finished]
    for sid in gone:
        _remove_entry(_store(), sid)
    return gone


def prune_sessions(
    *,
    max_bytes: int = MAX_BYTES,
    finished_days: float = FINISHED_DAYS,
    keep: Iterable[str] = (),
    now: float | None = None,
) -> list[str]:
    """Keep the sessions folder small: drop finished sessions (and logs of runs that have no
    session, e.g. ``onnx-wizard export``) older than ``finished_days``, then the oldest entries,
    finished first, while the folder is over ``max_bytes``. Ids in ``keep`` stay."""
    now = time.time() if now is None else now
    entries = _entries()
    kept = set(keep)
    removed: list[str] = []
    total = sum(size for _, _, _, size in entries)
    # Finished before unfinished, oldest first within each.
    for sid, finished, mtime, size in sorted(entries, key=lambda e: (not e[1], e[2])):
        if sid in kept:
            continue
        expired = finished and now - mtime > finished_days * 86400
        if expired or total > max_bytes:
            _remove_entry(_store(), sid)
            removed.append(sid)
            total -= size
    return removed


def sessions_table(sessions: Iterable[SessionInfo], now: datetime | None = None) -> Table:
    """The saved sessions as the engine's table, for the CLI and a sessions screen alike:
    cells are words (a long model or output is cut in the middle, so both ends show)."""
    from onnx_wizard.planning.memory import format_size

    sessions = list(sessions)
    rows = tuple(
        (
            info.id,
            _cut(info.source or "-"),
            _cut(info.output or "-"),
            info.title or "-",
            info.status,
            ago(info.saved_at, now),
            format_size(info.size),
        )
        for info in sessions
    )
    note = "; ".join(f"{i.id}: {i.problem}" for i in sessions if i.problem)
    return Table(
        name="sessions",
        title="Saved sessions",
        columns=("ID", "Model", "Output", "Step", "Status", "Saved", "Size"),
        rows=rows,
        note=note,
    )


def _cut(text: str, widest: int = 44) -> str:
    if len(text) <= widest:
        return text
    half = (widest - 1) // 2
    return f"{text[:half]}…{text[-(widest - 1 - half) :]}"


def ago(when: datetime, now: datetime | None = None) -> str:
    """'just now', '5 minutes ago', '3 hours ago', '2 days ago'."""
    seconds = ((now or datetime.now(timezone.utc)) - when).total_seconds()
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count > 1 else ''} ago"
    return "just now"


# ---- helpers -----------------------------------------------------------------------------------


def _store() -> Path:
    return sessions_dir()


def _info(path: Path) -> SessionInfo:
    try:
        text = path.read_text(encoding="utf-8")
        state = parse(text)
    except OSError as error:
        return _damaged_info(path, f"cannot be read: {error}")
    except ValueError as error:
        return _damaged_info(keep_aside(path), str(error))
    sid = path.name.removesuffix(".json")
    saved_at = saved_time(text, path)
    recorded = json.loads(text)  # parse() checked it is a session object
    source = str(state.answers.get("source") or "")
    logs = path.with_name(f"{sid}.logs")
    run_log = str((state.facts.run or {}).get("log") or "") or _latest_log(logs)
    return SessionInfo(
        id=sid,
        path=path,
        state=state,
        source=source,
        output=str(recorded.get("output") or session_output(state)),
        status=session_status(state),
        saved_at=saved_at,
        size=disk_size(path) + disk_size(logs),
        log=run_log,
        model=str(recorded.get("model") or _source_identity(source)),
    )


def _damaged_info(path: Path, problem: str) -> SessionInfo:
    sid = path.name.removesuffix(BROKEN).removesuffix(".json")
    return SessionInfo(
        id=sid,
        path=path,
        state=None,
        source="",
        output="",
        status="damaged",
        saved_at=file_time(path),
        size=disk_size(path) + disk_size(path.with_name(f"{sid}.logs")),
        problem=problem,
    )


def _latest_log(logs: Path) -> str:
    found = sorted(logs.glob("run-*/*.log")) if logs.is_dir() else []
    return str(found[-1]) if found else ""


def _entries() -> list[tuple[str, bool, float, int]]:
    """(id, finished, last change, bytes) for each session and each log folder without one."""
    entries = [
        (info.id, info.finished, info.saved_at.timestamp(), info.size) for info in list_sessions()
    ]
    known = {sid for sid, *_ in entries}
    for logs in _store().glob("*.logs") if _store().is_dir() else ():
        sid = logs.name.removesuffix(".logs")
        if sid not in known:
            entries.append((sid, True, logs.stat().st_mtime, disk_size(logs)))
    return entries


def _remove_entry(store: Path, sid: str) -> list[Path]:
    removed = []
    for path in (store / f"{sid}.json", store / f"{sid}.json{BROKEN}"):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    logs = store / f"{sid}.logs"
    if logs.is_dir():
        shutil.rmtree(logs, ignore_errors=True)
        removed.append(logs)
    return removed


def _remove_replaced(earlier: Path, state: WizardState) -> None:
    """The same wizard saved elsewhere before (its output changed): drop that older copy, only
    when it is one of ours and holds this session's model."""
    if earlier.parent != _store() or not earlier.name.endswith(".json"):
        return
    try:
        before = parse(earlier.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if before.answers.get("source") == state.answers.get("source"):
        _remove_entry(_store(), earlier.name.removesuffix(".json"))


def _retire_model_slot(target: Path, state: WizardState) -> None:
    """Before its output was known the session was saved under its model's key: once it has an
    output, that older copy goes, so it is not offered again after this session finished."""
    model_slot = _store() / f"{_model_key(str(state.answers.get('source') or ''))}.json"
    if model_slot != target:
        _remove_replaced(model_slot, state)


def _model_key(source: str) -> str:
    """``model-<name>-<hash>``: the slot of a session whose output is not known yet."""
    identity = _source_identity(source)
    name = identity.rstrip("/").replace(":", "/").rsplit("/", 1)[-1].lower()
    slug = re.sub(r"[^a-z0-9]+", "-", name).strip("-")[:32] or "model"
    return f"model-{slug}-{hashlib.sha256(identity.encode()).hexdigest()[:8]}"


def _source_identity(source: str) -> str:
    """A model named two ways (relative and absolute folder) is the same model."""
    text = source.strip()
    expanded = os.path.expanduser(text)
    if text and os.path.exists(expanded):
        return os.path.realpath(expanded)
    return text


def _delete_hint(aside: Path) -> str:
    sid = aside.name.removesuffix(BROKEN).removesuffix(".json")
    if aside.parent == _store():
        return f"Remove the kept copy with: onnx-wizard sessions delete {sid}"
    return f"Remove the kept copy with: rm {aside}"


def _fix_os() -> str:
    return f"Check the permissions of {_store()}, or start a new session."
