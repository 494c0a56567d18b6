"""The export half of the app: run ``engine.run_export_step`` in a worker, draw it, cancel it.

A mixin of ``WizardApp``: the export blocks for the whole run, so it runs in a thread worker
whose events arrive as messages; cancel and quit stop the child's process tree off the UI
thread, and quitting never leaves an export running behind the wizard.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual import work
from textual.widgets import Button

from onnx_wizard.errors import WizardError
from onnx_wizard.flow import engine
from onnx_wizard.flow.steps import WizardState
from onnx_wizard.widgets.tui import stopgaps
from onnx_wizard.widgets.tui.messages import RunEvent, RunFinished
from onnx_wizard.widgets.tui.run_pane import RunPane

if TYPE_CHECKING:
    from textual.app import App

    Base = App[int]
else:
    Base = object


class ExportControl(Base):
    """Starts, draws, cancels and finishes the export for the app it is mixed into."""

    state: WizardState
    exporting: bool
    export_run: Any
    cancel_requested: bool

    if TYPE_CHECKING:

        def save(self) -> None: ...
        async def show_state(self, rebuild: bool = False) -> None: ...
        def act(self, action: str) -> None: ...
        def _update_actions(self) -> None: ...

    def start_export(self) -> None:
        self.exporting, self.cancel_requested, self.export_run = True, False, None
        self.query_one(RunPane).reset()
        self._update_actions()
        self._export_worker(self.state)

    @work(thread=True, exclusive=True, group="export", exit_on_error=False)
    def _export_worker(self, state: WizardState) -> None:
        def on_event(event: dict[str, Any]) -> None:
            self.post_message(RunEvent(event))
            if event.get("event") == "started" and self.cancel_requested:
                self._cancel_now()  # Cancel was pressed before the process existed

        def on_run(run: Any) -> None:
            self.export_run = run

        try:
            finished = engine.run_export_step(state, on_event=on_event, on_run=on_run)
        except WizardError as error:
            finished = stopgaps.failed_before_start(state, error)
        self.post_message(RunFinished(finished))

    def on_run_event(self, message: RunEvent) -> None:
        self.query_one(RunPane).handle(message.event)

    async def on_run_finished(self, message: RunFinished) -> None:
        self.exporting, self.export_run = False, None
        self.cancel_requested = False
        self.state = message.state
        self.save()
        await self.show_state()
        if (self.state.facts.run or {}).get("status") == "failed":
            self.act("next")  # straight to the diagnosis and its recovery modal
        else:
            self.query_one("#act-forward", Button).focus()

    def action_cancel_run(self) -> None:
        if not self.exporting or self.cancel_requested:
            return
        self.cancel_requested = True
        self.query_one(RunPane).show_outcome("Cancelling the export...", "warn")
        self._cancel_now()
        self._update_actions()

    def _cancel_now(self) -> None:
        run = self.export_run
        if run is not None:
            # cancel() waits up to half a second for a graceful end: never on the UI thread.
            threading.Thread(target=run.cancel, name="cancel-export", daemon=True).start()

    def run_log_lines(self) -> list[str]:
        return [line for pane in self.query(RunPane) for line in pane.lines]

    async def action_quit(self) -> None:
        if self.exporting and self.export_run is not None:
            run = self.export_run
            await self.run_in_thread(run.cancel)  # never leave an export behind
        self.exit(0)

    async def run_in_thread(self, function: Callable[[], Any]) -> None:
        await asyncio.get_running_loop().run_in_executor(None, function)
