"""How one step's view is drawn: the step bar, the form, and the read-only extras of a step."""

from __future__ import annotations

from rich import box
from rich.markup import escape
from rich.table import Table
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.events import Resize
from textual.widget import Widget
from textual.widgets import Static

from onnx_wizard.flow import machine
from onnx_wizard.flow.steps import Step, StepView, WizardState
from onnx_wizard.planning.memory import format_size
from onnx_wizard.widgets.tui import stopgaps
from onnx_wizard.widgets.tui.fields import form_widgets

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
        self._index = 1

    def show(self, state: WizardState, view: StepView) -> None:
        self._steps = machine.path(state)
        self._index = view.progress[0]
        self._draw()

    def on_resize(self, event: Resize) -> None:
        self._draw()

    def _draw(self) -> None:
        if not self._steps:
            return
        total = len(self._steps)
        count = f"  [$text-muted]{self._index}/{total}[/]"
        full = " [$text-muted]›[/] ".join(
            self._part(number, step, short=False) for number, step in enumerate(self._steps, 1)
        )
        # What the full bar takes on screen: "✓ Name" or " Name " per step, " › " between.
        plain = sum(len(SHORT_NAMES[s]) + 2 for s in self._steps) + 3 * (total - 1)
        plain += len(f"  {self._index}/{total}")
        width = self.size.width or 80
        if plain > width:  # narrow terminal: only the current step keeps its name
            full = " ".join(
                self._part(number, step, short=True) for number, step in enumerate(self._steps, 1)
            )
        self.update(full + count)

    def _part(self, number: int, step: Step, *, short: bool) -> str:
        name = SHORT_NAMES[step]
        if number < self._index:
            return "[$success]✓[/]" if short else f"[$success]✓[/] [$text-muted]{name}[/]"
        if number == self._index:
            return f"[bold $background on $primary] {name} [/]"
        return "[$text-muted]·[/]" if short else f"[$text-muted]{name}[/]"


class StepForm(Vertical):
    """The body of one ordinary step: its fields in order, then read-only extras."""

    DEFAULT_CSS = "StepForm { height: auto; }"

    def __init__(self, state: WizardState, view: StepView) -> None:
        super().__init__(id=f"form-{view.step.value}", classes="step-form")
        self.state, self.view = state, view

    def compose(self) -> ComposeResult:
        # The step's help scrolls with its fields: some steps explain a lot, and 24 rows is tight.
        yield Static(escape(self.view.help), classes="step-help")
        yield from form_widgets(self.view.fields)
        yield from extras(self.state, self.view)


def extras(state: WizardState, view: StepView) -> list[Widget]:
    """STOP-GAP content read from the engine's facts (see ``stopgaps``), per step."""
    shown: list[Widget] = []
    if view.step is Step.TASK:
        reasons = stopgaps.task_reasons(state)
        if reasons:
            text = "\n".join(f"• {escape(r)}" for r in reasons)
            shown.append(Static(f"[b]Why this task[/b]\n{text}", classes="reasons"))
    if view.step is Step.DONE:
        rows = stopgaps.accuracy_rows(state)
        if rows:
            shown.append(Static(accuracy_table(rows), classes="table", id="accuracy"))
    if view.step is Step.DONE:
        files = stopgaps.output_files(state)
        if files:
            shown.append(Static(files_table(files), classes="table", id="files"))
    return shown


def accuracy_table(rows: list[tuple[str, str, str, bool]]) -> Table:
    table = Table(title="Accuracy against PyTorch", box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("Output")
    table.add_column("Largest difference", justify="right")
    table.add_column("Tolerance", justify="right")
    table.add_column("Result")
    for name, diff, atol, passed in rows:
        table.add_row(name, diff, atol, "✓ passed" if passed else "✗ failed")
    return table


def files_table(files: list[tuple[str, int]]) -> Table:
    table = Table(title="Files", box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("File")
    table.add_column("Size", justify="right")
    for name, size in files:
        table.add_row(name, format_size(size))
    return table
