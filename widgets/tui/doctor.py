"""The Doctor screen: paste a failed export's log (or open a file) and see what went wrong.

It draws ``onnx_wizard.cli.doctor.run_doctor``: the diagnoses best first, with their explanations
and fix commands, and the log's own command corrected. Matching runs in a worker thread.
"Take this fix into the wizard" draws ``onnx_wizard.flow.doctoring.fix_offer`` and calls
``take_fix``; the wizard's new state goes to the app as a ``StateReady`` (it lands on REVIEW).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Footer, Input, Static, TextArea

from onnx_wizard.errors import WizardError
from onnx_wizard.widgets.tui.fields import CommandBox


class DoctorScreen(Screen[None]):
    """Paste or open a log, Diagnose, read the results; escape returns to the wizard."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back to the wizard"),
        Binding("ctrl+r", "diagnose", "Diagnose"),
        Binding("ctrl+l", "clear", "Clear the paste"),
    ]

    class Done(Message):
        def __init__(
            self, result: Mapping[str, Any] | None, problem: str = "", offer: Any = None
        ) -> None:
            super().__init__()
            self.result, self.problem, self.offer = result, problem, offer

    class Taken(Message):
        """``take_fix`` returned the wizard's new state, or refused with ``problem``."""

        def __init__(self, state: Any, problem: str = "") -> None:
            super().__init__()
            self.state, self.problem = state, problem

    def __init__(self) -> None:
        super().__init__(id="doctor")
        self._log = ""
        self._result: Mapping[str, Any] | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="doctor-main"):
            yield Static("[b]Doctor[/b]: explain a failed export", id="doctor-title")
            yield Static(
                "Paste the log of a failed export below (or open a log file) and press "
                "Diagnose. The wizard compares it with the failures it knows.",
                classes="muted",
            )
            with Horizontal(id="doctor-open"):
                yield Input(placeholder="path/to/export.log", id="doctor-path", compact=True)
                yield Button("Open file", id="doctor-load", compact=True)
                yield Button("Diagnose", id="doctor-run", variant="primary", compact=True)
                yield Button("Clear", id="doctor-clear", compact=True)
            yield TextArea(id="doctor-log", placeholder="Paste the log here...")
            yield VerticalScroll(id="doctor-results")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "doctor-load":
            self.open_file()
        elif event.button.id == "doctor-run":
            self.action_diagnose()
        elif event.button.id == "doctor-clear":
            self.run_worker(self.action_clear(), exclusive=True, group="doctor-clear")
        elif event.button.id == "doctor-take":
            self.take_fix()
        elif event.button.has_class("copy") and event.button.name:
            self.app.copy_to_clipboard(event.button.name)
            self.notify("Copied to the clipboard.", timeout=2)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.open_file()

    def open_file(self) -> None:
        from onnx_wizard.cli.doctor import read_log

        path = self.query_one("#doctor-path", Input).value.strip()
        if not path:
            self.notify("Type the path of a log file first.", severity="warning")
            return
        try:
            text = read_log(str(Path(path).expanduser()))
        except WizardError as error:
            self.notify(f"{error.problem} {error.fix}", severity="error")
            return
        self.query_one(TextArea).text = text
        self.action_diagnose()

    async def action_clear(self) -> None:
        """Empty the paste box and the results, ready for the next log."""
        self.query_one(TextArea).clear()
        await self.query_one("#doctor-results", VerticalScroll).remove_children()
        self.query_one(TextArea).focus()

    def action_diagnose(self) -> None:
        # An empty paste is diagnosed too: the engine's answer says it is empty.
        self.query_one("#doctor-results").loading = True
        self._log = self.query_one(TextArea).text
        self._diagnose(self._log, getattr(self.app, "state", None))

    @work(thread=True, exclusive=True, group="doctor", exit_on_error=False)
    def _diagnose(self, text: str, state: Any) -> None:
        from onnx_wizard.cli.doctor import run_doctor
        from onnx_wizard.flow.doctoring import fix_offer

        try:
            result = run_doctor(text)
            self.post_message(self.Done(result, offer=fix_offer(state, text, result)))
        except WizardError as error:
            self.post_message(self.Done(None, f"{error.problem} Fix: {error.fix}"))

    async def on_doctor_screen_done(self, message: Done) -> None:
        self._result = message.result
        results = self.query_one("#doctor-results", VerticalScroll)
        results.loading = False
        await results.remove_children()
        shown = result_widgets(message.result, message.problem)
        if message.offer is not None:
            shown = [*take_widgets(message.offer), *shown]
        await results.mount_all(shown)
        results.scroll_home(animate=False)

    def take_fix(self) -> None:
        """Apply the fix in a worker (it may read the model), then hand the state to the app."""
        consent = self.query("#doctor-consent")
        yes = bool(consent) and bool(consent.first(Checkbox).value)
        button = self.query_one("#doctor-take", Button)
        button.disabled, button.label = True, "Reading the model and applying the fix..."
        self._take(getattr(self.app, "state", None), self._log, self._result, yes)

    @work(thread=True, exclusive=True, group="doctor", exit_on_error=False)
    def _take(self, state: Any, log: str, result: Any, yes: bool) -> None:
        from onnx_wizard.flow.doctoring import take_fix

        try:
            self.post_message(self.Taken(take_fix(state, log, yes=yes, result=result)))
        except WizardError as error:
            self.post_message(self.Taken(None, f"{error.problem} Fix: {error.fix}"))

    def on_doctor_screen_taken(self, message: Taken) -> None:
        from onnx_wizard.widgets.tui.messages import StateReady

        if message.state is None:
            button = self.query_one("#doctor-take", Button)
            button.disabled, button.label = False, "Take this fix into the wizard"
            self.notify(message.problem, title="Cannot take this fix", severity="error")
            return
        if not hasattr(self.app, "state"):
            self.notify("Open the doctor from the wizard to take a fix into it.")
            return
        self.dismiss(None)
        self.app.post_message(StateReady(message.state))  # the app draws it as any new state


