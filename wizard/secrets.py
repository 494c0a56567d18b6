"""Mask credentials in text before it is printed, logged or saved: Hugging Face tokens and
``Authorization:`` header values.

Every path that shows or keeps text it did not write itself (a pasted log, a child process's
stderr, an error message) passes it through :func:`mask_secrets` first.
"""

from __future__ import annotations

import re

MASK = "***"
# A Hugging Face token: "hf_" then 30 or more letters and digits (user and org tokens, 34+ today).
HF_TOKEN = re.compile(r"\bhf_[A-Za-z0-9]{30,}")
# An Authorization header or its value as libraries print it (requests, curl -v, httpx):
# `Authorization: Bearer abc`, `'authorization': 'Bearer abc'`, `Authorization=Basic abc`.
AUTHORIZATION = re.compile(
    r"(?P<key>\bauthorization['\"]?\s*[:=]\s*['\"]?)(?P<scheme>(?:bearer|basic|token)\s+)?"
    r"[^\s'\",}]+",
    re.IGNORECASE,
)
# Environment assignments of the token variables huggingface_hub reads.
TOKEN_VARIABLE = re.compile(
    r"(?P<key>\b(?:HF_TOKEN|HUGGING_FACE_HUB_TOKEN|HUGGINGFACE_TOKEN|HF_API_TOKEN)\s*[=:]\s*"
    r"['\"]?)[^\s'\"]+"
)


def mask_secrets(text: str) -> str:
    """``text`` with every Hugging Face token and Authorization value replaced by ``***``."""
    if not text:
        return text
    text = HF_TOKEN.sub("hf_" + MASK, text)
    text = AUTHORIZATION.sub(lambda m: m["key"] + (m["scheme"] or "") + MASK, text)
    return TOKEN_VARIABLE.sub(lambda m: m["key"] + MASK, text)


def has_secret(text: str) -> bool:
    """Whether ``text`` still holds something :func:`mask_secrets` would mask."""
    return mask_secrets(text) != text
