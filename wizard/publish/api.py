"""Publish an export folder: ``prepare_publish`` (local, no request) then ``upload_staged``.

Both faces and the CLI call these two. ``prepare_publish`` stages the layout and the card and
returns what to show before asking (repo id, visibility, file tree with sizes, total, the card);
``upload_staged`` needs the user's yes first, and reports each file through ``on_event``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onnx_wizard.errors import WizardError
from onnx_wizard.planning.memory import format_size
from onnx_wizard.publish.hub import (
    Event,
    EventSink,
    compare,
    find_token,
    hub_errors,
    quiet_progress_bars,
    refuse_overwrite,
    remote_files,
    scrub,
)
from onnx_wizard.publish.layout import StagedFile, StagedLayout, stage_layout
from onnx_wizard.publish.provenance import Provenance, read_provenance


@dataclass
class PublishPlan:
    """Everything staged for one publish: show it, ask, then pass it to ``upload_staged``."""

    repo_id: str
    private: bool
    layout: StagedLayout
    provenance: Provenance
    card: str

    @property
    def folder(self) -> Path:
        return self.layout.folder

    @property
    def files(self) -> list[StagedFile]:
        return self.layout.files

    @property
    def total_bytes(self) -> int:
        return self.layout.total_bytes

    def question(self) -> str:
        """The question to ask before uploading (the faces show it beside the file tree)."""
        visibility = "private" if self.private else "public"
        return (
            f"Upload {len(self.files)} files ({format_size(self.total_bytes)}) to "
            f"{self.repo_id} ({visibility})?"
        )

    def summary_lines(self) -> list[str]:
        visibility = "private" if self.private else "public"
        lines = [
            f"Repo:       {self.repo_id} ({visibility}; an existing repo keeps its visibility)",
            f"Staged in:  {self.folder}",
            f"Files:      {len(self.files)}, {format_size(self.total_bytes)} in all",
        ]
        lines += [f"  {f.path:<44} {format_size(f.bytes):>10}  {f.role}" for f in self.files]
        if self.layout.left_out:
            lines.append("Left out:")
            lines += [f"  {item.path:<44} {item.reason}" for item in self.layout.left_out]
        lines += [f"Note: {note}" for note in (*self.layout.notes, *self.provenance.notes)]
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "repo_id": self.repo_id,
            "private": self.private,
            "url": f"https://huggingface.co/{self.repo_id}",
            **self.layout.to_dict(),
            "base_model": self.provenance.base_model,
            "task": self.provenance.task,
            "license": self.provenance.license,
            "notes": [*self.layout.notes, *self.provenance.notes],
            "card": self.card,
        }


@dataclass
class PublishResult:
    repo_id: str
    url: str
    commit_url: str | None
    uploaded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    bytes_sent: int = 0
    log: str = ""

    @property
    def up_to_date(self) -> bool:
        return not self.uploaded and not self.deleted

    def to_dict(self) -> dict[str, Any]:
        return {**vars(self), "up_to_date": self.up_to_date}


def check_repo_id(repo_id: str) -> str:
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    repo_id = repo_id.strip()
    fix = "Use OWNER/NAME, e.g. --repo my-name/distilbert-ONNX (letters, digits, '-', '_', '.')."
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise WizardError(f"--repo {repo_id!r} is not OWNER/NAME.", fix)
    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise WizardError(f"--repo {repo_id!r} is not a valid repo id: {error}", fix) from None
    return repo_id


def default_staging(export_dir: Path) -> Path:
    """Beside the export (same disk, so big files are linked, not copied), never inside it."""
    return export_dir.parent / f".{export_dir.name}.onnx-wizard-publish"


def prepare_publish(
    export_dir: str | os.PathLike[str],
    repo_id: str,
    *,
    private: bool = False,
    include_unused: bool = False,
    base_model: str | None = None,
    staging: Path | None = None,
    fetch_source_card: bool = False,
) -> PublishPlan:
    """Stage the layout and write the card. No request unless ``fetch_source_card``."""
    repo_id = check_repo_id(repo_id)
    folder = Path(export_dir).expanduser().absolute()
    layout = stage_layout(
        folder,
        staging or default_staging(folder),
        include_unused=include_unused,
        replace=staging is None,  # the default folder is ours to rebuild; a given one is not
    )
    provenance = read_provenance(
        folder, layout.config, layout.quantization, base_model=base_model, fetch=fetch_source_card
    )
    from onnx_wizard.publish.card import build_card

    card = build_card(repo_id, layout, provenance, layout.config)
    (layout.folder / "README.md").write_text(card, encoding="utf-8")
    readme = layout.folder / "README.md"
    layout.files.append(StagedFile("README.md", readme.stat().st_size, "model card"))
    return PublishPlan(repo_id, private, layout, provenance, card)


def publish_log(plan: PublishPlan) -> Path:
    """With the export's run logs in the wizard's home: never in or beside the user's folders."""
    from onnx_wizard.paths import run_logs_dir

    return run_logs_dir(plan.layout.source) / "publish.log"


