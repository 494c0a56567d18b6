"""The wizard's PUBLISH step: its fields, buttons and tables, and the stage and upload work.

Glue between the flow and ``onnx_wizard.publish``. The step moves through ``facts.publish``'s
status: ready (ask repo id and visibility) -> staging (work "stage": ``prepare_publish``) ->
staged (the file tree, what was left out, the card; "Upload" needs the user's yes) -> uploading
(work "upload": ``upload_staged``, one run-pane line per file) -> ok (DONE shows the URL), or
failed (the problem and fix; try again or go back), or kept ("Finish without uploading").

A token typed in the masked field arrives as a *secret* of the action (``engine.act(...,
secrets=)``), goes straight to ``save_token`` and is dropped: it never enters the answers, the
facts, the session file, an event or a log line.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from onnx_wizard.errors import WizardError
from onnx_wizard.flow.steps import (
    FIELD_HELP,
    ActionView,
    Facts,
    Field,
    Status,
    Table,
    WizardState,
    Work,
)
from onnx_wizard.planning.memory import format_size

Answers = Mapping[str, Any]
Event = dict[str, Any]
PRIMARY_KEY = "ctrl+n"

# PublishPlan objects by staged folder: upload_staged needs the object, the facts hold its dict.
_PLANS: dict[str, Any] = {}
_PLANS_LOCK = threading.Lock()


def publish_facts(facts: Facts) -> Mapping[str, Any]:
    return facts.publish or {}


def staged_plan(answers: Answers, facts: Facts) -> Mapping[str, Any] | None:
    """The staged plan, if it still matches the repo id and visibility answered now."""
    plan = publish_facts(facts).get("plan")
    if not plan:
        return None
    same = plan.get("repo_id") == answers.get("repo_id") and bool(plan.get("private")) == bool(
        answers.get("private", True)
    )
    return plan if same else None


def publish_status(answers: Answers, facts: Facts) -> tuple[Status, str | None]:
    status = publish_facts(facts).get("status")
    if status in ("staging", "uploading"):
        return "running", None
    if status in ("ok", "kept"):
        return "success", None
    if status == "failed":
        return "failed", None
    return "ready", None


def pending_work(facts: Facts) -> Work | None:
    status = publish_facts(facts).get("status")
    if status == "staging":
        return "stage"
    if status == "uploading":
        return "upload"
    return None


# ---- the form ------------------------------------------------------------------------------


def _info(name: str, label: str, value: Any, code: bool = False) -> Field:
    return Field(name, "info", label, value=value, default=value, code=code)


def publish_fields(answers: Answers, facts: Facts) -> tuple[Field, ...]:
    publish = publish_facts(facts)
    fields = [
        _info("layout", "Layout", FIELD_HELP["layout"]),
        Field("repo_id", "text", "Hub repository", FIELD_HELP["repo_id"], required=True),
        Field("private", "bool", "Private repository", FIELD_HELP["private"], default=True),
    ]
    source = publish.get("token_source")
    if source:
        fields.append(_info("token_source", "Token", f"from {source}"))
    else:
        fields.append(Field("token", "secret", "Hugging Face token", FIELD_HELP["token"]))
    plan = staged_plan(answers, facts)
    if plan:
        visibility = "private" if plan.get("private") else "public"
        fields += [
            _info("staged_repo", "Repository", f"{plan['repo_id']} ({visibility})"),
            _info("staged_folder", "Staged in", plan.get("staged")),
            _info("card", "Model card (README.md)", plan.get("card") or "", code=True),
        ]
    return tuple(fields)


def actions(status: Status, answers: Answers, facts: Facts) -> list[ActionView]:
    """PUBLISH's buttons after Back: Prepare, then Upload (needs a yes) or finish without it."""
    publish = publish_facts(facts)
    if status == "running":
        busy = "Uploading..." if publish.get("status") == "uploading" else "Preparing..."
        return [ActionView("upload", "Upload ›", "primary", PRIMARY_KEY, False, busy)]
    plan = staged_plan(answers, facts)
    prepare = ActionView(
        "stage", "Prepare files ›", "primary", PRIMARY_KEY, busy="Staging the files..."
    )
    if plan is None:
        return [prepare]
    label = "Try the upload again ›" if publish.get("phase") == "upload" else "Upload ›"
    return [
        ActionView("upload", label, "primary", PRIMARY_KEY, busy="Starting the upload..."),
        ActionView("finish", "Finish without uploading", "secondary", busy="Finishing..."),
    ]