def take_widgets(offer: Any) -> list[Widget]:
    """The engine's "take this fix" button, its one-line summary and the yes it needs."""
    action = offer.action
    button = Button(action.label, id="doctor-take", variant="primary", compact=True)
    button.disabled = not action.enabled
    if not action.enabled:
        button.tooltip = action.reason
    shown: list[Widget] = [
        Horizontal(button, id="doctor-take-row"),
        Static(escape(offer.summary), id="doctor-take-note", classes="muted"),
    ]
    if action.consent:
        shown.append(Checkbox(action.consent, id="doctor-consent", compact=True))
    return shown


def result_widgets(result: Mapping[str, Any] | None, problem: str = "") -> list[Widget]:
    if result is None:
        return [Static(escape(problem), classes="error")]
    diagnoses = list(result.get("diagnoses") or ())
    if not diagnoses:
        # The engine's never-empty answer: empty, not a log, clean, or what the error says.
        summary = str(result.get("summary_text") or "No known failure was recognised.")
        return [Static(escape(summary), classes="diagnosis", id="doctor-summary")]
    shown: list[Widget] = []
    if result.get("tell_apart_text"):  # two close causes: the engine says how to tell them apart
        text = escape(str(result["tell_apart_text"]))
        shown.append(Static(text, id="doctor-tell-apart", classes="reasons"))
    corrected = result.get("corrected_command")
    if corrected:
        shown.append(CommandBox("Corrected command", str(corrected), name="doctor-corrected"))
    for number, diagnosis in enumerate(diagnoses, 1):
        head = (
            f"[b]{number}. {escape(str(diagnosis.get('title')))}[/b]  "
            f"[$text-muted]{escape(str(diagnosis.get('id')))} · "
            f"{escape(str(diagnosis.get('category')))}[/]"
        )
        remedies = []
        for remedy in diagnosis.get("remedies") or ():
            line = f"  • {escape(str(remedy.get('note') or remedy.get('action')))}"
            if remedy.get("command"):
                line += f"\n    [$accent]{escape(str(remedy['command']))}[/]"
            if remedy.get("needs_consent"):
                line += "  [$warning](changes your environment or runs remote code)[/]"
            remedies.append(line)
        text = "\n".join(
            [head, escape(str(diagnosis.get("explanation") or "")), "[b]What to do[/b]", *remedies]
        )
        shown.append(Static(text, classes="diagnosis"))
    return shown
