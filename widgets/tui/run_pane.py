"""The run screen's body: a bar per export stage, elapsed time, memory, and a searchable log.

It only draws the engine's run events (``attempt``, ``started``, ``stage``, ``progress``,
``log``, ``memory``, ``diagnosis``, ``finished``), which the app hands to :meth:`RunPane.handle`
on the UI thread. It never runs or stops anything itself.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, ProgressBar, RichLog, Static

from onnx_wizard.flow.results import RUN_STAGES
from onnx_wizard.planning.memory import format_size

STAGES = RUN_STAGES  # the engine's stages and their words
MAX_LINES = 20_000  # a runaway log must not eat the wizard's memory
STATE_TEXT = {"done": "done", "running": "running", "failed": "failed", "cancelled": "stopped"}


def clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}:{rest:02d}"


class RunPane(Vertical):
    """Live view of one export: stages, facts, outcome, and the log with a search box."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lines: list[str] = []
        self.query_text = ""
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.current: str | None = None
        self.stage_states: dict[str, str] = {}
        self.pid: int | None = None
        self.attempt = 1
        self.history: list[str] = []  # one line per finished attempt of this run

    def compose(self) -> ComposeResult:
        with Horizontal(id="run-top"):
            with Vertical(id="stages"):
                for stage, label in STAGES:
                    with Horizontal(classes="stage", id=f"stage-{stage}"):
                        yield Label(label, classes="stage-name")
                        yield ProgressBar(
                            total=1, show_eta=False, show_percentage=False, id=f"bar-{stage}"
                        )
                        yield Label("", classes="stage-state", id=f"state-{stage}")
            with Vertical(id="run-facts"):
                yield Static("Starting...", id="run-current")
                yield Static("Elapsed  -", id="run-elapsed")
                yield Static("Memory   -", id="run-memory")
                yield Static("Peak     -", id="run-peak")
        yield Static("", id="run-history")
        yield Static("", id="run-outcome")
        with Horizontal(id="log-tools"):
            yield Input(placeholder="Search the log (ctrl+f)", id="log-search", compact=True)
            yield Static("", id="log-count")
        # RichLog wraps long lines (a traceback's last line is the one that matters).
        yield RichLog(id="log", max_lines=MAX_LINES, wrap=True, markup=False, highlight=False)

    def on_mount(self) -> None:
        self.set_interval(0.5, self._tick)

    # ---- events --------------------------------------------------------------------------------

    def reset(self, *, keep_history: bool = False) -> None:
        """A new attempt (``keep_history``) or run: clear the stages and the log."""
        if not keep_history:
            self.history = []
            self.attempt = 1
        self._show_history()
        self.lines.clear()
        self.query_one(RichLog).clear()
        self.started_at = self.finished_at = None
        self.current, self.stage_states, self.pid = None, {}, None
        for stage, _ in STAGES:
            self._set_stage(stage, "")
        self.query_one("#run-current", Static).update("Starting...")
        self.query_one("#run-elapsed", Static).update("Elapsed  -")
        self.query_one("#run-memory", Static).update("Memory   -")
        self.query_one("#run-peak", Static).update("Peak     -")
        self.show_outcome("")
        self._count()

    def handle(self, event: Mapping[str, Any]) -> None:
        kind = event.get("event")
        if kind == "attempt":
            self.reset(keep_history=True)
            self.attempt = int(event.get("number") or 1)
            self.query_one("#run-current", Static).update(f"Starting attempt {self.attempt}...")
            self._show_history()
            self.add_line(f"$ {event.get('command', '')}")
        elif kind == "started":
            self.started_at = time.monotonic()
            self.pid = event.get("pid")
        elif kind == "stage":
            self._enter(str(event.get("stage")), str(event.get("label") or ""))
        elif kind == "progress" and float(event.get("fraction") or 0) >= 1.0:
            if self.current:
                self._set_stage(self.current, "done")
        elif kind == "log":
            self.add_line(str(event.get("line", "")))
        elif kind == "memory":
            rss, peak = int(event.get("rss") or 0), int(event.get("peak") or 0)
            memory = f"Memory   {format_size(rss)}" if rss else "Memory   -"
            self.query_one("#run-memory", Static).update(memory)
            self.query_one("#run-peak", Static).update(f"Peak     {format_size(peak)}")
        elif kind == "error":
            self.show_outcome(f"{event.get('type', 'Error')}: {event.get('message', '')}", "bad")
        elif kind == "finished":
            self.finish(str(event.get("status")))

    def finish(self, status: str) -> None:
        stage = dict(STAGES).get(self.current or "", "the start")
        words = {"ok": "finished", "cancelled": "cancelled", "failed": f"failed during {stage}"}
        self.history.append(f"Attempt {self.attempt}: {words.get(status, status)}")
        self._show_history()
        if self.started_at is not None and self.finished_at is None:
            self.finished_at = time.monotonic()
            self._tick()
        if status == "ok":
            for stage, _ in STAGES:
                if self.stage_states.get(stage) != "done":
                    self._set_stage(stage, "done")
        elif self.current and self.stage_states.get(self.current) == "running":
            self._set_stage(self.current, "cancelled" if status == "cancelled" else "failed")
        # The process is gone: its memory now would be a stale number (the peak stays).
        self.query_one("#run-memory", Static).update("Memory   -")
        words = {"ok": "Finished", "cancelled": "Cancelled", "failed": "Failed"}
        self.query_one("#run-current", Static).update(f"[b]{words.get(status, status)}[/b]")

    def _show_history(self) -> None:
        shown = self.query_one("#run-history", Static)
        many = len(self.history) > 1 or self.attempt > 1
        shown.update(escape("\n".join(self.history)) if many else "")
        shown.display = many and bool(self.history)

    def show_outcome(self, text: str, tone: str = "") -> None:
        outcome = self.query_one("#run-outcome", Static)
        outcome.update(escape(text))
        outcome.display = bool(text)
        outcome.set_classes(f"outcome-{tone}" if tone else "")

    def load_log(self, path: str | None) -> None:
        """Show a finished run's log file (after a resume, or going Back to the run)."""
        if self.lines or not path:
            return
        try:
            text = Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return
        for line in text.splitlines()[-MAX_LINES:]:
            self.add_line(line)

    # ---- the log and its search ----------------------------------------------------------------

    def add_line(self, line: str) -> None:
        self.lines.append(line)
        if len(self.lines) > MAX_LINES:
            del self.lines[: len(self.lines) - MAX_LINES]
        if self._matches(line):
            self.query_one(RichLog).write(line)
        self._count()

    def search(self, text: str) -> None:
        """Show only the lines containing ``text`` (case-insensitive); empty shows all."""
        self.query_text = text.strip().lower()
        log = self.query_one(RichLog)
        log.clear()
        for line in self.lines:
            if self._matches(line):
                log.write(line, scroll_end=False)
        log.scroll_end(animate=False)  # the last hit, where a failure's cause usually is
        self._count()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "log-search":
            event.stop()
            self.search(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "log-search":
            event.stop()  # Enter in the search box must not press Next
            self.query_one(RichLog).focus()

    def _matches(self, line: str) -> bool:
        return not self.query_text or self.query_text in line.lower()

    def _count(self) -> None:
        total = len(self.lines)
        if self.query_text:
            found = sum(1 for line in self.lines if self._matches(line))
            text = f"{found} of {total} lines"
        else:
            text = f"{total} lines"
        self.query_one("#log-count", Static).update(text)

    # ---- stages and time -----------------------------------------------------------------------

    def _enter(self, stage: str, label: str) -> None:
        if self.current and self.current != stage:
            self._set_stage(self.current, "done")
        self.current = stage
        self._set_stage(stage, "running")
        self.query_one("#run-current", Static).update(f"[b]{escape(label or stage)}[/b]")

    def _set_stage(self, stage: str, state: str) -> None:
        if stage not in dict(STAGES):
            return
        self.stage_states[stage] = state
        bar = self.query_one(f"#bar-{stage}", ProgressBar)
        if state == "running":
            bar.update(total=None)  # indeterminate: the child reports stages, not fractions
        else:
            bar.update(total=1, progress=1 if state == "done" else 0)
        shown = self.query_one(f"#state-{stage}", Label)
        shown.update(STATE_TEXT.get(state, ""))
        self.query_one(f"#stage-{stage}").set_classes(f"stage stage-{state or 'pending'}")

    def _tick(self) -> None:
        if self.started_at is None:
            return
        end = self.finished_at or time.monotonic()
        attempt = f" · attempt {self.attempt}" if self.attempt > 1 else ""
        elapsed = f"Elapsed  {clock(end - self.started_at)}{attempt}"
        self.query_one("#run-elapsed", Static).update(elapsed)
