"""Messages the app's worker threads post back to the UI thread."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from textual.message import Message

from onnx_wizard.flow.steps import WizardState


class StateReady(Message):
    """A worker finished an engine call; ``state`` is the wizard's new state."""

    def __init__(self, state: WizardState) -> None:
        super().__init__()
        self.state = state


class RunEvent(Message):
    """One event of the running export, posted from the worker thread."""

    def __init__(self, event: Mapping[str, Any]) -> None:
        super().__init__()
        self.event = event

    def can_replace(self, message: Message) -> bool:
        # Progress and memory readings only matter as the latest value: coalesce them.
        kind = self.event.get("event")
        return (
            kind in ("progress", "memory")
            and isinstance(message, RunEvent)
            and message.event.get("event") == kind
        )


class RunFinished(Message):
    """The export step returned; ``state`` holds its result (``facts.run``)."""

    def __init__(self, state: WizardState) -> None:
        super().__init__()
        self.state = state
