"""The recovery modal: what went wrong in plain words, the fix as a plan diff, and the choices.

It draws the RECOVER step's view (``diagnosis``, ``explanation``, ``remedy``) and the chosen
remedy's ``diff`` from the engine's diagnosis; the ``recovery`` field becomes its buttons. It
dismisses with the user's choice: "apply" (apply and retry), "edit" (edit the plan) or "stop".
A remedy that runs a model's own code or changes the environment needs an explicit yes first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Select, Static

from onnx_wizard.flow import machine
from onnx_wizard.widgets.tui import stopgaps
from onnx_wizard.widgets.tui.dialogs import LogScreen
from onnx_wizard.widgets.tui.fields import FieldRow

if TYPE_CHECKING:
    from onnx_wizard.widgets.tui.app import WizardApp


def diff_lines(diff: Mapping[str, Any]) -> str:
    """A remedy's plan change as a unified-diff-like block, in Textual markup."""
    lines = []
    for name, change in diff.items():
        old, new = [*list(change), None, None][:2]
        lines.append(f"[$error]- {escape(name)}: {escape(_value(old))}[/]")
        lines.append(f"[$success]+ {escape(name)}: {escape(_value(new))}[/]")
    return "\n".join(lines) or "[$text-muted](this fix does not change the plan)[/]"


def _value(value: Any) -> str:
    return "default" if value is None else str(value)


class RecoveryModal(ModalScreen[str]):
    """Diagnosis, remedy choice with its diff, consent when needed, and the four buttons."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "choose('apply')", "Apply and retry", show=True),
        Binding("e", "choose('edit')", "Edit plan", show=True),
        Binding("l", "show_log", "Show log", show=True),
        Binding("s", "choose('stop')", "Stop", show=True),
    ]

    def __init__(self) -> None:
        super().__init__(id="recovery")

    @property
    def wizard(self) -> WizardApp:
        return self.app

    def compose(self) -> ComposeResult:
        state = self.wizard.state
        view = machine.view(state)
        with Vertical(id="recovery-box"):
            yield Static(f"[b]{escape(view.title)}[/b]", id="recovery-title")
            with VerticalScroll(id="recovery-body"):
                if stopgaps.unrecognised_failure(state):
                    detail = (state.facts.run or {}).get("detail") or ""
                    yield Static(
                        "[b]The wizard did not recognise this failure.[/b]\n"
                        + escape(str(detail) or "See the log for the error.")
                        + "\nShow log has the details; Edit plan lets you change the options.",
                        id="diagnosis",
                    )
                else:
                    problem = view.field("diagnosis").value
                    yield Static(f"[b]{escape(str(problem))}[/b]", id="diagnosis")
                    yield Static(escape(str(view.field("explanation").value)), id="explanation")
                remedies = [f for f in view.fields if f.name == "remedy"]
                if remedies:
                    yield FieldRow(remedies[0])
                    yield Static("[b]Change to the plan[/b]", classes="section")
                    yield Static("", id="diff")
                    yield Checkbox(
                        "Yes: I trust this model's code / allow this change to my Python setup",
                        id="consent",
                        compact=True,
                    )
            with Horizontal(id="recovery-buttons"):
                yield Button("Apply and retry", id="rec-apply", variant="primary", compact=True)
                yield Button("Edit plan", id="rec-edit", compact=True)
                yield Button("Show log", id="rec-log", compact=True)
                yield Button("Stop", id="rec-stop", variant="error", compact=True)

    def on_mount(self) -> None:
        self.refresh_choice()
        self.query_one("#rec-apply", Button).focus()

    def refresh_choice(self) -> None:
        """Show the chosen remedy's diff and whether it needs a yes; gate Apply on both."""
        state = self.wizard.state
        view = machine.view(state)
        remedy = self.chosen_remedy()
        needs_yes = bool(remedy and remedy.get("needs_consent"))
        if self.query("#diff"):
            self.query_one("#diff", Static).update(diff_lines((remedy or {}).get("diff") or {}))
            consent = self.query_one("#consent", Checkbox)
            consent.display = needs_yes
            for row in self.query(FieldRow):
                row.set_error(view.field("remedy").error)
        allowed = "apply" in view.actions and remedy is not None
        if needs_yes and not self.query_one("#consent", Checkbox).value:
            allowed = False
        self.query_one("#rec-apply", Button).disabled = not allowed

    def chosen_remedy(self) -> Mapping[str, Any] | None:
        state = self.wizard.state
        remedies = (state.facts.diagnosis or {}).get("remedies") or ()
        if not remedies:
            return None
        index = machine.view(state).field("remedy").value
        return remedies[index] if isinstance(index, int) and index < len(remedies) else None

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        self.wizard.answer_from_widget("remedy", event.value)
        self.refresh_choice()

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        event.stop()
        self.refresh_choice()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        choice = (event.button.id or "").removeprefix("rec-")
        if choice == "log":
            self.action_show_log()
        elif choice in ("apply", "edit", "stop"):
            self.action_choose(choice)

    def action_choose(self, choice: str) -> None:
        if choice == "apply" and self.query_one("#rec-apply", Button).disabled:
            self.app.bell()
            return
        self.dismiss(choice)

    def action_show_log(self) -> None:
        self.app.push_screen(LogScreen(self.wizard.run_log_lines()))
