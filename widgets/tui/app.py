"""The Textual app: draws ``machine.view(state)`` for each step and binds its actions to keys.

The app holds one ``WizardState``. Widget changes go to ``machine.answer`` on the UI thread (it
is pure and instant); buttons and keys go to ``engine.act`` and the work a view names
(``view.work``: checks, inspection, the export) to ``engine.work``, both in thread workers that
post the new state back as messages, so the UI never waits on them. The session is saved after
every step. No step logic lives here: labels, button kinds, consent, tables and outcome sentences
all come from the view.
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
from textual.widgets import (
    Button,
    Checkbox,
    Footer,
    Input,
    Select,
    SelectionList,
    Static,
    Switch,
)
from textual.worker import Worker, WorkerState

from onnx_wizard.flow import engine, machine, session
from onnx_wizard.flow.actions import QUIT_DURING_RUN, WORK_BUSY
from onnx_wizard.flow.steps import STREAMING_WORK, ActionView, StepView, WizardState
from onnx_wizard.widgets.tui import theme
from onnx_wizard.widgets.tui.dialogs import FolderPicker, ResumeModal
from onnx_wizard.widgets.tui.export_control import ExportControl
from onnx_wizard.widgets.tui.fields import FieldRow, answer_value, dom_id, same_as_shown
from onnx_wizard.widgets.tui.messages import StateReady
from onnx_wizard.widgets.tui.overlays import ConfirmQuit, KeysScreen, key_rows
from onnx_wizard.widgets.tui.recovery import RecoveryModal
from onnx_wizard.widgets.tui.run_pane import RunPane
from onnx_wizard.widgets.tui.stepview import StepBar, StepForm
from onnx_wizard.widgets.tui.theme import VARIANTS


class WizardApp(ExportControl, App[int]):
    """onnx-wizard in the terminal. ``state`` injects a starting state (tests, resume)."""

    CSS_PATH = "wizard.tcss"
    TITLE = "onnx-wizard"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n", "press('primary')", "Next"),
        Binding("ctrl+b", "press('back')", "Back"),
        Binding("escape", "press('cancel')", "Cancel export"),
        Binding("ctrl+f", "find", "Find in log"),
        Binding("ctrl+o", "doctor", "Doctor"),
        Binding("ctrl+t", "toggle_theme", "Light/dark"),
        Binding("question_mark", "keys", "Keys"),
        Binding("ctrl+q", "ask_quit", "Quit", priority=True),
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
        self.autorun = autorun  # False: work waits (snapshot tests draw a step still)
        self.view: StepView = machine.view(self.state)
        self.busy = False
        self.busy_text = ""
        self.drawing = 0  # redraws in progress (they await mounts)
        self.recovery_open = False  # the recovery dialog is shown (or being pushed)
        self.actions_taken = 0
        self.exporting = False
        self.export_control: engine.RunControl | None = None
        self.cancel_requested = False
        self.session_path: Path | None = None
        self._shape: tuple[Any, ...] = ()
        self._buttons: tuple[str, ...] = ()
        self._consent_for = ""
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
        yield Checkbox("", id="consent", compact=True)
        with Horizontal(id="actions"):
            yield Static("", id="busy")
            yield Horizontal(id="buttons")
        yield Footer()

    async def on_mount(self) -> None:
        await self.show_state(rebuild=True)
        if self.offer_resume:
            offer = engine.resume_offer(self.prefill.get("source"), self.prefill.get("output"))
            if offer is not None:
                self.push_screen(ResumeModal(offer), lambda yes: self._resume(yes, offer))

    def _resume(self, yes: bool | None, offer: session.SessionInfo) -> None:
        if yes:
            self.session_path = offer.path
            self.busy = True
            self._update_actions()
            self._engine_worker(self.state, "", False, resume=offer)

    # ---- drawing the state ---------------------------------------------------------------------

    @property
    def settled(self) -> bool:
        """Nothing in flight: no engine call, no export, no redraw half done."""
        return not self.busy and not self.exporting and not self.drawing

    async def show_state(self, rebuild: bool = False) -> None:
        """Draw the current state; rebuild the form only when the step or its fields changed."""
        self.drawing += 1
        try:
            await self._show_state(rebuild)
        finally:
            self.drawing -= 1

    async def _show_state(self, rebuild: bool) -> None:
        state = self.state
        view = self.view = machine.view(state)
        self.query_one(StepBar).show(state, view)
        self.query_one("#title", Static).update(f"[b]{escape(view.title)}[/b]")
        self.query_one("#step-help", Static).update(escape(view.help))
        error = self.query_one("#step-error", Static)
        error.update(escape(view.error or ""))
        error.display = bool(view.error)
        in_run = view.layout != "form"
        if in_run and not self.query(RunPane):
            await self.query_one("#main").mount(RunPane(id="run"), before="#step-error")
        form = self.query_one("#form", VerticalScroll)
        form.display = not in_run
        for pane in self.query(RunPane):
            pane.display = in_run
            if in_run:
                pane.load_log((state.facts.run or {}).get("log"))
                pane.show_outcome(view.outcome, view.outcome_tone)
        self.query_one("#step-help").display = in_run  # other steps show it in their form
        shape = (
            view.step,
            tuple((f.name, f.kind, f.choices, f.label) for f in view.fields),
            view.tables,
            view.outcome,
        )
        if not in_run and (rebuild or shape != self._shape):
            focused = self.focused.name if self.focused is not None else None
            await form.remove_children()
            await form.mount(StepForm(view))
            form.scroll_home(animate=False)
            self._focus_first(focused if not rebuild else None)
        elif not in_run:
            for row in form.query(FieldRow):
                row.set_error(view.field(row.item.name).error)
                row.set_placeholder(view.field(row.item.name).placeholder)
                row.set_help(view.field(row.item.name).help)
        self._shape = shape
        await self._draw_buttons(view)
        self._update_actions()
        if not in_run and self.focused is None:
            self._focus_first(self._last_focus)  # the form was disabled while the engine worked
        self._start_work(view)

    def _focus_first(self, name: str | None) -> None:
        form = self.query_one("#form")
        wanted = [w for w in form.query("Input, Select, Switch, SelectionList") if w.name == name]
        inputs = wanted or list(form.query("Input, Select, Switch, SelectionList"))
        if inputs:
            inputs[0].focus()
        elif self.view.primary is not None and self.query(f"#act-{self.view.primary.name}"):
            self.query_one(f"#act-{self.view.primary.name}", Button).focus()

    async def _draw_buttons(self, view: StepView) -> None:
        names = view.action_names
        if names == self._buttons:
            return
        bar = self.query_one("#buttons", Horizontal)
        await bar.remove_children()
        await bar.mount_all(
            Button(a.label, id=f"act-{a.name}", variant=VARIANTS[a.kind], compact=True)
            for a in view.actions
        )
        self._buttons = names

    def _update_actions(self) -> None:
        view, busy = self.view, self.busy
        # While the engine works on this step's answers, they cannot change under it.
        self.query_one("#form").disabled = busy
        consent = self.query_one("#consent", Checkbox)
        asking = next((a for a in view.actions if a.consent and a.enabled), None)
        wanted = asking.consent if asking else ""
        if wanted != self._consent_for:
            self._consent_for = wanted
            consent.value = False  # a yes is given to one action, never carried to another
            consent.label = wanted
        consent.display = bool(wanted)
        for action in view.actions:
            for button in self.query(f"#act-{action.name}").results(Button):
                button.label = action.label
                button.tooltip = action.reason or None
                if action.name == "cancel":
                    control = self.export_control
                    button.disabled = self.cancel_requested or control is None
                else:
                    needs_yes = bool(action.consent) and not consent.value
                    button.disabled = busy or not action.enabled or needs_yes
        text = self.busy_text if busy else ""
        if self.cancel_requested:
            text = "Cancelling..."
        elif not busy and view.primary is not None and not view.primary.enabled:
            text = view.primary.reason
        self.query_one("#busy", Static).update(escape(text))
        self.refresh_bindings()

    def _start_work(self, view: StepView) -> None:
        """Start what the view says the engine must do now; open the recovery choice."""
        recovering = view.layout == "recover" and not self.busy
        if recovering and not self.recovery_open:
            # A flag, not the screen stack: two redraws in a row must not push two dialogs.
            self.recovery_open = True
            self.push_screen(RecoveryModal(), self._recovery_chosen)
        if view.work is None or self.busy or self.exporting or not self.autorun:
            return
        if view.work in STREAMING_WORK:
            self.start_export(reset=view.work != "quantize")  # variants follow the export's log
            return
        self.busy, self.busy_text = True, WORK_BUSY.get(view.work, "Working...")
        self._update_actions()
        self._work_worker(self.state)

    # ---- answers -------------------------------------------------------------------------------

    def answer_from_widget(self, name: str, raw: Any) -> None:
        """A widget changed: send the answer to the machine (pure, instant) and redraw."""
        if self.busy:
            return
        item = {f.name: f for f in self.view.fields}.get(name)
        if item is None or item.kind in ("info", "secret"):  # a secret goes with the action
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

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        if event.checkbox.id == "consent":
            self._update_actions()

    def on_selection_list_selected_changed(self, event: SelectionList.SelectedChanged) -> None:
        if event.selection_list.name:
            self.answer_from_widget(event.selection_list.name, event.selection_list.selected)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.name:  # Enter in a field: the step's main action
            self.action_press("primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        button = event.button
        if button.id and button.id.startswith("act-"):
            self.action_press(button.id.removeprefix("act-"))
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

    def _resolve(self, name: str) -> ActionView | None:
        view = self.view
        return view.primary if name == "primary" else view.action(name)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("press", "find", "doctor") and len(self.screen_stack) > 1:
            return False  # a dialog or the Doctor is in front: its own keys apply
        if action == "press":
            found = self._resolve(str(parameters[0])) if parameters else None
            if found is None:
                return False
            if found.name == "cancel":
                return self.exporting and not self.cancel_requested
            return None if self.busy or not found.enabled else True
        if action == "find":
            return self.view.layout != "form"
        return True

    def action_press(self, name: str) -> None:
        """The key or button of one of the view's actions."""
        found = self._resolve(name)
        if found is None or (self.busy and found.name != "cancel") or not found.enabled:
            self.bell()
            return
        if found.name == "cancel":
            self.action_cancel_run()
        elif found.name == "close":
            self.exit(0)
        else:
            yes = bool(found.consent) and self.query_one("#consent", Checkbox).value
            if found.consent and not yes:
                self.notify(f"Tick the box first: {found.consent}", severity="warning")
                return
            self.act(found.name, yes=yes)

    def action_find(self) -> None:
        if self.view.layout != "form":
            self.query_one("#log-search", Input).focus()

    def action_doctor(self) -> None:
        from onnx_wizard.widgets.tui.doctor import DoctorScreen

        self.push_screen(DoctorScreen())

    def action_keys(self) -> None:
        """``?``: the keys of this screen, from the bindings themselves."""
        if isinstance(self.focused, Input) or len(self.screen_stack) > 1:
            return  # a "?" typed into a field is just a character
        # This step's buttons first: Ctrl+N reads "Run export" on the review, not "Next".
        bound = [(a.key, a.label.strip(" ›‹")) for a in self.view.actions if a.key]
        bound += [(b.key, b.description) for b in self.BINDINGS if isinstance(b, Binding)]
        self.push_screen(KeysScreen(key_rows(bound)))

    def action_ask_quit(self) -> None:
        """Quit; while an export runs, ask first (quitting stops it)."""
        if not self.exporting:
            if self.busy:  # the engine may be building a sample model: that stops too
                engine.RunControl().cancel()  # no export to wait for: returns at once
            self.exit(0)
            return
        if isinstance(self.screen, ConfirmQuit):
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.call_later(self.action_quit)  # stops the export, then exits

        self.push_screen(ConfirmQuit(QUIT_DURING_RUN), answered)

    def action_toggle_theme(self) -> None:
        self.theme = theme.LIGHT.name if self.theme == theme.DARK.name else theme.DARK.name

    def act(self, action: str, *, yes: bool = False) -> None:
        """Run ``engine.act`` in a worker: it may inspect, check or plan."""
        self._last_focus = self.focused.name if self.focused is not None else None
        self.actions_taken += 1  # lets a driver (Pilot, tmux) know its click has landed
        found = self.view.action(action)
        self.busy, self.busy_text = True, found.busy if found else "Working..."
        self._update_actions()
        self._engine_worker(self.state, action, yes, secrets=self._take_secrets())

    def _take_secrets(self) -> dict[str, str]:
        """What the view's secret fields hold, for this action only; the boxes are emptied."""
        secrets: dict[str, str] = {}
        for item in self.view.fields:
            if item.kind != "secret":
                continue
            for widget in self.query(f"#field-{dom_id(item.name)}").results(Input):
                if widget.value:
                    secrets[item.name] = widget.value
                widget.value = ""
        return secrets

    @work(thread=True, exclusive=True, group="engine", exit_on_error=False)
    def _engine_worker(
        self,
        state: WizardState,
        action: str,
        yes: bool,
        resume: Any = None,
        secrets: dict[str, str] | None = None,
    ) -> None:
        if resume is not None:
            moved = engine.resume(resume)
        else:
            moved = engine.act(state, action, yes=yes, secrets=secrets)
        self.post_message(StateReady(moved))

    @work(thread=True, exclusive=True, group="engine", exit_on_error=False)
    def _work_worker(self, state: WizardState) -> None:
        self.post_message(StateReady(engine.work(state)))

    async def on_state_ready(self, message: StateReady) -> None:
        self.busy = False
        before, self.state = self.state, message.state
        moved = message.state.step is not before.step
        if moved or message.state.facts != before.facts:
            self.save()
        await self.show_state(rebuild=moved)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is not WorkerState.ERROR or event.worker.group not in ("engine", "export"):
            return
        error = event.worker.error or RuntimeError("the worker failed")
        self.busy = False
        self.exporting = False
        self._update_actions()
        problem = getattr(error, "problem", None)
        text = f"{problem} Fix: {getattr(error, 'fix', '')}" if problem else f"{error}"
        title = "Cannot do that" if problem else f"Internal error: {type(error).__name__}"
        self.notify(text, title=title, severity="error")

    def save(self) -> None:
        try:
            self.session_path = session.save_session(self.state)
        except OSError as error:
            self.notify(f"The session could not be saved: {error}", severity="warning")

    # ---- recovery ------------------------------------------------------------------------------

    def _recovery_chosen(self, choice: tuple[str, bool] | None) -> None:
        self.recovery_open = False
        if choice is None:
            return
        name, yes = choice
        self.act(name, yes=yes)
