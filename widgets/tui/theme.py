"""The app's two calm themes, and which one fits the terminal (light or dark background)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from textual.theme import Theme

DARK = Theme(
    name="onnx-wizard-dark",
    primary="#7FB3C8",
    secondary="#8FA7C9",
    accent="#C8A97F",
    warning="#D9B86C",
    error="#D97B7B",
    success="#8CC29A",
    foreground="#D7DEE4",
    background="#1D2329",
    surface="#242B32",
    panel="#2C343C",
    dark=True,
    variables={
        "footer-key-foreground": "#7FB3C8",
        "block-cursor-text-style": "none",
        "input-selection-background": "#7FB3C8 30%",
    },
)

LIGHT = Theme(
    name="onnx-wizard-light",
    primary="#2F6F86",
    secondary="#4A6A94",
    accent="#8A6430",
    warning="#9A6B00",
    error="#B23B3B",
    success="#2E7D4A",
    foreground="#1F2A33",
    background="#F4F5F2",
    surface="#EBEDE8",
    panel="#E1E4DE",
    dark=False,
    variables={
        "footer-key-foreground": "#2F6F86",
        "block-cursor-text-style": "none",
        "input-selection-background": "#2F6F86 25%",
    },
)


def prefers_light(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the terminal has a light background.

    ``ONNX_WIZARD_THEME=light|dark`` decides when set; otherwise ``COLORFGBG`` (set by xterm,
    rxvt, Konsole, iTerm2 and others as ``fg;bg``) does: background colours 7 and 9-15 are the
    light ones. Without either, dark: most terminals are.
    """
    env = os.environ if environ is None else environ
    chosen = env.get("ONNX_WIZARD_THEME", "").strip().lower()
    if chosen in ("light", "dark"):
        return chosen == "light"
    background = env.get("COLORFGBG", "").split(";")[-1].strip()
    if background.isdigit():
        number = int(background)
        return number == 7 or 9 <= number <= 15
    return False


def theme_name(environ: Mapping[str, str] | None = None) -> str:
    return LIGHT.name if prefers_light(environ) else DARK.name


# How an action's kind (from the engine's view) looks as a Textual button.
VARIANTS = {"primary": "primary", "destructive": "error", "secondary": "default"}
