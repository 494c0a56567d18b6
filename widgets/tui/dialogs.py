"""Small dialogs: offer to resume a saved session, pick a folder, and read a whole log."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DirectoryTree, Input, Log, Static

from onnx_wizard.flow.session import SessionInfo
from onnx_wizard.widgets.tui.overlays import FolderTree


class ResumeModal(ModalScreen[bool]):
    """The engine's resume offer as a question: resume it (True) or start fresh (False)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "dismiss(True)", "Resume"),
        Binding("n,escape", "dismiss(False)", "Start fresh"),
    ]

    def __init__(self, offer: SessionInfo) -> None:
        super().__init__(id="resume")
        self.offer = offer

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("[b]Resume your unfinished export?[/b]", classes="dialog-title")
            yield Static(
                f"{escape(self.offer.question())}\n\n"
                f"[$text-muted]Saved in {escape(str(self.offer.path))}[/]",
                id="resume-detail",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Resume", id="resume-yes", variant="primary", compact=True)
                yield Button("Start fresh", id="resume-no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#resume-yes", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "resume-yes")


class FolderPicker(ModalScreen[str | None]):
    """Pick a local folder from a tree (or type its path); dismisses with the path or None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, start: str | None = None) -> None:
        super().__init__(id="picker")
        begin = Path(start).expanduser() if start else Path.cwd()
        self.root = begin if begin.is_dir() else Path.cwd()

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog tall"):
            yield Static("[b]Pick a folder[/b]", classes="dialog-title")
            yield Input(str(self.root), id="picker-path", compact=True)
            yield FolderTree(str(self.root), id="picker-tree")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Use this folder", id="picker-use", variant="primary", compact=True)
                yield Button("Cancel", id="picker-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one(DirectoryTree).focus()

    def on_directory_tree_directory_selected(self, event: DirectoryTree.DirectorySelected) -> None:
        event.stop()
        self.query_one("#picker-path", Input).value = str(event.path)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        chosen = self.query_one("#picker-path", Input).value.strip()
        self.dismiss(chosen if event.button.id == "picker-use" and chosen else None)


class LogScreen(ModalScreen[None]):
    """The whole log of the last attempt, scrollable; escape closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "dismiss(None)", "Close")]

    def __init__(self, lines: list[str]) -> None:
        super().__init__(id="log-screen")
        self.lines = lines

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog tall wide"):
            yield Static(
                "[b]Export log[/b]  [$text-muted](escape closes)[/]", classes="dialog-title"
            )
            yield Log(id="full-log")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", id="log-close", compact=True)

    def on_mount(self) -> None:
        log = self.query_one(Log)
        log.write_lines(self.lines or ["(no log yet)"])
        log.focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)