def upload_staged(
    plan: PublishPlan,
    *,
    overwrite: bool = False,
    on_event: EventSink | None = None,
    endpoint: str | None = None,
    token: str | None = None,
) -> PublishResult:
    """Create the repo if needed and send what it lacks. Call only after the user said yes.

    Events: ``stage`` (label), ``file`` (path, bytes, status uploading|uploaded|unchanged,
    index, count), ``finished`` (url, commit_url). Raises WizardError with the fix for a
    missing or refused token, 403/404/409, a network failure, or a repo with other content
    (unless ``overwrite``).
    """
    from huggingface_hub import HfApi, constants

    token = token or find_token()
    endpoint = (endpoint or constants.ENDPOINT).rstrip("/")
    log_path = publish_log(plan)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", encoding="utf-8") as log:

        def emit(event: Event) -> None:
            line = json.dumps({"time": round(time.time(), 3), **event}, default=str)
            log.write(scrub(line, token) + "\n")
            log.flush()
            if on_event:
                on_event(event)

        api = HfApi(endpoint=endpoint, token=token)
        try:
            with hub_errors(plan.repo_id, endpoint, token), quiet_progress_bars():
                result = _send(api, plan, overwrite, emit)
        except WizardError as error:
            emit({"event": "failed", "problem": error.problem})
            raise
        result.log = str(log_path)
        emit({"event": "finished", "url": result.url, "commit_url": result.commit_url})
    return result


def _send(api: Any, plan: PublishPlan, overwrite: bool, emit: EventSink) -> PublishResult:
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    repo_id = plan.repo_id
    emit({"event": "stage", "label": f"creating {repo_id} if it does not exist"})
    url = str(api.create_repo(repo_id, private=plan.private, exist_ok=True, repo_type="model"))
    emit({"event": "stage", "label": "comparing with the files already in the repo"})
    paths = [f.path for f in plan.files]
    comparison = compare(plan.folder, paths, remote_files(api, repo_id))
    if (comparison.changed or comparison.extra) and not overwrite:
        raise refuse_overwrite(repo_id, comparison)
    result = PublishResult(repo_id, url, None, unchanged=list(comparison.unchanged))
    sizes = {f.path: f.bytes for f in plan.files}
    for path in comparison.unchanged:
        emit({"event": "file", "path": path, "bytes": sizes[path], "status": "unchanged"})
    deletions = comparison.extra if overwrite else []
    if not comparison.to_send and not deletions:
        emit({"event": "stage", "label": "the repo already holds these files: nothing to send"})
        return result
    additions = []
    count = len(comparison.to_send)
    for index, path in enumerate(comparison.to_send, start=1):
        event = {
            "event": "file",
            "path": path,
            "bytes": sizes[path],
            "index": index,
            "count": count,
        }
        emit({**event, "status": "uploading"})
        operation = CommitOperationAdd(path_in_repo=path, path_or_fileobj=str(plan.folder / path))
        # One file at a time, so progress is per file; large files go to LFS storage here, and
        # a rerun after an interruption finds them there and skips them.
        api.preupload_lfs_files(repo_id, additions=[operation])
        additions.append(operation)
        emit({**event, "status": "uploaded"})
    operations = [*additions, *(CommitOperationDelete(path_in_repo=p) for p in deletions)]
    emit({"event": "stage", "label": f"committing {len(operations)} change(s)"})
    variants = ", ".join(v.dtype for v in plan.layout.variants)
    commit = api.create_commit(
        repo_id,
        operations,
        commit_message=f"Publish ONNX ({variants}) with onnx-wizard",
        commit_description="\n".join(f"- {p}" for p in comparison.to_send),
    )
    result.commit_url = commit.commit_url
    result.uploaded = comparison.to_send
    result.deleted = deletions
    result.bytes_sent = sum(sizes[p] for p in comparison.to_send)
    return result
