"""The field-kind -> widget table: how one engine ``Field`` becomes Textual widgets, and back.

One small table (:data:`INPUT_WIDGETS`) maps each input kind to a builder; :func:`answer_value`
turns a widget's change event back into the value the engine's ``machine.answer`` takes. Read-only
``info`` fields become text rows; the prerequisite checks (``check:<name>``) a status table with
copyable fixes, code (commands, snippets) a copyable box, and the view's tables rich tables. No
field is validated here and no figure formatted: the engine does both.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from rich import box
from rich.markup import escape
from rich.table import Table as RichTable
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.events import Resize
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, SelectionList, Static, Switch

from onnx_wizard.flow.steps import Field
from onnx_wizard.flow.steps import Table as ViewTable
from onnx_wizard.inspection.samples import SAMPLES
from onnx_wizard.widgets.tui.narrow import TickList, count_text, stacked, too_wide

STATUS_MARKS = {"ok": "✓ ok", "warn": "! warn", "fail": "✗ fail", "passed": "✓", "failed": "✗"}


def dom_id(name: str) -> str:
    """A Textual-safe id for a field name (field names may hold ':' and spaces)."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", name)


def _text(item: Field) -> Widget:
    return Input(
        "" if item.value is None else str(item.value),
        placeholder=_placeholder(item),
        name=item.name,
        id=f"field-{dom_id(item.name)}",
        tooltip=item.help or None,
        compact=True,
    )


def _number(item: Field) -> Widget:
    value = item.value
    shown = "" if value is None else (f"{value:g}" if isinstance(value, float) else str(value))
    return Input(
        shown,
        placeholder=item.placeholder,
        type="integer" if item.integer else "number",
        name=item.name,
        id=f"field-{dom_id(item.name)}",
        tooltip=item.help or None,
        compact=True,
    )


def _choice(item: Field) -> Widget:
    # Options carry the choice's index: choice values may be None, which Select cannot hold.
    options = [(label, index) for index, (_, label) in enumerate(item.choices)]
    current = choice_index(item, item.value)
    return Select(
        options,
        value=Select.NULL if current is None else current,
        allow_blank=current is None,
        prompt="Choose...",
        name=item.name,
        id=f"field-{dom_id(item.name)}",
        tooltip=item.help or None,
        compact=True,
    )


def _bool(item: Field) -> Widget:
    return Switch(
        bool(item.value),
        animate=False,
        name=item.name,
        id=f"field-{dom_id(item.name)}",
        tooltip=item.help or None,
    )


def _multichoice(item: Field) -> Widget:
    picked = {str(v) for v in item.value or ()}
    return TickList(
        *[(label, str(value), str(value) in picked) for value, label in item.choices],
        name=item.name,
        id=f"field-{dom_id(item.name)}",
        compact=True,
    )


def _secret(item: Field) -> Widget:
    # Masked, and never pre-filled: the engine never hands a secret back.
    return Input(
        "",
        password=True,
        name=item.name,
        id=f"field-{dom_id(item.name)}",
        tooltip=item.help or None,
        compact=True,
    )


# The table: one builder per input kind.
INPUT_WIDGETS: dict[str, Callable[[Field], Widget]] = {
    "secret": _secret,
    "text": _text,
    "path": _text,
    "number": _number,
    "choice": _choice,
    "bool": _bool,
    "multichoice": _multichoice,
}


def choice_index(item: Field, value: Any) -> int | None:
    for index, (choice, _) in enumerate(item.choices):
        if choice == value:
            return index
    return None


def answer_value(item: Field, raw: Any) -> Any:
    """The answer for ``machine.answer`` from a widget's raw value (Select index -> choice)."""
    if item.kind == "choice":
        return item.choices[raw][0] if isinstance(raw, int) else None
    if item.kind == "multichoice":
        return tuple(raw)
    return raw


def same_as_shown(item: Field, answer: Any) -> bool:
    """True when a change event only repeats what the view already holds (widgets post change
    events when they are mounted; answering those would store defaults as explicit answers)."""
    if item.kind in ("text", "path", "number"):
        return str(answer or "").strip() == ("" if item.value is None else _shown(item.value))
    if item.kind == "multichoice":
        return {str(v) for v in answer} == {str(v) for v in item.value or ()}
    return bool(answer == item.value)


