"""The output of ``%%onnx_wizard doctor``: the diagnosis, and a button that takes its fix into
a wizard (``onnx_wizard.flow.doctoring``), which opens below on REVIEW with the plan changed.

Drawing only: the button's words, whether it works, its reason and the yes it needs come from
``fix_offer``; ``take_fix`` does the work. A refusal shows in the error area, never a traceback.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets

from onnx_wizard.errors import WizardError
from onnx_wizard.flow.doctoring import FixOffer, fix_offer, take_fix
from onnx_wizard.widgets.notebook import render


class DoctorPanel(widgets.VBox):
    """The doctor's answer for ``log``; ``take()`` (or the button) opens ``self.wizard``."""

    def __init__(self, log: str, result: Mapping[str, Any]) -> None:
        self.pasted, self.result = log, result
        self.offer: FixOffer = fix_offer(None, log, result)
        self.wizard: Any = None
        self.report = widgets.HTML(doctor_html(result))
        action = self.offer.action
        self.take_button = widgets.Button(
            description=action.label,
            button_style="primary",
            disabled=not action.enabled,
            tooltip=action.reason,
            layout={"width": "auto"},
        )
        self.consent = widgets.Checkbox(
            description=action.consent,
            indent=False,
            style={"description_width": "initial"},
            layout={"width": "auto"} if action.consent else {"display": "none"},
        )
        self.note = widgets.HTML(f"<i>{html.escape(self.offer.summary)}</i>")
        self.error_area = widgets.HTML()
        self.take_button.on_click(lambda _: self.take())
        row = widgets.HBox([self.take_button, self.consent])
        super().__init__([self.report, row, self.note, self.error_area])

    def take(self) -> Any:
        """Apply the fix (with the consent box's yes) and show the wizard below, on REVIEW."""
        from onnx_wizard.widgets.notebook.wizard import Wizard

        self.error_area.value = ""
        self.take_button.disabled = True
        try:
            state = take_fix(None, self.pasted, yes=bool(self.consent.value), result=self.result)
        except WizardError as error:
            self.error_area.value = render.error_box(error.problem, error.fix)
            self.take_button.disabled = not self.offer.action.enabled
            return None
        self.wizard = Wizard.from_state(state)
        self.children = (*self.children, self.wizard)
        return self.wizard

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        # Readable without the widget manager too (GitHub, nbviewer, terminal IPython).
        bundle: dict[str, Any] = dict(super()._repr_mimebundle_(**kwargs) or {})
        bundle["text/html"] = self.report.value
        titles = [str(d.get("title")) for d in self.result.get("diagnoses") or ()]
        bundle["text/plain"] = "\n".join(titles) or str(self.result.get("summary_text") or "")
        return bundle


def doctor_html(result: Mapping[str, Any]) -> str:
    if result.get("diagnoses"):
        return render.doctor(result)
    # The engine's never-empty answer (prose, a clean log, or what the error says).
    summary = html.escape(str(result.get("summary_text") or ""))
    return (
        "<div class='onnx-wizard-doctor'><b>No known failure was recognised in this log."
        f"</b><pre>{summary}</pre></div>"
    )
