"""The Hub side: the token, the remote file list, and an upload that sends only what changed.

The token is read from ``HF_TOKEN`` or huggingface_hub's saved login and handed to ``HfApi``
only; it never enters an event, a log line or an error message (every text that reaches the
user passes :func:`scrub` too, in case a server echoes it). huggingface_hub is imported inside
the functions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onnx_wizard.errors import WizardError

Event = dict[str, Any]
EventSink = Callable[[Event], None]
IGNORED_REMOTE = {".gitattributes"}  # the Hub writes it into every new repo


def scrub(text: str, token: str | None) -> str:
    return text.replace(token, "***") if token else text


def find_token() -> str:
    from huggingface_hub import get_token

    token = get_token()
    if not token:
        raise WizardError(
            "No Hugging Face token: HF_TOKEN is not set and there is no saved login.",
            "Run `hf auth login` (a token with write access from "
            "https://huggingface.co/settings/tokens), or set HF_TOKEN, then rerun.",
        )
    return token


@dataclass(frozen=True)
class RemoteFile:
    path: str
    size: int
    blob_id: str
    sha256: str | None  # set for files stored with LFS


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _git_blob_sha1(path: Path) -> str:
    """The id git gives a file's content, which the Hub reports for files kept in git."""
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def same_content(local: Path, remote: RemoteFile) -> bool:
    if local.stat().st_size != remote.size:
        return False
    if remote.sha256:
        return _sha256(local) == remote.sha256
    return _git_blob_sha1(local) == remote.blob_id


@dataclass
class Comparison:
    """The staged files against the repo: what to send, what is there already, what is extra."""

    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    @property
    def to_send(self) -> list[str]:
        return self.new + self.changed


def compare(folder: Path, paths: list[str], remote: dict[str, RemoteFile]) -> Comparison:
    result = Comparison()
    for path in paths:
        theirs = remote.get(path)
        if theirs is None:
            result.new.append(path)
        elif same_content(folder / path, theirs):
            result.unchanged.append(path)
        else:
            result.changed.append(path)
    result.extra = sorted(set(remote) - set(paths) - IGNORED_REMOTE)
    return result


def remote_files(api: Any, repo_id: str) -> dict[str, RemoteFile]:
    from huggingface_hub.hf_api import RepoFile

    files: dict[str, RemoteFile] = {}
    for entry in api.list_repo_tree(repo_id, recursive=True):
        if isinstance(entry, RepoFile):
            sha = entry.lfs.sha256 if entry.lfs else None
            files[entry.path] = RemoteFile(entry.path, int(entry.size), entry.blob_id, sha)
    return files


def refuse_overwrite(repo_id: str, comparison: Comparison) -> WizardError:
    parts = []
    if comparison.changed:
        parts.append(f"would replace {', '.join(comparison.changed)}")
    if comparison.extra:
        parts.append(f"holds files this layout does not have: {', '.join(comparison.extra)}")
    return WizardError(
        f"The repo {repo_id} already has other content: this publish {'; it '.join(parts)}.",
        "Rerun with --overwrite to replace those files and delete the ones not in the layout, "
        "or publish to a new --repo.",
    )


def _status_error(status: int, repo_id: str, detail: str) -> WizardError:
    owner = repo_id.split("/")[0]
    known = {
        401: (
            "The Hub rejected the token (401 Unauthorized): it is invalid, expired or revoked.",
            "Create a token with write access at https://huggingface.co/settings/tokens, run "
            "`hf auth login` (or set HF_TOKEN) and rerun.",
        ),
        403: (
            f"The token may not write to {owner!r} (403 Forbidden).",
            f"Use a token with the Write role (or fine-grained write access to {owner}), or "
            "publish under your own account: --repo YOUR-NAME/" + repo_id.split("/")[-1] + ".",
        ),
        404: (
            f"The Hub found no namespace {owner!r} or repo {repo_id} this token can see "
            "(404 Not Found).",
            "Check the owner: it must be your user name or an organization you belong to.",
        ),
        409: (
            f"The name {repo_id} conflicts with the Hub's state (409 Conflict): the repo "
            "changed while publishing, or the name is taken.",
            "Rerun the same command (publish compares with the repo first and sends only what "
            "is missing); if the name is taken, choose another --repo.",
        ),
    }
    default = (
        f"The Hub answered {status}.",
        "Rerun in a few minutes: files already on the Hub are not sent again.",
    )
    # 412: the commit's parent moved on; for the user it is the same conflict as 409.
    problem, fix = known.get(409 if status == 412 else status, default)
    return WizardError(f"{problem}{f' The Hub said: {detail}' if detail else ''}", fix)


def explain(error: BaseException, repo_id: str, endpoint: str, token: str | None) -> WizardError:
    """A WizardError for a failure of huggingface_hub or the network, the token scrubbed."""
    import requests
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError, OfflineModeIsEnabled

    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OfflineModeIsEnabled):
            return WizardError(
                "HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is set, so huggingface_hub makes no "
                "request to the Hub.",
                "Unset HF_HUB_OFFLINE and TRANSFORMERS_OFFLINE to publish (or use --dry-run to "
                "build the layout only).",
            )
        if isinstance(seen, HfHubHTTPError) and seen.response is not None:
            detail = scrub(str(getattr(seen, "server_message", "") or ""), token).strip()
            return _status_error(seen.response.status_code, repo_id, detail[:300])
        if isinstance(seen, (requests.ConnectionError, requests.Timeout)):
            return WizardError(
                f"Could not reach the Hub at {endpoint} ({type(seen).__name__}).",
                "Check the network connection (and HF_ENDPOINT, if set), then rerun: files "
                "already sent are not sent again.",
            )
        if isinstance(seen, HFValidationError):
            return WizardError(
                f"{repo_id!r} is not a valid repo id ({scrub(str(seen), token)}).",
                "Use OWNER/NAME with letters, digits, '-', '_' and '.', e.g. me/model-ONNX.",
            )
        seen = seen.__cause__ or seen.__context__
    return WizardError(
        f"Publishing to {repo_id} failed: {type(error).__name__}: {scrub(str(error), token)[:300]}",
        "Rerun the same command: publish sends only what the repo is missing.",
    )


@contextmanager
def hub_errors(repo_id: str, endpoint: str, token: str | None) -> Iterator[None]:
    try:
        yield
    except WizardError:
        raise
    except Exception as error:
        raise explain(error, repo_id, endpoint, token) from None


@contextmanager
def quiet_progress_bars() -> Iterator[None]:
    """huggingface_hub's own bars would interleave with the per-file events."""
    from huggingface_hub.utils import (
        are_progress_bars_disabled,
        disable_progress_bars,
        enable_progress_bars,
    )

    was_disabled = are_progress_bars_disabled()
    disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            enable_progress_bars()
