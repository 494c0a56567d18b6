"""The run pane: a progress bar per export stage, memory, and the log, fed from other threads.

The engine calls :meth:`RunPane.on_event` from the export's reader threads; trait updates from a
thread reach the browser through the kernel's IOPub channel, so the kernel itself stays free.
The log is coalesced (a flush at most every ``FLUSH_SECONDS``, the last ``LOG_LINES`` lines):
resending a growing Output on every line would cost more than the export.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

import ipywidgets as widgets

from onnx_wizard.flow.results import RUN_STAGES
from onnx_wizard.planning.memory import format_size
from onnx_wizard.widgets.notebook import render

STAGES = dict(RUN_STAGES)  # the engine's stages and their words
FLUSH_SECONDS = 0.3
LOG_LINES = 400
STYLE = {"description_width": "110px"}


class RunPane:
    """Stage bars, an overall bar, attempt and memory lines, and the live log."""

    def __init__(self) -> None:
        self.bars = {
            stage: widgets.FloatProgress(min=0.0, max=1.0, description=label, style=STYLE)
            for stage, label in STAGES.items()
        }
        self.overall = widgets.FloatProgress(min=0.0, max=1.0, description="Overall", style=STYLE)
        self.attempt = widgets.HTML()
        self.memory = widgets.HTML()
        self.log = widgets.Output(layout={"max_height": "300px", "overflow": "auto"})
        self.box = widgets.VBox(
            [self.attempt, self.overall, *self.bars.values(), self.memory, self.log]
        )
        self.stage: str | None = None
        self.started = False  # an export child process is running (what Cancel can stop)
        self.events: list[dict[str, Any]] = []
        self._lines: collections.deque[str] = collections.deque(maxlen=LOG_LINES)
        self._flushed = 0.0
        self._dirty = False
        self._lock = threading.RLock()

    def reset(self) -> None:
        with self._lock:
            for bar in (*self.bars.values(), self.overall):
                bar.value, bar.bar_style = 0.0, ""
            self.attempt.value = self.memory.value = ""
            self.stage, self.events, self.started = None, [], False
            self._lines.clear()
            self._dirty = True
            self.flush()

    def on_event(self, event: dict[str, Any]) -> None:
        """One engine event (any thread)."""
        with self._lock:
            kind = event.get("event")
            if kind != "log":
                self.events.append(event)
            if kind in ("started", "finished"):
                self.started = kind == "started"
            if kind == "attempt":
                self.attempt.value = (
                    f"<b>Attempt {render.esc(event.get('number'))}</b>"
                    f"{render.code(event.get('command'))}"
                )
            elif kind == "stage":
                self._enter(str(event.get("stage")), str(event.get("label") or ""))
            elif kind == "progress":
                self.overall.value = min(1.0, max(0.0, float(event.get("fraction") or 0.0)))
            elif kind == "memory":
                rss, peak = format_size(event.get("rss") or 0), format_size(event.get("peak") or 0)
                self.memory.value = f"Memory of the export process: {rss} (peak {peak})"
            elif kind == "log":
                self._lines.append(str(event.get("line", "")))
                self._dirty = True
            elif kind == "finished":
                self._finish(str(event.get("status")))
            if kind == "finished" or time.monotonic() - self._flushed >= FLUSH_SECONDS:
                self.flush()

    def _enter(self, stage: str, label: str) -> None:
        order = list(STAGES)
        if stage not in STAGES:
            return
        for name in order[: order.index(stage)]:
            self.bars[name].value, self.bars[name].bar_style = 1.0, "success"
        bar = self.bars[stage]
        bar.value, bar.bar_style = max(bar.value, 0.5), "info"
        bar.description = STAGES[stage]
        self.attempt.value = self.attempt.value.split("<div class='stage'>")[0] + (
            f"<div class='stage'>Now: {render.esc(label)}</div>"
        )
        self.stage = stage

    def _finish(self, status: str) -> None:
        if status == "ok":
            self.overall.value, self.overall.bar_style = 1.0, "success"
            for bar in self.bars.values():
                bar.value, bar.bar_style = 1.0, "success"
            return
        style = "warning" if status == "cancelled" else "danger"
        self.overall.bar_style = style
        if self.stage:
            self.bars[self.stage].bar_style = style

    def flush(self) -> None:
        """Show the buffered log lines now."""
        with self._lock:
            if not self._dirty:
                return
            text = "\n".join(self._lines) + ("\n" if self._lines else "")
            self.log.outputs = (
                ({"output_type": "stream", "name": "stdout", "text": text},) if text else ()
            )
            self._flushed, self._dirty = time.monotonic(), False

    @property
    def log_text(self) -> str:
        return "".join(o.get("text", "") for o in self.log.outputs)
