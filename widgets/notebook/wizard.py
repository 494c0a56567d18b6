"""The wizard as one ipywidget: it draws ``machine.view(state)`` and binds its actions to buttons.

No step logic lives here. A field change goes to ``machine.answer``; a button to ``engine.act``
(with ``yes=True`` when the user ticked the action's consent box); when the view names long work
(``view.work``), ``engine.work`` does it. Both run in a worker thread, so a cell that displays the
wizard returns at once and other cells run during an export; an exception there is shown in the
widget's error area. Labels, button kinds, tables and outcome sentences all come from the view.
"""

from __future__ import annotations

import contextlib
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from onnx_wizard.errors import WizardError
from onnx_wizard.flow import engine, machine, session
from onnx_wizard.flow.actions import WORK_BUSY
from onnx_wizard.flow.steps import STREAMING_WORK, ActionView, StepView, WizardState
from onnx_wizard.flow.text import view_text
from onnx_wizard.result import ExportResult
from onnx_wizard.widgets.notebook import render
from onnx_wizard.widgets.notebook.fields import Form
from onnx_wizard.widgets.notebook.run_pane import RunPane

SHOWN, HIDDEN = {"display": ""}, {"display": "none"}
BUTTON_STYLES = {"primary": "primary", "destructive": "danger", "secondary": ""}


