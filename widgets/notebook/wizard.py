"""The wizard as one ipywidget: it draws ``machine.view(state)`` and sends answers and actions.

No step logic lives here. Every change of a field goes to ``machine.answer``, every button to
``engine.act`` (or ``engine.run_export_step`` on RUN), and the pane is redrawn from the next view.
Engine calls run in a worker thread, so a cell that displays the wizard returns at once and other
cells run during an export; an exception there is shown in the widget's error area. Buttons are
enabled from the view's actions and the worker's state, like aiidalab's wizard steps.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from onnx_wizard.errors import WizardError
from onnx_wizard.flow import engine, machine, session
from onnx_wizard.flow.steps import Step, StepView, WizardState
from onnx_wizard.widgets.notebook import render
from onnx_wizard.widgets.notebook.fields import Form
from onnx_wizard.widgets.notebook.run_pane import RunPane

FORWARD = {"next": "Next", "run": "Run export", "finish": "Finish"}
SHOWN, HIDDEN = {"display": ""}, {"display": "none"}


def forward_action(view: StepView) -> str | None:
    """The view's action the main button performs (Next, Run export or Finish), if any."""
    return next((a for a in view.actions if a in FORWARD), None)


class Wizard(widgets.VBox):
    """The onnx-wizard steps as widgets: ``Wizard(model="sample:bert-classifier")``.

    Keyword answers pre-fill the wizard (``output=``, ``opset=``, ``task=``...; checked by the
    engine on their step). ``wait()`` blocks until the engine work started by a click is done;
    ``run_to_end()`` clicks the main button until the export is validated.
    """

    def __init__(
        self,
        model: str | None = None,
        output: str | None = None,
        *,
        offer_resume: bool = True,
        **answers: Any,
    ) -> None:
        prefill = {"source": model, "output": output, **answers}
        self._state = machine.start({k: v for k, v in prefill.items() if v is not None})
        self._lock = threading.RLock()
        self._worker: threading.Thread | None = None
        self._run: Any = None  # the export handle, while one runs (for Cancel)
        self.last_error: str | None = None
        self.run_finished_at: float | None = None
        self.session_path: Path | None = None
        self._resumable: tuple[Path, WizardState] | None = None

        self.header = widgets.HTML()
        self.resume_note = widgets.HTML()
        self.resume_button = widgets.Button(description="Resume", icon="history")
        self.resume_box = widgets.HBox([self.resume_note, self.resume_button], layout=HIDDEN)
        self.error_area = widgets.HTML()
        self.busy_note = widgets.HTML()
        self.body = widgets.VBox()
        self.back_button = widgets.Button(description="Back", icon="arrow-left")
        self.next_button = widgets.Button(description="Next", button_style="primary")
        self.cancel_button = widgets.Button(description="Cancel", button_style="warning")
        self.apply_button = widgets.Button(description="Apply", button_style="primary")
        self.edit_button = widgets.Button(description="Edit")
        self.stop_button = widgets.Button(description="Stop")
        self.consent = widgets.Checkbox(
            description="I agree: this fix runs code from the internet or changes my environment",
            indent=False,
            style={"description_width": "initial"},
            layout={"width": "auto"},
        )
        self.diff = widgets.HTML()
        self.results = widgets.HTML()
        self.run_pane = RunPane()
        self.forms: dict[Step, Form] = {}
        self.panes: dict[Step, widgets.VBox] = {}
        self._consent_for: Any = None
        buttons = widgets.HBox([self.back_button, self.next_button, self.cancel_button])
        super().__init__(
            [self.header, self.resume_box, self.body, self.error_area, self.busy_note, buttons]
        )

        self.back_button.on_click(lambda _: self._act("back"))
        self.next_button.on_click(lambda _: self._forward())
        self.cancel_button.on_click(lambda _: self.cancel())
        self.apply_button.on_click(lambda _: self._act("apply"))
        self.stop_button.on_click(lambda _: self._act("stop"))
        self.edit_button.on_click(lambda _: self._start(self._edit))
        self.resume_button.on_click(lambda _: self.resume())
        self.consent.observe(lambda _: self._guarded(self._render), names="value")
        if offer_resume:
            self._offer_resume(output)
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

    def wait(self, timeout: float = 600.0) -> WizardState:
        """Block until the engine work started by the last click is done; TimeoutError if not."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)
            if worker.is_alive():
                raise TimeoutError(f"the wizard was still working after {timeout:g} s")
        return self._state

    def run_to_end(self, until: str | None = None, timeout: float = 900.0) -> WizardState:
        """Click the main button (Next, Run export, Finish) until DONE, RECOVER or step ``until``.

        The same calls the buttons make; RuntimeError with the view's reason where it stops."""
        deadline = time.monotonic() + timeout
        self.wait(timeout)
        while True:
            view = self.view
            if view.step.value == until or view.step in (Step.DONE, Step.RECOVER):
                return self._state
            if self.next_button.disabled:
                problems = "; ".join(f"{k}: {v}" for k, v in self._state.errors.items())
                raise RuntimeError(view.error or problems or f"stuck on {view.step.value}")
            before = self._state
            self.next_button.click()
            self.wait(max(1.0, deadline - time.monotonic()))
            if self.last_error:
                raise RuntimeError(self.last_error)
            if self._state == before:
                problems = "; ".join(f"{k}: {v}" for k, v in self._state.errors.items())
                raise RuntimeError(self.view.error or problems or f"stuck on {view.step.value}")

    def cancel(self) -> None:
        """Stop the running export (its process tree ends within about a second)."""
        run = self._run
        if run is not None:
            self._guarded(run.cancel)

    # ---- session ------------------------------------------------------------------------------

    def _offer_resume(self, output: str | None) -> None:
        found = session.find_resumable(output)
        self._resumable = found
        if found is None:
            return
        path, state = found
        source = state.answers.get("source") or "a model"
        self.resume_note.value = (
            f"An unfinished session for <b>{render.esc(source)}</b> stopped at "
            f"<b>{render.esc(machine.view(state).title)}</b> (saved in "
            f"<code>{render.esc(path)}</code>)."
        )
        self.resume_box.layout = widgets.Layout(**SHOWN)

    def resume(self) -> None:
        """Continue the saved session offered above the wizard."""
        found = self._resumable
        if found is None or self.busy:
            return
        self.session_path, state = found
        self._resumable = None
        self.resume_box.layout = widgets.Layout(**HIDDEN)
        self._state = state
        # The engine redoes the work the saved step waits for (checks, the plan command).
        self._start(lambda: self._set_state(engine.refresh(self._state)))

    # ---- engine calls (worker thread) -----------------------------------------------------------

    def _act(self, action: str) -> None:
        if action in self.view.actions:
            self._start(lambda: self._do(action))

    def _forward(self) -> None:
        view = self.view
        if view.step is Step.RUN and view.status == "running":
            self._start(self._export)  # a resumed or interrupted run: start it (again)
        elif forward_action(view):
            self._act(str(forward_action(view)))

    def _do(self, action: str) -> None:
        state = engine.act(self._state, action)
        self._set_state(state)
        if state.step is Step.RUN and machine.view(state).status == "running":
            self._export()

    def _export(self) -> None:
        self.run_pane.reset()

        def keep(run: Any) -> None:
            self._run = run
            self._render()

        def on_event(event: dict[str, Any]) -> None:
            self.run_pane.on_event(event)
            if event.get("event") == "started":
                self._render()  # Cancel works from here: the child process exists

        try:
            state = engine.run_export_step(self._state, on_event=on_event, on_run=keep)
        finally:
            self._run = None
            self.run_pane.flush()
            self.run_finished_at = time.time()
        self._set_state(state)

    def _edit(self) -> None:
        self._set_state(engine.back_to(self._state, Step.REVIEW))

    def _set_state(self, state: WizardState) -> None:
        with self._lock:
            before, self._state = self._state, state
        if state.step is not before.step or state.facts != before.facts:
            self.session_path = session.save_session(state)
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

    # ---- drawing ------------------------------------------------------------------------------

    def _on_input(self, name: str, raw: Any) -> None:
        def answer() -> None:
            with self._lock:
                self._state = machine.answer(self._state, name, raw)
            self._render(editing=name)

        self._guarded(answer)

    def _pane(self, step: Step) -> widgets.VBox:
        if step not in self.panes:
            hidden = ("recovery",) if step is Step.RECOVER else ()  # Apply/Stop answer it
            form = self.forms[step] = Form(self._on_input, hidden)
            extras: list[widgets.Widget] = []
            if step is Step.RUN:
                extras = [self.run_pane.box]
            elif step in (Step.VALIDATE, Step.DONE):
                extras = [self.results]
            elif step is Step.RECOVER:
                row = widgets.HBox([self.apply_button, self.edit_button, self.stop_button])
                extras = [self.diff, self.consent, row]
            elif step is Step.PUBLISH:
                note = "Uploading comes with a later release: Finish records these choices."
                extras = [widgets.HTML(f"<i>{note}</i>")]
            self.panes[step] = widgets.VBox([form.box, *extras])
        return self.panes[step]

    def _render(self, editing: str | None = None) -> None:
        with self._lock:
            view, busy = self.view, self.busy
            self.header.value = render.header(view)
            pane = self._pane(view.step)
            self.forms[view.step].show(view.fields, editing=editing)
            self.forms[view.step].set_disabled(busy)
            if self.body.children != (pane,):
                self.body.children = (pane,)
            if view.step in (Step.VALIDATE, Step.DONE):
                self._draw_results()
            if view.step is Step.RECOVER:
                self._draw_recovery(view, busy)
            self._draw_buttons(view, busy)

    def _draw_buttons(self, view: StepView, busy: bool) -> None:
        action = forward_action(view)
        restart = view.step is Step.RUN and view.status == "running" and not busy
        self.next_button.description = "Start export" if restart else FORWARD.get(action or "", "")
        self.next_button.disabled = busy or not (action or restart)
        self.next_button.layout.display = "" if (action or restart) else "none"
        self.back_button.disabled = busy or "back" not in view.actions
        self.cancel_button.layout.display = "" if "cancel" in view.actions else "none"
        self.cancel_button.disabled = self._run is None or not self.run_pane.started
        self.busy_note.value = "<i>Working…</i>" if busy and not self._run else ""
        if view.error:
            self.busy_note.value += f"<div style='color:#cf222e'>{render.esc(view.error)}</div>"

    def _draw_results(self) -> None:
        facts = self._state.facts
        rows = engine.results(self._state)
        summary = (facts.validation or {}).get("summary")
        self.results.value = (
            "<h4 style='margin:6px 0'>Results</h4>"
            + (f"<div>{render.esc(summary)}</div>" if summary else "")
            + render.variants_table(rows)
            + render.chart(rows)
        )

    def _draw_recovery(self, view: StepView, busy: bool) -> None:
        remedies = (self._state.facts.diagnosis or {}).get("remedies") or ()
        chosen = next((f.value for f in view.fields if f.name == "remedy"), None)
        remedy = remedies[chosen] if isinstance(chosen, int) and chosen < len(remedies) else {}
        if chosen != self._consent_for:
            self._consent_for = chosen
            self.consent.value = False  # consent is given to one fix, not carried to another
        self.diff.value = render.plan_diff(remedy["diff"]) if remedy.get("diff") else ""
        needs_consent = bool(remedy.get("needs_consent"))
        self.consent.layout.display = "" if needs_consent else "none"
        self.apply_button.disabled = (
            busy or "apply" not in view.actions or (needs_consent and not self.consent.value)
        )
        self.stop_button.disabled = busy or "stop" not in view.actions
        self.edit_button.disabled = busy or "back" not in view.actions
