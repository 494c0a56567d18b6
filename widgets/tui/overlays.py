"""Overlays of the terminal app: the keys it answers, a quit that asks first, a folder tree."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DirectoryTree, Static

# How a key name reads on screen: "ctrl+n" -> "Ctrl+N".
_KEY_WORDS = {"escape": "Esc", "question_mark": "?", "enter": "Enter", "tab": "Tab"}


def key_text(key: str) -> str:
    parts = [
        _KEY_WORDS.get(k, k.upper() if len(k) == 1 else k.capitalize()) for k in key.split("+")
    ]
    return "+".join(parts)


def key_rows(bindings: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """(key, what it does) per binding, one row per key (the first one bound wins), in order."""
    rows: dict[str, str] = {}
    for keys, description in bindings:
        for key in keys.split(","):
            if description:
                rows.setdefault(key_text(key.strip()), description)
    return list(rows.items())


class KeysScreen(ModalScreen[None]):
    """Every key the app answers, read from its bindings (so the list cannot go stale)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss(None)", "Close")
    ]

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        super().__init__(id="keys")
        self.rows = rows

    def compose(self) -> ComposeResult:
        width = max((len(key) for key, _ in self.rows), default=4)
        lines = "\n".join(
            f"[b]{escape(key):<{width}}[/b]  {escape(what)}" for key, what in self.rows
        )
        with Vertical(classes="dialog"):
            yield Static("[b]Keys[/b]  [$text-muted](Esc closes)[/]", classes="dialog-title")
            yield Static(lines, id="keys-list")
            yield Static(
                "[$text-muted]Tab and Shift+Tab move between fields and buttons; Enter in a "
                "field is the step's main button.[/]"
            )


class ConfirmQuit(ModalScreen[bool]):
    """Quitting while an export runs stops it: ask first."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "dismiss(True)", "Quit"),
        Binding("n,escape", "dismiss(False)", "Keep running"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__(id="confirm-quit")
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("[b]Quit now?[/b]", classes="dialog-title")
            yield Static(escape(self.question), id="quit-question")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Keep running", id="quit-no", variant="primary", compact=True)
                yield Button("Stop and quit", id="quit-yes", variant="error", compact=True)

    def on_mount(self) -> None:
        self.query_one("#quit-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "quit-yes")


class FolderTree(DirectoryTree):
    """Folders only, without hidden ones (.git, .cache, ...): what an output or model folder is."""

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [p for p in paths if not p.name.startswith(".") and _is_dir(p)]


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # unreadable: not offered
        return False