class Wizard(widgets.VBox):
    """The onnx-wizard steps as widgets: ``Wizard(model="sample:bert-classifier")``.

    Keyword answers pre-fill the wizard (``output=``, ``opset=``, ``task=``...; checked by the
    engine on their step). ``click(name)`` presses a button by its action name, ``wait()``
    blocks until the work it started is done, ``run_to_end()`` presses the main button until
    the export is validated, and ``result`` is the :class:`~onnx_wizard.result.ExportResult`
    once it is.
    """

    def __init__(
        self,
        model: str | None = None,
        output: str | None = None,
        *,
        offer_resume: bool = True,
        **answers: Any,
    ) -> None:
        from onnx_wizard.runner.leftovers import sweep_leftovers

        sweep_leftovers()  # staging folders and locks of wizards that died are cleaned up first
        prefill = {"source": model, "output": output, **answers}
        self._state = machine.start({k: v for k, v in prefill.items() if v is not None})
        self._lock = threading.RLock()
        self._worker: threading.Thread | None = None
        self._control: engine.RunControl | None = None
        self.last_error: str | None = None
        self.run_finished_at: float | None = None
        self.session_path: Path | None = None
        self._offer: session.SessionInfo | None = None
        self._display_handle: Any = None
        self.displayed_in: int | None = None

        self.header = widgets.HTML()
        self.resume_note = widgets.HTML()
        self.resume_button = widgets.Button(description="Resume", icon="history")
        self.fresh_button = widgets.Button(description="Start fresh")
        self.resume_box = widgets.HBox(
            [self.resume_note, self.resume_button, self.fresh_button], layout=HIDDEN
        )
        self.error_area = widgets.HTML()
        self.busy_note = widgets.HTML()
        self._busy_text = "Working…"  # the engine's words for what runs now
        self.body = widgets.VBox()
        self.outcome = widgets.HTML()
        self.tables = widgets.HTML()
        self.consent = widgets.Checkbox(
            indent=False, style={"description_width": "initial"}, layout={"width": "auto"}
        )
        self.action_bar = widgets.HBox()
        self.buttons: dict[str, widgets.Button] = {}
        self._consent_for = ""
        self.run_pane = RunPane()
        self.forms: dict[Any, Form] = {}
        self.panes: dict[Any, widgets.VBox] = {}
        super().__init__(
            [
                self.header,
                self.resume_box,
                self.body,
                self.error_area,
                self.busy_note,
                self.consent,
                self.action_bar,
            ]
        )
        self.resume_button.on_click(lambda _: self.resume())
        self.fresh_button.on_click(lambda _: self._hide_offer())
        self.consent.observe(lambda _: self._guarded(self._render), names="value")
        if offer_resume:
            self._offer_resume(model, output)
        self._render()

    # ---- what tests and notebooks read ----------------------------------------------------------

    @property
    def state(self) -> WizardState:
        return self._state

    @property
    def view(self) -> StepView:
        return machine.view(self._state)

    @property
    def busy(self) -> bool:
        return self._worker is not None

    @property
    def current_pane(self) -> widgets.Widget:
        return self.body.children[0]

    @property
    def result(self) -> ExportResult | None:
        """The validated export, once the run passed (None before)."""
        return engine.result(self._state)

    def button(self, action: str) -> widgets.Button:
        """The button bound to the view's action ``action``; KeyError if the step lacks it."""
        return self.buttons[action]

    @classmethod
    def from_state(cls, state: WizardState) -> Wizard:
        """A wizard showing ``state``, e.g. the doctor's fix taken (``flow.doctoring``)."""
        wizard = cls(offer_resume=False)
        wizard._set_state(state)
        return wizard

    def click(self, action: str, *, yes: bool = False) -> None:
        """Press the button of ``action`` as a user would (``yes`` ticks its consent box)."""
        if yes:
            self.consent.value = True
        self.button(action).click()

    def wait(self, timeout: float = 600.0) -> WizardState:
        """Block until the engine work started by the last click is done; TimeoutError if not."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)
            if worker.is_alive():
                raise TimeoutError(f"the wizard was still working after {timeout:g} s")
        return self._state

    def run_to_end(
        self, until: str | None = None, timeout: float = 900.0, *, yes: bool = False
    ) -> WizardState:
        """Press the main button until DONE, RECOVER or step ``until``; RuntimeError with the
        view's reason where it cannot go on. ``yes=True`` is the caller's explicit yes to every
        consent the walk meets (replacing an output, running a model's code)."""
        deadline = time.monotonic() + timeout
        self.wait(timeout)
        while True:
            view = self.view
            if view.step.value == until or view.step.value in ("done", "recover"):
                return self._state
            primary = view.primary
            if primary is None or not primary.enabled:
                problems = "; ".join(f"{k}: {v}" for k, v in self._state.errors.items())
                reason = primary.reason if primary else ""
                raise RuntimeError(view.error or problems or reason or f"stuck on {view.step}")
            if primary.consent and not (yes or self.consent.value):
                raise RuntimeError(
                    f"'{primary.label}' needs your explicit yes: {primary.consent} Tick the box "
                    "above the buttons, or call run_to_end(yes=True)."
                )
            before = self._state
            self.click(primary.name, yes=yes and bool(primary.consent))
            self.wait(max(1.0, deadline - time.monotonic()))
            if self.last_error:
                raise RuntimeError(self.last_error)
            if self._state == before:
                problems = "; ".join(f"{k}: {v}" for k, v in self._state.errors.items())
                raise RuntimeError(self.view.error or problems or f"stuck on {view.step}")

    def cancel(self) -> None:
        """Stop the running export, or a sample model being built (its process tree ends
        within about a second; a cancelled build is told on the model question)."""
        control = self._control
        if control is None and self.busy:
            control = engine.RunControl()  # no export yet: this stops a sample build
        if control is not None:
            threading.Thread(target=control.cancel, name="onnx-wizard-cancel", daemon=True).start()

    # ---- resume ---------------------------------------------------------------------------------

    def _offer_resume(self, model: str | None, output: str | None) -> None:
        offer = engine.resume_offer(model, output)
        self._offer = offer
        if offer is None:
            return
        self.resume_note.value = f"{render.esc(offer.question())} "
        self.resume_box.layout = widgets.Layout(**SHOWN)

    def _hide_offer(self) -> None:
        self._offer = None
        self.resume_box.layout = widgets.Layout(**HIDDEN)

    def resume(self) -> None:
        """Continue the saved session offered above the wizard (the user's click is the yes)."""
        offer = self._offer
        if offer is None or self.busy:
            return
        self._hide_offer()
        self.session_path = offer.path
        self._start(lambda: self._set_state(engine.resume(offer)))

    # ---- engine calls (worker thread) -----------------------------------------------------------

    def _press_named(self, name: str) -> None:
        action = self.view.action(name)
        if action is not None:  # the step may have moved on since the button was drawn
            self._press(action)

    def _press(self, action: ActionView) -> None:
        if action.name == "cancel":
            self.cancel()
            return
        if action.name == "close":
            self.close()
            return
        yes = bool(action.consent) and bool(self.consent.value)
        self._busy_text = action.busy
        form = self.forms.get(self.view.step)
        secrets = form.take_secrets() if form is not None else {}
        self._start(lambda: self._perform(action.name, yes, secrets))

    def _perform(self, name: str, yes: bool, secrets: dict[str, str] | None = None) -> None:
        self._set_state(engine.act(self._state, name, yes=yes, secrets=secrets))
        self._settle()

    def _settle(self) -> None:
        """Do the long work the view names (checks, inspection, the export) until none is left."""
        while (work := machine.view(self._state).work) is not None:
            before = self._state
            self._busy_text = WORK_BUSY.get(work, "Working…")
            self._render()
            if work in STREAMING_WORK:
                self._export(reset=work != "quantize")  # variants follow the export's log
            else:
                self._set_state(engine.work(before))
            if self._state == before:
                return  # the engine could not move on: the view says why

    def _export(self, reset: bool = True) -> None:
        if reset:
            self.run_pane.reset()
        control = self._control = engine.RunControl()

        def on_event(event: dict[str, Any]) -> None:
            self.run_pane.on_event(event)
            if event.get("event") == "started":
                self._render()  # Cancel works from here: the child process exists

        try:
            state = engine.work(self._state, control=control, on_event=on_event)
        finally:
            self._control = None
            self.run_pane.flush()
            self.run_finished_at = time.time()
        self._set_state(state)

    def _set_state(self, state: WizardState) -> None:
        with self._lock:
            before, self._state = self._state, state
        if state.step is not before.step or state.facts != before.facts:
            self.session_path = session.save_session(state)
            self._refresh_display()
        self._render()

    def _start(self, work: Callable[[], None]) -> None:
        with self._lock:
            if self._worker is not None:
                return
            self.last_error = None
            self.error_area.value = ""
            self._worker = threading.Thread(
                target=self._guarded, args=(work, True), name="onnx-wizard", daemon=True
            )
            worker = self._worker
        self._render()
        worker.start()

    def _guarded(self, work: Callable[[], Any], worker: bool = False) -> None:
        """Run ``work``; show any exception in the error area instead of losing it."""
        try:
            work()
        except WizardError as error:
            self._show_error(error.problem, error.fix)
        except Exception as error:
            self._show_error(
                f"{type(error).__name__}: {error}",
                "This is a bug in onnx-wizard: please report it with the details below.",
                traceback.format_exc(),
            )
        finally:
            if worker:
                with self._lock:
                    self._worker = None
                self._guarded(self._render)

    def _show_error(self, problem: str, fix: str, detail: str | None = None) -> None:
        self.last_error = f"{problem} Fix: {fix}"
        self.error_area.value = render.error_box(problem, fix, detail)

    # ---- drawing --------------------------------------------------------------------------------

    def _on_input(self, name: str, raw: Any) -> None:
        def answer() -> None:
            with self._lock:
                self._state = machine.answer(self._state, name, raw)
            if self._offer is not None:
                self._hide_offer()  # the user started: resuming must not replace their answers
            self._render(editing=name)

        self._guarded(answer)

    def _pane(self, view: StepView) -> widgets.VBox:
        pane = self.panes.get(view.step)
        shows_run = pane is not None and self.run_pane.box in pane.children
        if pane is None or shows_run != (view.layout == "run"):  # PUBLISH shows it to upload
            form = self.forms.setdefault(view.step, Form(self._on_input))
            extras = [self.run_pane.box] if view.layout == "run" else []
            self.panes[view.step] = widgets.VBox([form.box, *extras, self.outcome, self.tables])
        return self.panes[view.step]

    def _render(self, editing: str | None = None) -> None:
        with self._lock:
            view, busy = self.view, self.busy
            self.header.value = render.header(view)
            pane = self._pane(view)
            self.forms[view.step].show(view.fields, editing=editing)
            self.forms[view.step].set_disabled(busy)
            if self.body.children != (pane,):
                self.body.children = (pane,)
            self.outcome.value = render.outcome(view.outcome, view.outcome_tone)
            self.tables.value = "".join(render.step_table(t) for t in view.tables)
            if view.tables and self.result is not None:
                self.tables.value += render.chart(engine.results(self._state))
                self.tables.value += render.size_accuracy_chart(engine.variant_points(self._state))
            self._draw_actions(view, busy)

    def _draw_actions(self, view: StepView, busy: bool) -> None:
        names = view.action_names
        if tuple(self.buttons) != names:
            self.buttons = {}
            for action in view.actions:
                button = widgets.Button()
                button.on_click(lambda _, name=action.name: self._press_named(name))
                self.buttons[action.name] = button
            self.action_bar.children = tuple(self.buttons.values())
        control = self._control
        for action in view.actions:
            button = self.buttons[action.name]
            button.description = action.label
            button.button_style = BUTTON_STYLES.get(action.kind, "")
            button.tooltip = action.reason or action.label
            if action.name == "cancel":
                button.disabled = not (action.enabled and control is not None and control.started)
            else:
                needs_yes = bool(action.consent) and not self.consent.value
                button.disabled = busy or not action.enabled or needs_yes
        consenting = next((a for a in view.actions if a.consent and a.enabled), None)
        wanted = consenting.consent if consenting else ""
        if wanted != self._consent_for:
            self._consent_for = wanted
            self.consent.value = False  # a yes is given to one action, never carried over
        self.consent.description = wanted
        self.consent.layout.display = "" if wanted else "none"
        blocked = [a.reason for a in view.actions if not a.enabled and a.reason and not busy]
        note = self._busy_text if busy else ""
        self.busy_note.value = f"<i>{render.esc(note)}</i>" if busy and not control else ""
        if view.error:
            self.busy_note.value += f"<div style='color:#cf222e'>{render.esc(view.error)}</div>"
        elif blocked and view.primary is not None and not view.primary.enabled:
            self.busy_note.value += f"<div style='color:#57606a'>{render.esc(blocked[0])}</div>"

    # ---- readable without the widget (GitHub, nbviewer, terminal IPython) -----------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle: dict[str, Any] = dict(super()._repr_mimebundle_(**kwargs) or {})
        view = self.view
        bundle["text/plain"] = view_text(view)
        bundle["text/html"] = render.static_view(view)
        return bundle

    def _ipython_display_(self) -> None:
        from IPython import get_ipython
        from IPython.display import display

        shell = get_ipython()
        if shell is not None and self.displayed_in == shell.execution_count:
            return  # the magic already showed it in this cell; `w = %onnx_wizard` shows it once
        self._display_handle = display(self._repr_mimebundle_(), raw=True, display_id=True)

    def show(self) -> None:
        """Display the widget with a handle, so its static copy follows the wizard's steps."""
        from IPython import get_ipython
        from IPython.display import display

        self._display_handle = display(self._repr_mimebundle_(), raw=True, display_id=True)
        shell = get_ipython()
        self.displayed_in = shell.execution_count if shell is not None else None

    def _refresh_display(self) -> None:
        """Keep the saved output (text and HTML fallback) in step with the wizard."""
        handle = self._display_handle
        if handle is not None:
            with contextlib.suppress(Exception):  # a closed front end must not break the wizard
                handle.update(self._repr_mimebundle_(), raw=True)
