"""One step's form: the engine's fields drawn as ipywidgets, from one small table of field kinds.

A :class:`Form` turns a tuple of :class:`~onnx_wizard.flow.steps.Field` into widgets (``KINDS``),
sends every change to a callback as ``(name, raw value)`` and shows each field's help and error. It
keeps no answers: the wizard answers the engine and hands the form the next view's fields.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets

from onnx_wizard.flow.steps import Field
from onnx_wizard.widgets.notebook import render

OnChange = Callable[[str, Any], None]
WIDE = {"description_width": "initial"}
LAYOUT = {"width": "min(640px, 95%)"}


def _text(item: Field) -> widgets.Widget:
    return widgets.Text(
        description=item.label,
        placeholder=item.placeholder,
        continuous_update=False,  # answer on Enter or leaving the box, not on every key
        style=WIDE,
        layout=LAYOUT,
    )


def _choice(item: Field) -> widgets.Widget:
    # Options carry the index, not the value: a choice value may be None or a number.
    options = [(label, index) for index, (_, label) in enumerate(item.choices)]
    return widgets.Dropdown(
        description=item.label, options=options, value=None, style=WIDE, layout=LAYOUT
    )


def _bool(item: Field) -> widgets.Widget:
    return widgets.Checkbox(description=item.label, indent=False, style=WIDE)


def _multichoice(item: Field) -> widgets.Widget:
    options = [(label, str(value)) for value, label in item.choices]
    return widgets.SelectMultiple(
        description=item.label, options=options, rows=len(options), style=WIDE, layout=LAYOUT
    )


def _secret(item: Field) -> widgets.Widget:
    # Masked; the wizard reads it when a button is pressed and empties it (never an answer).
    return widgets.Password(description=item.label, style=WIDE, layout=LAYOUT)


# The one table: field kind -> widget. "info" fields are drawn together as one HTML table.
KINDS: dict[str, Callable[[Field], widgets.Widget]] = {
    "secret": _secret,
    "text": _text,
    "path": _text,
    "number": _text,
    "choice": _choice,
    "bool": _bool,
    "multichoice": _multichoice,
}


def to_widget(item: Field) -> Any:
    """The field's value as its widget holds it."""
    value = item.value
    if item.kind in ("text", "path", "number"):
        return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
    if item.kind == "choice":
        values = [v for v, _ in item.choices]
        return values.index(value) if value in values else None
    if item.kind == "bool":
        return bool(value)
    return tuple(str(v) for v in value or ())


def from_widget(item: Field, raw: Any) -> Any:
    """What the widget holds, as the engine's ``answer`` takes it (the engine checks it)."""
    if item.kind == "choice":
        return None if raw is None else item.choices[raw][0]
    return raw


class Control:
    """One input field: its widget, help line and error line."""

    def __init__(self, item: Field, on_change: OnChange) -> None:
        self.field = item
        self.widget = KINDS[item.kind](item)
        self.error = widgets.HTML()
        help_text = f"<small style='color:#57606a'>{render.esc(item.help)}</small>"
        self.box = widgets.VBox([self.widget, widgets.HTML(help_text), self.error])
        self._quiet = False
        self.widget.observe(self._changed, names="value")
        self._on_change = on_change
        self.update(item, value=True)

    def _changed(self, change: dict[str, Any]) -> None:
        if not self._quiet and self.field.kind != "secret":
            self._on_change(self.field.name, from_widget(self.field, change["new"]))

    def update(self, item: Field, *, value: bool) -> None:
        """Show ``item``'s error, and its value when ``value`` (not the box the user is typing
        in: a rejected entry stays visible next to its error)."""
        self.field = item
        if isinstance(self.widget, widgets.Text):
            self.widget.placeholder = item.placeholder  # the output folder follows the model
        self.error.value = (
            f"<span style='color:#cf222e'>{render.esc(item.error)}</span>" if item.error else ""
        )
        if value and item.kind != "secret":
            self._quiet = True
            try:
                self.widget.value = to_widget(item)
            finally:
                self._quiet = False


def shape(items: Sequence[Field]) -> tuple[Any, ...]:
    """What decides the widgets (not their values): rebuild the form when it changes."""
    return tuple((i.name, i.kind, i.label, i.choices, i.help) for i in items)


class Form:
    """A step's fields; ``show(fields)`` rebuilds only when the field set itself changed."""

    def __init__(self, on_change: OnChange, hidden: Sequence[str] = ()) -> None:
        self.box = widgets.VBox()
        self.info = widgets.HTML()
        self.controls: dict[str, Control] = {}
        self._on_change = on_change
        self._hidden = set(hidden)
        self._shape: tuple[Any, ...] | None = None

    def show(self, items: Sequence[Field], *, editing: str | None = None) -> None:
        items = [i for i in items if i.name not in self._hidden and not i.hidden]
        info = [i for i in items if i.kind == "info"]
        inputs = [i for i in items if i.kind != "info"]
        self.info.value = render.info_table(info) if info else ""
        if shape(inputs) != self._shape:
            self.controls = {i.name: Control(i, self._on_change) for i in inputs}
            self.box.children = [self.info, *(c.box for c in self.controls.values())]
            self._shape = shape(inputs)
            return
        for item in inputs:
            self.controls[item.name].update(item, value=item.name != editing)

    def take_secrets(self) -> dict[str, str]:
        """What the secret boxes hold, for the action being pressed; the boxes are emptied."""
        secrets: dict[str, str] = {}
        for name, control in self.controls.items():
            if control.field.kind == "secret":
                if control.widget.value:
                    secrets[name] = str(control.widget.value)
                control.widget.value = ""
        return secrets

    def set_disabled(self, disabled: bool) -> None:
        for control in self.controls.values():
            control.widget.disabled = disabled
