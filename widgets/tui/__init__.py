"""The terminal face of onnx-wizard: a Textual app over the engine (``onnx-wizard`` runs it).

``run_app(model, output)`` starts the wizard, pre-filled from ``--model``/``--output``. The app
draws the engine's views and sends answers and actions back; it holds no step logic. Textual is
imported only when the app starts, so importing this package costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from onnx_wizard.flow.steps import WizardState


def run_app(
    model: str | None = None, output: str | None = None, *, state: WizardState | None = None
) -> int:
    """Run the wizard in this terminal until the user quits; the exit code to return.

    ``state`` opens a resumed session (``onnx-wizard --resume ID``) instead of a new wizard."""
    from onnx_wizard.runner.leftovers import sweep_leftovers
    from onnx_wizard.widgets.tui.app import WizardApp

    sweep_leftovers()  # staging folders and locks of wizards that died are cleaned up first
    if state is not None:
        app = WizardApp(state, offer_resume=False)
    else:
        app = WizardApp(prefill={"source": model, "output": output})
    result = app.run()
    return result if isinstance(result, int) else (app.return_code or 0)