def _shown(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _placeholder(item: Field) -> str:
    return item.placeholder


class FieldRow(Widget):
    """One input: its label, the widget from the table, extras, help (shown on focus), error."""

    DEFAULT_CSS = "FieldRow { height: auto; }"

    def __init__(self, item: Field) -> None:
        super().__init__(id=f"row-{dom_id(item.name)}", classes=f"field-row kind-{item.kind}")
        self.item = item

    def compose(self) -> ComposeResult:
        item = self.item
        # A star only where the user must type something (a required field with a default is set).
        star = " *" if item.required and item.default is None else ""
        yield Label(item.label + star, classes="field-label")
        with Vertical(classes="field-body"):
            with Horizontal(classes="field-line"):
                yield INPUT_WIDGETS[item.kind](item)
                if item.kind == "bool":
                    yield Label(_display(bool(item.value)), classes="switch-state")
                if item.kind == "path" or item.name == "source":
                    yield Button(
                        "Browse...",
                        id=f"browse-{dom_id(item.name)}",
                        name=item.name,
                        classes="browse",
                        compact=True,
                        tooltip="Pick a local folder",
                    )
            if item.name == "source":
                with Horizontal(classes="samples"):
                    yield Label("Try a sample:", classes="muted")
                    for name, sample in SAMPLES.items():
                        yield Button(
                            name,
                            id=f"sample-{name}",
                            classes="sample",
                            compact=True,
                            tooltip=sample.description,
                        )
            if item.kind == "multichoice":
                picked = len(item.value or ())
                yield Label(count_text(picked, len(item.choices)), classes="pick-count")
            yield Static(escape(item.help), classes="help")
            yield Static(escape(item.error or ""), classes="error")

    def on_mount(self) -> None:
        self.set_error(self.item.error)

    def on_switch_changed(self, event: Switch.Changed) -> None:
        # Say yes/no beside the switch: its two looks alone are easy to misread. (The event
        # goes on to the app, which answers it.)
        self.query_one(".switch-state", Label).update(_display(event.value))

    def on_selection_list_selected_changed(self, event: SelectionList.SelectedChanged) -> None:
        # (Not stopped: the app answers it too.)
        picked = len(event.selection_list.selected)
        self.query_one(".pick-count", Label).update(count_text(picked, len(self.item.choices)))

    def set_placeholder(self, placeholder: str) -> None:
        """The engine's words for an empty input follow other answers (the output folder
        follows the model)."""
        for entry in self.query(Input):
            entry.placeholder = placeholder

    def set_help(self, text: str) -> None:
        """The engine's help may follow the answer (a route's explanation and risk)."""
        if text != self.item.help:
            self.item = replace(self.item, help=text)
            self.query_one(".help", Static).update(escape(text))

    def set_error(self, error: str | None) -> None:
        shown = self.query_one(".error", Static)
        shown.update(escape(error or ""))
        shown.display = bool(error)
        self.set_class(bool(error), "has-error")


class InfoRow(Widget):
    """A read-only ``info`` field: label and value, with its help as a muted line."""

    DEFAULT_CSS = "InfoRow { height: auto; }"

    def __init__(self, item: Field) -> None:
        # No id from the name: info names may repeat (a check per stage of one output).
        super().__init__(classes="info-row")
        self.item = item

    def compose(self) -> ComposeResult:
        item = self.item
        yield Label(item.label, classes="field-label")
        with Vertical(classes="field-body"):
            yield Static(escape(_display(item.value)), classes="info-value")
            if item.help:
                yield Static(escape(item.help), classes="info-help muted")


class CommandBox(Widget):
    """A command line to copy: selectable text and a Copy button."""

    DEFAULT_CSS = "CommandBox { height: auto; }"

    def __init__(self, label: str, command: str, *, name: str = "command") -> None:
        super().__init__(id=f"row-{dom_id(name)}", classes="command-row")
        self.label, self.command = label, command

    def compose(self) -> ComposeResult:
        with Horizontal(classes="command-head"):
            yield Label(self.label, classes="field-label")
            yield Button("Copy", classes="copy", name=self.command, compact=True)
        yield Static(escape(self.command), classes="command")


class CheckTable(Widget):
    """The prerequisite checks: failures first, then warnings, each with its fix to copy."""

    DEFAULT_CSS = "CheckTable { height: auto; }"

    def __init__(self, checks: list[Field]) -> None:
        super().__init__(id="checks", classes="check-table")
        order = {"fail": 0, "warn": 1}
        self.checks = sorted(checks, key=lambda item: order.get(str(item.value), 2))

    def compose(self) -> ComposeResult:
        counts = {s: sum(1 for c in self.checks if c.value == s) for s in ("ok", "warn", "fail")}
        yield Static(
            f"{counts['ok']} ok · {counts['warn']} warnings · {counts['fail']} failed",
            classes="check-summary",
        )
        for item in self.checks:
            detail, _, fix = item.help.partition("\nFix: ")
            status = str(item.value)
            with Horizontal(classes=f"check check-{status}", id=f"row-{dom_id(item.name)}"):
                yield Label(STATUS_MARKS.get(status, status), classes="check-status")
                yield Label(escape(item.label), classes="check-name")
                yield Static(escape(detail), classes="check-detail")
            if fix:
                with Horizontal(classes=f"check-fix check-{status}"):
                    yield Static(escape(fix), classes="command")
                    yield Button("Copy", classes="copy", name=fix, compact=True)


class TableView(Static):
    """One of the view's tables, already formatted by the engine: laid out, never recomputed."""

    DEFAULT_CSS = "TableView { height: auto; margin-bottom: 1; }"

    def __init__(self, table: ViewTable) -> None:
        super().__init__(rich_table(table), id=f"table-{dom_id(table.name)}", classes="table")
        self.table = table

    def on_resize(self, event: Resize) -> None:
        # Too wide for the terminal (80 columns): one block per row, so no cell is cut.
        shown = rich_table(self.table)
        names = [self.table.columns[0], *(row[0] for row in self.table.rows if row)]
        if event.size.width > 0 and too_wide(shown, names, event.size.width):
            view = self.table
            rows = tuple(tuple(_mark(escape(cell)) for cell in row) for row in view.rows)
            text = stacked(view.title, view.columns, rows, event.size.width)
            self.update(text + (f"\n\n{escape(view.note)}" if view.note else ""))
        else:
            self.update(shown)


def rich_table(table: ViewTable) -> RichTable:
    shown = RichTable(
        title=f"[b]{escape(table.title)}[/b]",
        box=box.SIMPLE_HEAD,
        title_justify="left",
        caption=escape(table.note) if table.note else None,
        caption_justify="left",
        expand=False,
    )
    for number, column in enumerate(table.columns):
        # The first column holds names (files, outputs): let it wrap rather than run into the next.
        shown.add_column(escape(column), overflow="fold", ratio=2 if number == 0 else None)
    for row in table.rows:
        shown.add_row(*(_mark(escape(cell)) for cell in row))
    return shown


def _mark(cell: str) -> str:
    """Verdicts readable without colour: a tick or a cross beside the word."""
    if cell == "passed":
        return "[green]✓ passed[/]"
    if cell == "FAILED":
        return "[bold red]✗ FAILED[/]"
    return cell


def form_widgets(fields: tuple[Field, ...]) -> list[Widget]:
    """One row per field, in the view's order; checks and results grouped into tables."""
    checks = [f for f in fields if f.name.startswith("check:")]
    widgets: list[Widget] = []
    for item in fields:
        if item.hidden:
            continue
        if item.kind != "info":
            widgets.append(FieldRow(item))
        elif item.name.startswith("check:"):
            if item is checks[0]:
                widgets.append(CheckTable(checks))
        elif item.code and item.value:
            widgets.append(CommandBox(item.label, str(item.value), name=item.name))
        elif widgets and isinstance(widgets[-1], InfoBlock):
            widgets[-1].rows.append(InfoRow(item))
        else:
            widgets.append(InfoBlock(InfoRow(item)))
    return widgets


class InfoBlock(Vertical):
    """Consecutive plain info rows, kept together and spaced from what follows as one block."""

    DEFAULT_CSS = "InfoBlock { height: auto; margin-bottom: 1; }"

    def __init__(self, first: InfoRow) -> None:
        super().__init__(classes="info-block")
        self.rows = [first]

    def compose(self) -> ComposeResult:
        yield from self.rows


def _display(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
