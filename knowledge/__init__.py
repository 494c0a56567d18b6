"""Known export failures as data, and the matcher that diagnoses logs against them.

Public API: ``diagnose(log) -> list[Diagnosis]``, ``render_text(diagnoses)``,
``extract_plan_command(log)``, ``load_catalogue(directory)`` / ``default_catalogue()``, and the
fixed vocabularies ``CATEGORIES`` and ``ACTIONS``. Nothing here imports a heavy library.
"""

from __future__ import annotations

from onnx_wizard.knowledge.catalogue import (
    Catalogue,
    CatalogueError,
    Entry,
    Example,
    RemedySpec,
    default_catalogue,
    load_catalogue,
)
from onnx_wizard.knowledge.matcher import Diagnosis, Remedy, diagnose
from onnx_wizard.knowledge.report import extract_plan_command, render_text
from onnx_wizard.knowledge.vocabulary import ACTIONS, CATEGORIES, CONSENT_ACTIONS, command_for

__all__ = [
    "ACTIONS",
    "CATEGORIES",
    "CONSENT_ACTIONS",
    "Catalogue",
    "CatalogueError",
    "Diagnosis",
    "Entry",
    "Example",
    "Remedy",
    "RemedySpec",
    "command_for",
    "default_catalogue",
    "diagnose",
    "extract_plan_command",
    "load_catalogue",
    "render_text",
]
