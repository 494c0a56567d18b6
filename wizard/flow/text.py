"""A step as plain text: what a terminal, a log or a static notebook viewer shows of the wizard.

The notebook widget puts this in its ``text/plain`` output so GitHub, nbviewer and terminal
IPython show the current step, its answers and results; ``demo`` prints the same words.
"""

from __future__ import annotations

from collections.abc import Sequence

from onnx_wizard.flow.steps import StepView, Table


def table_text(table: Table) -> str:
    """A table in aligned columns, with its title above and its note below."""
    rows: Sequence[tuple[str, ...]] = (table.columns, *table.rows)
    widths = [max(len(row[i]) for row in rows) for i in range(len(table.columns))]
    lines = [table.title]
    for number, row in enumerate(rows):
        lines.append(
            "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        )
        if number == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    if table.note:
        lines.append(f"  {table.note}")
    return "\n".join(lines)


def view_text(view: StepView) -> str:
    """The whole step: title, status, fields with their values, outcome, tables and buttons."""
    index, total = view.progress
    lines = [f"onnx-wizard, step {index} of {total}: {view.title} [{view.status}]"]
    for item in view.fields:
        value = item.value
        if isinstance(value, (list, tuple)):
            value = ", ".join(str(v) for v in value) or "none"
        text = "" if value is None else str(value)
        if "\n" in text:
            text = "\n    " + text.replace("\n", "\n    ")
        lines.append(f"  {item.label}: {text}")
    if view.outcome:
        lines.append(view.outcome)
    for table in view.tables:
        lines.append(table_text(table))
    if view.error:
        lines.append(f"! {view.error}")
    buttons = [a.label for a in view.actions if a.enabled]
    if buttons:
        lines.append("Actions: " + " | ".join(buttons))
    return "\n".join(lines)
