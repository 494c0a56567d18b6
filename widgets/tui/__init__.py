"""The terminal face of onnx-wizard: a Textual app over the engine (``onnx-wizard`` runs it).

``run_app(model, output)`` starts the wizard, pre-filled from ``--model``/``--output``. The app
draws the engine's views and sends answers and actions back; it holds no step logic. Textual is
imported only when the app starts, so importing this package costs nothing.
"""

from __future__ import annotations


def run_app(model: str | None = None, output: str | None = None) -> int:
    """Run the wizard in this terminal until the user quits; the exit code to return."""
    from onnx_wizard.widgets.tui.app import WizardApp

    app = WizardApp(prefill={"source": model, "output": output})
    result = app.run()
    return result if isinstance(result, int) else (app.return_code or 0)
