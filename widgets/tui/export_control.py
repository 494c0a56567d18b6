"""The export half of the app: run ``engine.work`` for an export in a worker, draw it, cancel it.

A mixin of ``WizardApp``: the export blocks for the whole run, so it runs in a thread worker
whose events arrive as messages; cancel and quit stop the child's process tree off the UI
thread (``engine.RunControl``), and quitting never leaves an export running behind the wizard.
Where a finished run goes next (its results, or recovery) is the engine's decision.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual import work

from onnx_wizard.flow import engine
from onnx_wizard.flow.steps import WizardState
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
    export_control: engine.RunControl | None
    cancel_requested: bool
    busy: bool  # the engine is acting (it may be building a sample model)

    if TYPE_CHECKING:

        def save(self) -> None: ...
        async def show_state(self, rebuild: bool = False) -> None: ...
        def _update_actions(self) -> None: ...

    def start_export(self, reset: bool = True) -> None:
        """Start the view's streaming work (the export, its variants, an upload) in a worker."""
        self.exporting, self.cancel_requested = True, False
        self.export_control = engine.RunControl()
        if reset:
            self.query_one(RunPane).reset()
        self._update_actions()
        self._export_worker(self.state, self.export_control)

    @work(thread=True, exclusive=True, group="export", exit_on_error=False)
    def _export_worker(self, state: WizardState, control: engine.RunControl) -> None:
        def on_event(event: dict[str, Any]) -> None:
            self.post_message(RunEvent(event))

        self.post_message(RunFinished(engine.work(state, control=control, on_event=on_event)))

    def on_run_event(self, message: RunEvent) -> None:
        self.query_one(RunPane).handle(message.event)

    async def on_run_finished(self, message: RunFinished) -> None:
        self.exporting, self.export_control = False, None
        self.cancel_requested = False
        before, self.state = self.state, message.state
        self.save()
        await self.show_state(rebuild=message.state.step is not before.step)

    def action_cancel_run(self) -> None:
        if not self.exporting or self.cancel_requested:
            return
        self.cancel_requested = True
        self.query_one(RunPane).show_outcome("Cancelling the export...", "warn")
        control = self.export_control
        if control is not None:
            # cancel() waits up to half a second for a graceful end: never on the UI thread.
            threading.Thread(target=control.cancel, name="cancel-export", daemon=True).start()
        self._update_actions()

    def run_log_lines(self) -> list[str]:
        return [line for pane in self.query(RunPane) for line in pane.lines]

    async def action_quit(self) -> None:
        control = self.export_control
        if self.exporting and control is not None:
            await self.run_in_thread(control.cancel)  # never leave an export behind
        elif self.busy:
            await self.run_in_thread(engine.RunControl().cancel)  # nor a sample being built
        self.exit(0)

    async def run_in_thread(self, function: Callable[[], Any]) -> None:
        await asyncio.get_running_loop().run_in_executor(None, function)
