"""The recovery modal: the RECOVER step's view as a dialog over the run's log.

It draws the view's fields (the problem, why, the remedy to choose), its table (what the chosen
fix changes in the plan), the run's outcome, the consent box when the action needs a yes, and a
button per action (Apply and retry, Edit plan, Stop) plus Show log. It dismisses with the chosen
action and whether the box was ticked; the app passes both to ``engine.act``, which decides.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Select, Static

from onnx_wizard.flow import machine
from onnx_wizard.flow.steps import StepView
from onnx_wizard.widgets.tui.dialogs import LogScreen
from onnx_wizard.widgets.tui.fields import FieldRow, TableView, rich_table
from onnx_wizard.widgets.tui.theme import VARIANTS

if TYPE_CHECKING:
    from onnx_wizard.widgets.tui.app import WizardApp


class RecoveryModal(ModalScreen[tuple[str, bool]]):
    """Diagnosis, remedy choice with its plan change, consent when needed, and the actions."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "choose('apply')", "Apply and retry", show=True),
        Binding("e", "choose('edit')", "Edit plan", show=True),
        Binding("l", "show_log", "Show log", show=True),
        Binding("s", "choose('stop')", "Stop", show=True),
    ]

    def __init__(self) -> None:
        super().__init__(id="recovery")
        self._consent_for: str | None = None

    @property
    def wizard(self) -> WizardApp:
        return self.app  # type: ignore[return-value]

    @property
    def view(self) -> StepView:
        return machine.view(self.wizard.state)

    def compose(self) -> ComposeResult:
        view = self.view
        with Vertical(id="recovery-box"):
            yield Static(f"[b]{escape(view.title)}[/b]", id="recovery-title")
            with VerticalScroll(id="recovery-body"):
                problem = view.field("diagnosis").value
                yield Static(f"[b]{escape(str(problem))}[/b]", id="diagnosis")
                yield Static(escape(str(view.field("explanation").value)), id="explanation")
                if view.outcome:
                    yield Static(escape(view.outcome), id="recovery-outcome", classes="muted")
                remedies = [f for f in view.fields if f.name == "remedy"]
                if remedies:
                    yield FieldRow(remedies[0])
                yield from (TableView(table) for table in view.tables)
            # Beside the buttons, never scrolled out of sight: the yes belongs with Apply.
            yield Checkbox("", id="consent", compact=True)
            with Horizontal(id="recovery-buttons"):
                for action in view.actions:
                    if action.name != "back":
                        variant = VARIANTS[action.kind]
                        yield Button(
                            action.label,
                            id=f"rec-{action.name}",
                            variant=variant,  # type: ignore[arg-type]
                            compact=True,
                        )
                yield Button("Show log", id="rec-log", compact=True)

    def on_mount(self) -> None:
        self.refresh_choice()
        primary = self.view.primary
        if primary is not None and primary.enabled:
            self.query_one(f"#rec-{primary.name}", Button).focus()

    def refresh_choice(self) -> None:
        """Redraw what depends on the chosen remedy: its plan change, its consent, the buttons."""
        view = self.view
        for table in view.tables:
            for shown in self.query(TableView):
                if shown.table.name == table.name:
                    shown.update(rich_table(table))
        for row in self.query(FieldRow):
            row.set_error(view.field("remedy").error)
        consent = self.query_one("#consent", Checkbox)
        apply = view.action("apply")
        words = apply.consent if apply is not None else ""
        if words != self._consent_for:
            self._consent_for = words
            consent.label, consent.value = words, False  # a yes belongs to one fix only
        consent.display = bool(words)
        for action in view.actions:
            for button in self.query(f"#rec-{action.name}").results(Button):
                button.disabled = not action.enabled or (bool(action.consent) and not consent.value)
                button.tooltip = action.reason or None

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        self.wizard.answer_from_widget("remedy", event.value)
        self.call_later(self.refresh_choice)

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        event.stop()
        self.refresh_choice()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        choice = (event.button.id or "").removeprefix("rec-")
        if choice == "log":
            self.action_show_log()
        else:
            self.action_choose(choice)

    def action_choose(self, name: str) -> None:
        buttons = list(self.query(f"#rec-{name}").results(Button))
        if not buttons or buttons[0].disabled:
            self.app.bell()
            return
        self.dismiss((name, self.query_one("#consent", Checkbox).value))

    def action_show_log(self) -> None:
        self.app.push_screen(LogScreen(self.wizard.run_log_lines()))
