"""Tokens and Authorization values never reach printed or kept text."""

from __future__ import annotations

import pytest

from onnx_wizard.secrets import has_secret, mask_secrets

TOKEN = "hf_" + "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE"


@pytest.mark.parametrize(
    "text",
    [
        f"token={TOKEN} rest",
        f"HTTP 401 for url with Authorization: Bearer {TOKEN}",
        "headers={'authorization': 'Bearer abc.def-123', 'x': 1}",
        "> Authorization: Basic dXNlcjpwYXNz",
        f"export HF_TOKEN={TOKEN}",
        "HUGGING_FACE_HUB_TOKEN='short-one'",
    ],
)
def test_secrets_are_masked(text: str) -> None:
    masked = mask_secrets(text)
    assert TOKEN not in masked and "abc.def-123" not in masked
    assert "dXNlcjpwYXNz" not in masked and "short-one" not in masked
    assert "***" in masked and not has_secret(masked)


def test_ordinary_text_is_left_alone() -> None:
    text = "the authorization server said no; hf_short is not a token; see hf_hub_download"
    assert mask_secrets(text) == text
