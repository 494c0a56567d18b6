"""Which buttons each step offers, what they say, when they work, and which need the user's yes.

One table for every face: the terminal app, the notebook and ``demo`` bind keys and buttons to
these :class:`ActionView` objects and never decide an action's label, kind or availability
themselves. Consent lives here too: an action that runs a model's own code, installs a package
or replaces files carries the words of the yes it needs (``ActionView.consent``) and a
:func:`consent_key` that names that exact action, so a yes given to one fix never covers another.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from onnx_wizard.flow import preflight_view
from onnx_wizard.flow.steps import ActionView, Facts, Status, Step

Answers = Mapping[str, Any]

PRIMARY_KEY = "ctrl+n"
BACK_KEY = "ctrl+b"
CANCEL_KEY = "escape"

# What each face shows while the engine performs an action (it may inspect, check or plan).
BUSY: dict[str, str] = {
    "next": "Working...",
    "run": "Starting the export...",
    "apply": "Applying the fix and starting the export again...",
    "edit": "Opening the plan...",
    "cancel": "Cancelling the export...",
    "finish": "Finishing...",
}
# What each face shows while the engine does the long work a view names (``StepView.work``).
WORK_BUSY: dict[str, str] = {
    "checks": "Checking your environment: Python packages, memory, disk...",
    "inspect": "Reading the model: its config, weights and tasks...",
    "export": "Starting the export...",
    "quantize": "Making and checking the quantized variants...",
    "stage": "Staging the files and writing the model card...",
    "upload": "Uploading to the Hub...",
}
# Asked before a face quits while an export runs (quitting stops it).
QUIT_DURING_RUN = (
    "An export is running. Quitting stops it and leaves the output folder as it was; your "
    "answers stay saved, so you can run it again later."
)
BUSY_NEXT: dict[Step, str] = {
    Step.SOURCE: "Reading the model and checking your environment...",
    Step.VALIDATE: "Preparing the next step...",
}


def chosen_remedy(answers: Answers, facts: Facts) -> Mapping[str, Any] | None:
    """The RECOVER step's selected remedy (the ``remedy`` answer, default the first), if any."""
    remedies = (facts.diagnosis or {}).get("remedies") or ()
    index = answers.get("remedy", 0)
    if not remedies or not isinstance(index, int) or not 0 <= index < len(remedies):
        return None
    remedy: Mapping[str, Any] = remedies[index]
    return remedy


def consent_key(step: Step, name: str, answers: Answers, facts: Facts) -> str:
    """A key naming exactly what a yes was given to ('' when the action needs no yes)."""
    if step is Step.RECOVER and name == "apply":
        remedy = chosen_remedy(answers, facts)
        if remedy and remedy.get("needs_consent"):
            changes = json.dumps(dict(remedy.get("answers") or {}), sort_keys=True)
            return f"apply:{(facts.diagnosis or {}).get('id')}:{changes}"
    if step is Step.MODEL and name == "next" and answers.get("trust_remote_code"):
        return f"trust_remote_code:{answers.get('source')}"
    if step is Step.SOURCE and name == "next" and _replaces_files(answers):
        return f"overwrite:{_resolved(answers.get('output'))}"
    if step is Step.PUBLISH and name == "upload":
        from onnx_wizard.flow import publishing

        return publishing.consent_key(answers, facts)
    if step is Step.REVIEW and name == "run":
        return preflight_view.consent_key(facts)  # "go anyway" past a pre-flight blocker
    return ""


def remote_code_key(answers: Answers) -> str:
    """The consent an export with ``trust_remote_code`` needs, however it was turned on."""
    return f"trust_remote_code:{answers.get('source')}"


def consent_text(step: Step, name: str, answers: Answers, facts: Facts) -> str:
    """The words of the yes :func:`consent_key` names, for the checkbox beside the button."""
    if not consent_key(step, name, answers, facts):
        return ""
    if step is Step.RECOVER:
        remedy = chosen_remedy(answers, facts) or {}
        if "trust_remote_code" in dict(remedy.get("answers") or {}):
            return (
                f"Yes, run the Python code that ships with {answers.get('source')} on this "
                "computer (trust_remote_code)."
            )
        return f"Yes, apply this change: {remedy.get('label')}."
    if step is Step.REVIEW:
        return preflight_view.consent_text(facts)
    if step is Step.PUBLISH:
        from onnx_wizard.flow import publishing

        return publishing.consent_text(answers, facts)
    if step is Step.MODEL:
        return (
            f"Yes, I trust {answers.get('source')}: run the Python code that ships with it on "
            "this computer (trust_remote_code)."
        )
    return (
        f"Yes, replace the files in {answers.get('output')} once the new export has passed "
        "validation."
    )


