"""The Textual app: draws ``machine.view(state)`` for each step and drives the engine.

The app holds one ``WizardState``. Widget changes go to ``machine.answer`` on the UI thread (it
is pure and instant); actions go to ``engine.act`` and the export to ``engine.run_export_step``
in thread workers, which post the new state back as messages, so the UI never waits on them. The
session is saved after every step. No step logic lives here: the engine's view decides fields,
status and buttons; what the view lacks is read in one marked place, ``stopgaps``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from rich.markup import escape
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Footer, Input, Select, SelectionList, Static, Switch
from textual.worker import Worker, WorkerState

from onnx_wizard.flow import engine, machine, session
from onnx_wizard.flow.steps import Step, StepView, WizardState
from onnx_wizard.widgets.tui import stopgaps, theme
from onnx_wizard.widgets.tui.dialogs import FolderPicker, ResumeModal
from onnx_wizard.widgets.tui.export_control import ExportControl
from onnx_wizard.widgets.tui.fields import FieldRow, answer_value, same_as_shown
from onnx_wizard.widgets.tui.messages import RunFinished, StateReady
from onnx_wizard.widgets.tui.recovery import RecoveryModal
from onnx_wizard.widgets.tui.run_pane import RunPane
from onnx_wizard.widgets.tui.stepview import StepBar, StepForm

FORWARD_LABELS = {"next": "Next ›", "run": "Run export ›", "finish": "Finish ›", "apply": "Fix..."}
BUSY_TEXT = {
    Step.SOURCE: "Reading the model and checking your environment...",
    Step.REVIEW: "Starting the export...",
    Step.RECOVER: "Applying the fix...",
}
RUN_STEPS = (Step.RUN, Step.RECOVER)


class WizardApp(ExportControl, App[int]):
    """onnx-wizard in the terminal. ``state`` injects a starting state (tests, resume)."""

    CSS_PATH = "wizard.tcss"
    TITLE = "onnx-wizard"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n", "forward", "Next"),
        Binding("ctrl+b", "previous", "Back"),
        Binding("escape", "cancel_run", "Cancel export"),
        Binding("ctrl+f", "find", "Find in log"),
        Binding("ctrl+o", "doctor", "Doctor"),
        Binding("ctrl+t", "toggle_theme", "Light/dark"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(
        self,
        state: WizardState | None = None,
        *,
        prefill: Mapping[str, Any] | None = None,
        offer_resume: bool = True,
        autorun: bool = True,
    ) -> None:
        super().__init__()
        self.prefill = {k: v for k, v in (prefill or {}).items() if v}
        self.offer_resume = offer_resume and state is None
        self.state = state or machine.start(self.prefill)
        self.autorun = autorun  # False: the RUN step waits (snapshot tests draw it still)
        self.view: StepView = machine.view(self.state)
        self.busy = False
        self.exporting = False
        self.export_run: Any = None  # the engine's run handle while an export runs
        self.cancel_requested = False
        self.session_path: Path | None = None
        self._shape: tuple[Any, ...] = ()
        self._last_focus: str | None = None
        self.register_theme(theme.DARK)
        self.register_theme(theme.LIGHT)
        self.theme = theme.theme_name()

    def compose(self) -> ComposeResult:
        yield StepBar(id="stepbar")
        with Vertical(id="main"):
            yield Static("", id="title")
            yield Static("", id="step-help")
            yield VerticalScroll(id="form")
            # The run pane is mounted the first time a run is shown: a quicker first screen.
            yield Static("", id="step-error")
        with Horizontal(id="actions"):
            yield Button("‹ Back", id="act-back", compact=True)
            yield Static("", id="busy")
            yield Button("Cancel", id="act-cancel", variant="error", compact=True)
            yield Button("Next ›", id="act-forward", variant="primary", compact=True)
        yield Footer()

    async def on_mount(self) -> None:
        await self.show_state(rebuild=True)
        if self.offer_resume:
            found = session.find_resumable(self.prefill.get("output"))
            if found is not None:
                path, saved = found
                self.push_screen(ResumeModal(path, saved), lambda yes: self._resume(yes, found))

    def _resume(self, yes: bool | None, found: tuple[Path, WizardState]) -> None:
        if yes:
            self.session_path, self.state = found
            self.call_later(self.show_state, True)

    # ---- drawing the state ---------------------------------------------------------------------

    async def show_state(self, rebuild: bool = False) -> None:
        """Draw the current state; rebuild the form only when the step or its fields changed."""
        state = self.state
        view = self.view = machine.view(state)
        self.query_one(StepBar).show(state, view)
        self.query_one("#title", Static).update(f"[b]{escape(view.title)}[/b]")
        self.query_one("#step-help", Static).update(escape(view.help))
        error = self.query_one("#step-error", Static)
        error.update(escape(view.error or ""))
        error.display = bool(view.error)
        in_run = view.step in RUN_STEPS
        if in_run and not self.query(RunPane):
            await self.query_one("#main").mount(RunPane(id="run"), before="#step-error")
        form = self.query_one("#form", VerticalScroll)
        form.display = not in_run
        for pane in self.query(RunPane):
            pane.display = in_run
        self.query_one("#step-help").display = in_run  # other steps show it in their form
        shape = (view.step, tuple((f.name, f.kind, f.choices, f.label) for f in view.fields))
        if not in_run and (rebuild or shape != self._shape):
            focused = self.focused.name if self.focused is not None else None
            await form.remove_children()
            await form.mount(StepForm(state, view))
            form.scroll_home(animate=False)
            self._focus_first(focused if not rebuild else None)
        elif not in_run:
            for row in form.query(FieldRow):
                row.set_error(view.field(row.item.name).error)
        self._shape = shape
        self._update_actions()
        if not in_run and self.focused is None:
            self._focus_first(self._last_focus)  # the form was disabled while the engine worked
        self._run_step_work(view)

    def _focus_first(self, name: str | None) -> None:
        form = self.query_one("#form")
        wanted = [w for w in form.query("Input, Select, Switch, SelectionList") if w.name == name]
        inputs = wanted or list(form.query("Input, Select, Switch, SelectionList"))
        if inputs:
            inputs[0].focus()
        else:
            self.query_one("#act-forward", Button).focus()

    def _forward_action(self) -> str | None:
        forward = [a for a in self.view.actions if a not in ("back", "cancel", "stop")]
        return forward[0] if forward else None

    def _update_actions(self) -> None:
        view, busy = self.view, self.busy
        # While the engine works on this step's answers, they cannot change under it.
        self.query_one("#form").disabled = busy
        back = self.query_one("#act-back", Button)
        back.disabled = busy or "back" not in view.actions
        cancel = self.query_one("#act-cancel", Button)
        cancel.display = "cancel" in view.actions
        cancel.disabled = self.cancel_requested
        forward = self.query_one("#act-forward", Button)
        action = self._forward_action()
        if view.step is Step.DONE:
            forward.label, forward.disabled = "Quit", False
        elif view.step is Step.RECOVER:
            forward.label, forward.disabled = "Recovery options...", busy
        else:
            forward.label = FORWARD_LABELS.get(action or "next", "Next ›")
            forward.disabled = busy or action is None
        busy_text = BUSY_TEXT.get(view.step, "Working...") if busy else ""
        if self.cancel_requested:
            busy_text = "Cancelling..."
        self.query_one("#busy", Static).update(busy_text)
        self.refresh_bindings()

    def _run_step_work(self, view: StepView) -> None:
        """Start what the current step waits for: the export, the recovery choice."""
        state = self.state
        if view.step is Step.RUN:
            pane = self.query_one(RunPane)
            if state.facts.run is None:
                if self.autorun and not self.exporting:
                    self.start_export()
            else:
                pane.load_log((state.facts.run or {}).get("log"))
                self._show_run_outcome()
        elif view.step is Step.RECOVER:
            self.query_one(RunPane).load_log((state.facts.run or {}).get("log"))
            self._show_run_outcome()
            if not isinstance(self.screen, RecoveryModal):
                self.push_screen(RecoveryModal(), self._recovery_chosen)
        elif view.status == "running" and view.step is Step.PREREQUISITES:
            self.act("refresh")

    def _show_run_outcome(self) -> None:
        run = self.state.facts.run or {}
        status = run.get("status")
        output = self.state.answers.get("output") or "the output folder"
        if status == "ok":
            text, tone = f"Export finished: the files are in {output}. Next: the checks.", "good"
        elif status == "cancelled":
            text, tone = "Cancelled. The output folder was not touched.", "warn"
        elif status == "failed":
            text, tone = f"The export failed. {run.get('detail') or ''}".strip(), "bad"
        else:
            return
        self.query_one(RunPane).show_outcome(text, tone)

    # ---- answers -------------------------------------------------------------------------------

    def answer_from_widget(self, name: str, raw: Any) -> None:
        """A widget changed: send the answer to the machine (pure, instant) and redraw."""
        if self.busy:
            return
        item = {f.name: f for f in self.view.fields}.get(name)
        if item is None or item.kind == "info":
            return
        value = answer_value(item, raw)
        if same_as_shown(item, value):
            return
        self.state = machine.answer(self.state, name, value)
        self.call_later(self.show_state)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.name:
            self.answer_from_widget(event.input.name, event.value)

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.name:
            raw = None if event.value is Select.NULL else event.value
            self.answer_from_widget(event.select.name, raw)

    def on_switch_changed(self, event: Switch.Changed) -> None:
        if event.switch.name:
            self.answer_from_widget(event.switch.name, event.value)

    def on_selection_list_selected_changed(self, event: SelectionList.SelectedChanged) -> None:
        if event.selection_list.name:
            self.answer_from_widget(event.selection_list.name, event.selection_list.selected)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.name:  # Enter in a field: the step's forward action
            self.action_forward()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        button = event.button
        if button.id == "act-back":
            self.action_previous()
        elif button.id == "act-forward":
            self.action_forward()
        elif button.id == "act-cancel":
            self.action_cancel_run()
        elif button.has_class("copy") and button.name:
            self.copy_to_clipboard(button.name)
            self.notify("Copied to the clipboard.", timeout=2)
        elif button.id and button.id.startswith("sample-"):
            self._set_input("source", f"sample:{button.id.removeprefix('sample-')}")
        elif button.has_class("browse") and button.name:
            field = button.name
            current = str(self.view.field(field).value or "") or None

            def picked(path: str | None) -> None:
                if path:
                    self._set_input(field, path)

            self.push_screen(FolderPicker(current), picked)

    def _set_input(self, name: str, value: str) -> None:
        for widget in self.query_one("#form").query(Input):
            if widget.name == name:
                widget.value = value  # posts Input.Changed, which answers it
                widget.focus()

    # ---- actions -------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        view = self.view
        wizard_actions = ("forward", "previous", "cancel_run", "find", "doctor")
        if action in wizard_actions and len(self.screen_stack) > 1:
            return False  # a dialog or the Doctor is in front: its own keys apply
        if action == "forward":
            return not self.busy and (self._forward_action() is not None or view.step is Step.DONE)
        if action == "previous":
            return None if self.busy or "back" not in view.actions else True
        if action == "cancel_run":
            return self.exporting
        if action == "find":
            return view.step in RUN_STEPS
        return True

    def action_forward(self) -> None:
        if self.view.step is Step.DONE:
            self.exit(0)
        elif self.view.step is Step.RECOVER:
            self.push_screen(RecoveryModal(), self._recovery_chosen)
        elif not self.busy and (action := self._forward_action()) is not None:
            self.act(action)

    def action_previous(self) -> None:
        if not self.busy and "back" in self.view.actions:
            self.act("back")

    def action_find(self) -> None:
        if self.view.step in RUN_STEPS:
            self.query_one("#log-search", Input).focus()

    def action_doctor(self) -> None:
        from onnx_wizard.widgets.tui.doctor import DoctorScreen

        self.push_screen(DoctorScreen())

    def action_toggle_theme(self) -> None:
        self.theme = theme.LIGHT.name if self.theme == theme.DARK.name else theme.DARK.name

    def act(self, action: str) -> None:
        """Run ``engine.act`` (or ``refresh``) in a worker: it may inspect, check or plan."""
        self._last_focus = self.focused.name if self.focused is not None else None
        self.busy = True
        self._update_actions()
        self._engine_worker(self.state, action)

    @work(thread=True, exclusive=True, group="engine", exit_on_error=False)
    def _engine_worker(self, state: WizardState, action: str) -> None:
        if action == "refresh":
            self.post_message(StateReady(engine.refresh(state)))
            return
        moved = engine.act(state, action)
        if action == "apply" and moved.step is Step.REVIEW:
            moved = engine.act(moved, "run")  # "Apply and retry": the reviewed plan runs now
        self.post_message(StateReady(moved))

    async def on_state_ready(self, message: StateReady) -> None:
        self.busy = False
        moved = message.state.step is not self.state.step
        self.state = message.state
        if moved:
            self.save()
        await self.show_state(rebuild=moved)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is not WorkerState.ERROR or event.worker.group not in ("engine", "export"):
            return
        error = event.worker.error or RuntimeError("the worker failed")
        if event.worker.group == "engine":
            self.busy = False
            self._update_actions()
            self.notify(
                f"{type(error).__name__}: {error}", title="Internal error", severity="error"
            )
        else:  # the export step raised: show it as a failed run, never a run screen that hangs
            self.post_message(RunFinished(stopgaps.failed_before_start(self.state, error)))

    def save(self) -> None:
        try:
            self.session_path = session.save_session(self.state)
        except OSError as error:
            self.notify(f"The session could not be saved: {error}", severity="warning")

    # ---- recovery ------------------------------------------------------------------------------

    def _recovery_chosen(self, choice: str | None) -> None:
        if choice == "apply":
            self.act("apply")
        elif choice == "stop":
            self.act("stop")
        elif choice == "edit":
            self.state = stopgaps.edit_plan(self.state)
            self.save()
            self.call_later(self.show_state, True)
