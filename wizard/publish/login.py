"""The Hub login for publishing: where the token comes from, and saving one a user typed.

The faces show :func:`token_source` (never the token) and, when there is none, a masked field
whose value goes straight to :func:`save_token`, which checks it with the Hub and stores it with
huggingface_hub's own ``login`` (its token file, where ``hf auth login`` puts it too).
"""

from __future__ import annotations

import os
from typing import Any

from onnx_wizard.errors import WizardError


def token_source() -> str | None:
    """Where the publish token would come from, in words; None when there is none. No request."""
    from huggingface_hub import get_token

    if os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN"):
        return "the HF_TOKEN environment variable"
    return "the saved Hugging Face login" if get_token() else None


def save_token(token: str) -> dict[str, Any]:
    """Check ``token`` with the Hub, save it as the active login, return who it belongs to.

    Returns ``{"user": name, "role": "write" | "read" | "fineGrained", "can_write": bool}``;
    raises WizardError (401, network, ...) without the token in it."""
    from huggingface_hub import constants, login, whoami

    token = token.strip()
    if not token:
        raise WizardError(
            "The token field is empty.",
            "Paste a token from https://huggingface.co/settings/tokens (one with write access).",
        )
    from onnx_wizard.publish.hub import hub_errors

    with hub_errors("your account", constants.ENDPOINT, token):
        info = whoami(token=token)
        login(token=token, add_to_git_credential=False)
    role = str(info.get("auth", {}).get("accessToken", {}).get("role") or "unknown")
    return {"user": info.get("name"), "role": role, "can_write": role in ("write", "fineGrained")}