def consent_key(answers: Answers, facts: Facts) -> str:
    plan = staged_plan(answers, facts)
    if not plan:
        return ""
    files = len(plan.get("files") or ())
    return f"upload:{plan['repo_id']}:{plan.get('private')}:{files}:{plan.get('total_bytes')}"


def consent_text(answers: Answers, facts: Facts) -> str:
    plan = staged_plan(answers, facts) or {}
    files = len(plan.get("files") or ())
    visibility = "private" if plan.get("private") else "public"
    size = format_size(int(plan.get("total_bytes") or 0))
    return f"Yes, upload {files} files ({size}) to {plan.get('repo_id')} as {visibility}."


# ---- tables and sentences ------------------------------------------------------------------


def publish_tables(facts: Facts) -> tuple[Table, ...]:
    plan = publish_facts(facts).get("plan")
    if not plan:
        return ()
    rows = tuple(
        (str(f.get("path")), format_size(int(f.get("bytes") or 0)), str(f.get("role") or ""))
        for f in plan.get("files") or ()
    )
    total = f"{len(rows)} files, {format_size(int(plan.get('total_bytes') or 0))} in all"
    notes = " ".join(str(n) for n in plan.get("notes") or ())
    staged = Table("staged", "Staged files", ("Path", "Size", "Role"), rows, f"{total}. {notes}")
    left = tuple((str(x.get("path")), str(x.get("reason"))) for x in plan.get("left_out") or ())
    if not left:
        return (staged,)
    return (staged, Table("left_out", "Left out", ("Path", "Why"), left))


def publish_outcome(facts: Facts) -> tuple[str, str]:
    publish = publish_facts(facts)
    status = publish.get("status")
    if status == "failed":
        return f"{publish.get('problem')} Fix: {publish.get('fix')}", "bad"
    plan = publish.get("plan")
    if status == "staged" and plan:
        return (
            f"Staged {len(plan.get('files') or ())} files in {plan.get('staged')}. Nothing is "
            "sent until you tick the box and press Upload.",
            "good",
        )
    return "", ""


def done_sentence(answers: Answers, facts: Facts) -> str:
    if not answers.get("publish"):
        return ""
    publish = publish_facts(facts)
    if publish.get("status") == "ok":
        return f"Published to {publish.get('url')}."
    if publish.get("status") == "kept":
        return str(publish.get("detail") or "")
    return ""


# ---- the engine side: actions and work -----------------------------------------------------


def with_publish(state: WizardState, **changes: Any) -> WizardState:
    publish = {**publish_facts(state.facts), **changes}
    return replace(state, facts=replace(state.facts, publish=publish))


def enter(state: WizardState) -> WizardState:
    """On arriving at PUBLISH: say where the token would come from (no request, no token)."""
    if state.facts.publish is not None:
        return state
    from onnx_wizard.publish.login import token_source

    return with_publish(state, status="ready", token_source=token_source())


def cut_off(state: WizardState) -> WizardState:
    """A session resumed during staging or an upload: back to the choice, nothing restarted.
    (A rerun of the upload sends only what the repo lacks.)"""
    publish = publish_facts(state.facts)
    if publish.get("status") not in ("staging", "uploading"):
        return state
    return with_publish(state, status="staged" if publish.get("plan") else "ready")


def take_secret(state: WizardState, secrets: Mapping[str, str] | None) -> WizardState:
    """A typed token: check it and save it with huggingface_hub's login, then forget it."""
    typed = str((secrets or {}).get("token") or "").strip()
    if not typed or publish_facts(state.facts).get("token_source"):
        return state
    from onnx_wizard.publish.login import save_token, token_source

    try:
        who = save_token(typed)
    except WizardError as error:  # its texts never hold the token
        return replace(state, errors={**state.errors, "token": f"{error.problem} Fix: {error.fix}"})
    finally:
        del typed
    errors = {k: v for k, v in state.errors.items() if k != "token"}
    state = replace(state, errors=errors)
    return with_publish(state, token_source=token_source(), user=who.get("user"))


