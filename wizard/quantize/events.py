"""The child side of the JSON-lines event protocol (same shape as the export child's)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from typing import Any, TextIO


class EventStream:
    """Writes events as JSON lines to the fd that was stdout when the child started."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def emit(self, event: str, **fields: Any) -> None:
        self.stream.write(json.dumps({"event": event, **fields}, default=str) + "\n")
        self.stream.flush()


def redirect_stdout_to_stderr() -> TextIO:
    """Keep the real stdout for events; point fd 1 at stderr so library prints join the log."""
    events_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(events_fd, "w", buffering=1, encoding="utf-8")


def exit_now(code: int) -> None:
    """End without the interpreter's slow teardown of onnxruntime, once everything is flushed."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        with contextlib.suppress(Exception):
            stream.flush()  # type: ignore[union-attr]
    os._exit(code)
