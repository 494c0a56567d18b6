"""The session file itself: the state as JSON, written atomically, read back or kept aside.

Owns the format (schema, version) and the file operations; where sessions live and which one is
offered for resume is ``onnx_wizard.flow.session``'s business.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import fields as dataclass_fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from onnx_wizard.flow.steps import ANSWER_STEPS, Facts, Step, WizardState, thaw
from onnx_wizard.secrets import mask_secrets

SCHEMA = "onnx-wizard-session"
VERSION = 1
BROKEN = ".broken"  # suffix of a session file kept aside because it could not be read


def state_to_dict(state: WizardState) -> dict[str, Any]:
    """The state as plain JSON data (non-finite floats become null: JSON has no NaN)."""
    return finite(
        {
            "step": state.step.value,
            "history": [step.value for step in state.history],
            "answers": thaw(state.answers),
            # Facts and errors hold text the wizard did not write (a child's log tail, a pasted
            # log, an error message): a token in it must never reach the file.
            "facts": {
                f.name: masked(thaw(getattr(state.facts, f.name))) for f in dataclass_fields(Facts)
            },
            "errors": masked(thaw(state.errors)),
            "attempted": state.attempted,
        }
    )


def masked(value: Any) -> Any:
    """JSON-like ``value`` with every string passed through :func:`mask_secrets`."""
    if isinstance(value, str):
        return mask_secrets(value)
    if isinstance(value, dict):
        return {key: masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [masked(item) for item in value]
    return value


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


def parse(text: str) -> WizardState:
    """The state in a session file's text; ValueError saying what is wrong otherwise."""
    try:
        payload = json.loads(text)
    except ValueError as error:
        raise ValueError(f"not valid JSON, perhaps cut short: {error}") from None
    if not isinstance(payload, dict) or payload.get("schema") != SCHEMA:
        raise ValueError("not an onnx-wizard session file")
    if payload.get("version") != VERSION:
        raise ValueError(
            f"session format {payload.get('version')!r}; this onnx-wizard reads format {VERSION}"
        )
    try:
        return state_from_dict(payload["state"])
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ValueError(f"damaged: {type(error).__name__}: {error}") from None


def saved_time(text: str, path: Path) -> datetime:
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        stamp = datetime.fromisoformat(json.loads(text)["saved_at"])
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)
    return file_time(path)


def file_time(path: Path) -> datetime:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
    except OSError:
        return datetime.fromtimestamp(0, timezone.utc)


def disk_size(path: Path) -> int:
    try:
        if path.is_file():
            return path.stat().st_size
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    except OSError:
        return 0


def keep_aside(path: Path) -> Path:
    """Rename an unreadable session to ``*.broken`` (replacing an older broken copy)."""
    aside = path.with_name(path.name + BROKEN)
    with contextlib.suppress(OSError):
        os.replace(path, aside)
        return aside
    return path


def keep_aside_if_unreadable(path: Path) -> None:
    try:
        parse(path.read_text(encoding="utf-8"))
    except ValueError:
        keep_aside(path)
    except OSError:
        pass  # the save that follows reports a real I/O problem


def write_atomic(target: Path, payload: Any) -> None:
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


def finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value