def act(state: WizardState, action: str, secrets: Mapping[str, str] | None) -> WizardState:
    """PUBLISH's own actions: stage, upload, finish (consent was checked by ``engine.act``)."""
    state = take_secret(state, secrets)
    if "token" in state.errors:
        return replace(state, attempted=True)
    if action == "stage":
        if not state.answers.get("repo_id"):
            errors = {**state.errors, "repo_id": "Hub repository is required (owner/name)."}
            return replace(state, errors=errors, attempted=True)
        return with_publish(state, status="staging", phase="stage")
    if action == "upload":
        if not publish_facts(state.facts).get("token_source"):
            why = "No Hugging Face token: type one here, or set HF_TOKEN, or run `hf auth login`."
            return replace(state, errors={**state.errors, "token": why}, attempted=True)
        return with_publish(state, status="uploading", phase="upload")
    plan = publish_facts(state.facts).get("plan") or {}
    detail = f"Not uploaded. The staged folder is kept: {plan.get('staged')}"
    return with_publish(state, status="kept", detail=detail)


def stage(state: WizardState, output: str) -> WizardState:
    """The ``stage`` work: build the layout and the card beside the export; no upload."""
    from onnx_wizard.publish.api import prepare_publish

    answers = state.answers
    try:
        plan = prepare_publish(
            output,
            str(answers.get("repo_id")),
            private=bool(answers.get("private", True)),
            fetch_source_card=True,
        )
    except WizardError as error:
        return with_publish(
            state, status="failed", phase="stage", problem=error.problem, fix=error.fix, plan=None
        )
    data = plan.to_dict()
    with _PLANS_LOCK:
        _PLANS[str(data["staged"])] = plan
    return with_publish(state, status="staged", plan=data, problem=None, fix=None)


def upload(
    state: WizardState, output: str, on_event: Callable[[Event], None] | None = None
) -> WizardState:
    """The ``upload`` work: send the staged files, one run-pane line per file."""
    from onnx_wizard.publish.api import upload_staged

    emit = on_event or (lambda event: None)
    consented = dict(publish_facts(state.facts).get("plan") or {})
    with _PLANS_LOCK:
        plan = _PLANS.get(str(consented.get("staged")))
    if plan is None:  # a restarted kernel or a resumed session: stage again, the same way
        from onnx_wizard.publish.api import prepare_publish

        plan = prepare_publish(
            output, consented["repo_id"], private=bool(consented["private"]), fetch_source_card=True
        )
    if [f.path for f in plan.files] != [f.get("path") for f in consented.get("files") or ()]:
        return with_publish(
            state,
            status="failed",
            problem="The staged files changed since you said yes to them.",
            fix="Press Prepare files again and check the new list.",
        )
    emit({"event": "stage", "stage": "upload", "label": f"Uploading to {plan.repo_id}"})

    def events(event: Event) -> None:
        kind = event.get("event")
        if kind == "stage":
            emit({"event": "log", "line": str(event.get("label"))})
        elif kind == "file":
            size = format_size(int(event.get("bytes") or 0))
            where = f"[{event['index']}/{event['count']}] " if event.get("index") else ""
            emit(
                {"event": "log", "line": f"{where}{event.get('status')}: {event['path']} ({size})"}
            )
            if event.get("status") == "uploaded":
                emit({"event": "progress", "fraction": event["index"] / max(1, event["count"])})
        elif kind == "failed":
            emit({"event": "log", "line": f"Failed: {event.get('problem')}"})

    try:
        result = upload_staged(plan, overwrite=False, on_event=events)
    except WizardError as error:
        return with_publish(
            state, status="failed", phase="upload", problem=error.problem, fix=error.fix
        )
    data = result.to_dict()
    emit({"event": "log", "line": f"Published: {data['url']}"})
    return with_publish(
        state,
        status="ok",
        url=data["url"],
        detail=f"Uploaded to {data['url']}",
        result=data,
        problem=None,
        fix=None,
    )
