"""How one step's view is drawn: the step bar, the form, and the read-only extras of a step."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.events import Resize
from textual.widgets import Static

from onnx_wizard.flow import machine
from onnx_wizard.flow.steps import Step, StepView, WizardState
from onnx_wizard.widgets.tui.fields import TableView, form_widgets

SHORT_NAMES: dict[Step, str] = {
    Step.SOURCE: "Source",
    Step.PREREQUISITES: "Checks",
    Step.MODEL: "Model",
    Step.TASK: "Task",
    Step.ARCHITECTURE: "KV cache",
    Step.EXPORT_OPTIONS: "Options",
    Step.QUANTIZATION: "Variants",
    Step.REVIEW: "Review",
    Step.RUN: "Run",
    Step.VALIDATE: "Validate",
    Step.RECOVER: "Recover",
    Step.PUBLISH: "Publish",
    Step.DONE: "Done",
}


class StepBar(Static):
    """Where the user is: every step of this run, done ones ticked, the current one marked."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self._steps: tuple[Step, ...] = ()
        self._skipped: frozenset[Step] = frozenset()
        self._index = 1

    def show(self, state: WizardState, view: StepView) -> None:
        self._steps = machine.path(state)
        self._skipped = machine.skipped(state)
        self._index = view.progress[0]
        self._draw()

    def on_resize(self, event: Resize) -> None:
        self._draw()

    def _draw(self) -> None:
        if not self._steps:
            return
        total = len(self._steps)
        count = f"  [$text-muted]{self._index}/{total}[/]"
        parts = [
            self._part(number, step, short=False) for number, step in enumerate(self._steps, 1)
        ]
        # What the full bar takes on screen: "✓ Name" or " Name " per step, a separator between.
        names = sum(len(SHORT_NAMES[s]) + 2 for s in self._steps) + len(f"  {self._index}/{total}")
        width = self.size.width or 80
        if names + 3 * (total - 1) <= width:
            full = " [$text-muted]›[/] ".join(parts)
        elif names + (total - 1) <= width:  # 120 columns: every name still fits, closer together
            full = " ".join(parts)
        else:  # narrow terminal: only the current step keeps its name
            full = " ".join(
                self._part(number, step, short=True) for number, step in enumerate(self._steps, 1)
            )
        self.update(full + count)

    def _part(self, number: int, step: Step, *, short: bool) -> str:
        name = SHORT_NAMES[step]
        if step in self._skipped:  # passed by: neither done nor to come
            return "[$text-muted]-[/]" if short else f"[$text-muted strike]{name}[/]"
        if number < self._index:
            return "[$success]✓[/]" if short else f"[$success]✓[/] [$text-muted]{name}[/]"
        if number == self._index:
            return f"[bold $background on $primary] {name} [/]"
        return "[$text-muted]·[/]" if short else f"[$text-muted]{name}[/]"


class StepForm(Vertical):
    """The body of one ordinary step: help, its fields in order, the outcome, then its tables."""

    DEFAULT_CSS = "StepForm { height: auto; }"

    def __init__(self, view: StepView) -> None:
        super().__init__(id=f"form-{view.step.value}", classes="step-form")
        self.view = view

    def compose(self) -> ComposeResult:
        # The step's help scrolls with its fields: some steps explain a lot, and 24 rows is tight.
        yield Static(escape(self.view.help), classes="step-help")
        if self.view.outcome:
            tone = self.view.outcome_tone
            yield Static(escape(self.view.outcome), classes=f"outcome outcome-{tone}")
        yield from form_widgets(self.view.fields)
        yield from (TableView(table) for table in self.view.tables)
