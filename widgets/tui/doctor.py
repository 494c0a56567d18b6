"""The Doctor screen: paste a failed export's log (or open a file) and see what went wrong.

It draws ``onnx_wizard.cli.doctor.run_doctor``: the diagnoses best first, with their explanations
and fix commands, and the log's own command corrected. Matching runs in a worker thread.
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
from textual.widgets import Button, Footer, Input, Static, TextArea

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
        def __init__(self, result: Mapping[str, Any] | None, problem: str = "") -> None:
            super().__init__()
            self.result, self.problem = result, problem

    def __init__(self) -> None:
        super().__init__(id="doctor")

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
        self._diagnose(self.query_one(TextArea).text)

    @work(thread=True, exclusive=True, group="doctor", exit_on_error=False)
    def _diagnose(self, text: str) -> None:
        from onnx_wizard.cli.doctor import run_doctor

        try:
            self.post_message(self.Done(run_doctor(text)))
        except WizardError as error:
            self.post_message(self.Done(None, f"{error.problem} Fix: {error.fix}"))

    async def on_doctor_screen_done(self, message: Done) -> None:
        results = self.query_one("#doctor-results", VerticalScroll)
        results.loading = False
        await results.remove_children()
        await results.mount_all(result_widgets(message.result, message.problem))
        results.scroll_home(animate=False)


def result_widgets(result: Mapping[str, Any] | None, problem: str = "") -> list[Widget]:
    if result is None:
        return [Static(escape(problem), classes="error")]
    diagnoses = list(result.get("diagnoses") or ())
    if not diagnoses:
        # The engine's never-empty answer: empty, not a log, clean, or what the error says.
        summary = str(result.get("summary_text") or "No known failure was recognised.")
        return [Static(escape(summary), classes="diagnosis", id="doctor-summary")]
    shown: list[Widget] = []
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