def offered(
    step: Step, status: Status, answers: Answers, facts: Facts, can_go_back: bool
) -> tuple[ActionView, ...]:
    """The step's buttons in order: Back first where there is history, then the others."""
    result: list[ActionView] = []
    running = status == "running" and step in (Step.RUN, Step.VALIDATE, Step.PUBLISH)
    if can_go_back and step is not Step.DONE and not running:
        result.append(ActionView("back", "‹ Back", "secondary", BACK_KEY, busy="Going back..."))
    result.extend(_forward(step, status, answers, facts))
    return tuple(_with_consent(step, a, answers, facts) for a in result)


def _forward(step: Step, status: Status, answers: Answers, facts: Facts) -> list[ActionView]:
    if step is Step.DONE:
        return [ActionView("close", "Close", "primary", PRIMARY_KEY, busy="Closing...")]
    if step in (Step.RUN, Step.VALIDATE) and status == "running":
        return [
            ActionView("cancel", "Cancel export", "destructive", CANCEL_KEY, busy=BUSY["cancel"])
        ]
    if step is Step.RUN and status == "cancelled":
        return [ActionView("run", "Run again ›", "primary", PRIMARY_KEY, busy=BUSY["run"])]
    if step is Step.RECOVER:
        return _recover(status, answers, facts)
    if step is Step.REVIEW:
        run = ActionView("run", "Run export ›", "primary", PRIMARY_KEY, busy=BUSY["run"])
        fix = preflight_view.first_fix(facts)
        if fix is None:
            return [run]
        label = f"Apply fix: {fix.get('label')}"
        return [ActionView("apply", label, "secondary", "a", busy="Changing the plan..."), run]
    if step is Step.PUBLISH:
        from onnx_wizard.flow import publishing

        return publishing.actions(status, answers, facts)
    label = "See the fix ›" if step is Step.VALIDATE and status == "failed" else "Next ›"
    busy = BUSY_NEXT.get(step, BUSY["next"])
    if status == "running":
        return [
            ActionView("next", label, "primary", PRIMARY_KEY, False, "Still working.", busy=busy)
        ]
    if status == "blocked":
        reason = "Resolve what the step says first."
        return [ActionView("next", label, "primary", PRIMARY_KEY, False, reason, busy=busy)]
    return [ActionView("next", label, "primary", PRIMARY_KEY, busy=busy)]


def _recover(status: Status, answers: Answers, facts: Facts) -> list[ActionView]:
    if status == "running":
        reason = "The failure is still being diagnosed."
        return [
            ActionView("apply", "Apply and retry", "primary", "a", False, reason),
            ActionView("stop", "Stop", "destructive", "s", busy="Stopping..."),
        ]
    remedy = chosen_remedy(answers, facts)
    apply = ActionView("apply", "Apply and retry", "primary", "a", busy=BUSY["apply"])
    if remedy is None:
        reason = "No fix that changes the plan is known: edit the plan yourself, or stop."
        apply = ActionView("apply", "Apply and retry", "primary", "a", False, reason)
    return [
        apply,
        ActionView("edit", "Edit plan", "secondary", "e", busy=BUSY["edit"]),
        ActionView("stop", "Stop", "destructive", "s", busy="Stopping..."),
    ]


def _with_consent(step: Step, action: ActionView, answers: Answers, facts: Facts) -> ActionView:
    text = consent_text(step, action.name, answers, facts)
    if not text:
        return action
    return replace(action, consent=text)


def _resolved(output: Any) -> str:
    return os.path.realpath(os.path.expanduser(str(output))) if output else ""


def _replaces_files(answers: Answers) -> bool:
    """An overwrite that would really replace something: the output exists and is not empty."""
    output = answers.get("output")
    if not answers.get("overwrite") or not output:
        return False
    folder = _resolved(output)
    try:
        return os.path.isdir(folder) and any(os.scandir(folder))
    except OSError:
        return False
