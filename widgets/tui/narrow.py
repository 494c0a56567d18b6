"""Drawing that holds up without colour and at 80 columns: a selection list whose ticked and
unticked boxes differ as [x] and [ ], and a table that stacks its rows when it does not fit."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.segment import Segment
from rich.table import Table as RichTable
from rich.text import Text
from textual.strip import Strip
from textual.widgets import SelectionList
from textual.widgets._toggle_button import ToggleButton


class TickList(SelectionList[str]):
    """Textual draws the same glyph in both states and tells them apart by colour only; a
    monochrome terminal, a screen reader's text or a colour-blind user then sees no difference.
    Here a ticked box holds an "x" and an unticked one a blank."""

    def render_line(self, y: int) -> Strip:
        line = super().render_line(y)
        segments = list(line)
        if len(segments) < 3 or segments[1].text != ToggleButton.BUTTON_INNER:
            return line
        try:
            selection = self.get_option_at_index(self.scroll_offset.y + y)
        except Exception:  # past the last option: nothing to mark
            return line
        mark = "x" if selection.value in self._selected else " "
        segments[0] = Segment("[", segments[1].style)
        segments[1] = Segment(mark, segments[1].style)
        segments[2] = Segment("]", segments[1].style)
        return Strip(segments, line.cell_length)


def count_text(picked: int, total: int) -> str:
    return f"{picked} of {total} selected"


def too_wide(table: RichTable, names: list[str], width: int) -> bool:
    """Whether ``table`` only fits ``width`` by cutting cells: its first column (names, which
    may wrap) squeezed below 20 characters or other columns folded."""
    natural = Console(width=10_000).measure(table).maximum
    first = max((len(name) for name in names), default=0)
    return natural - first + min(first, 20) > width


def stacked(
    title: str, columns: tuple[str, ...], rows: tuple[tuple[str, ...], ...], width: int
) -> str:
    """A table too wide for the terminal as one block per row: its name in bold, then
    "Column: value" pairs packed into lines of ``width``, so nothing is cut. ``rows`` hold
    markup (escaped, verdicts marked)."""
    blocks = []
    for row in rows:
        lines = [f"[b]{row[0]}[/b]"] if row else []
        line, used = "", 0
        for column, cell in zip(columns[1:], row[1:], strict=False):
            part = f"{escape(column)}: {cell}"
            size = len(column) + 2 + Text.from_markup(cell).cell_len
            if line and used + 3 + size > width:
                lines.append(line)
                line, used = "", 0
            line, used = (f"{line} · {part}", used + 3 + size) if line else (f"  {part}", 2 + size)
        if line:
            lines.append(line)
        blocks.append("\n".join(lines))
    return f"[b]{escape(title)}[/b]\n\n" + "\n".join(blocks)
