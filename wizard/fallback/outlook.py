"""Which fallback route the wizard will take for a model, why, and how that route fared.

Reads the coverage benchmark's committed results (``data/coverage.json``, written by
``bench/coverage.py``): per modality, how many tries of each route validated, and per model
type what worked on its tiny random model. ``route_order`` sorts the routes by that measured
success; ``route_outlook`` is what ``inspect`` and the architecture step show. Light: json only.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from onnx_wizard.fallback.routes import DYNAMO, FAMILY, LINEAGE, TORCHSCRIPT, route_name

ROUTE_IDS = (LINEAGE, FAMILY, TORCHSCRIPT, DYNAMO)  # the ladder's order before any measurement
MODALITIES = ("text", "vision", "audio", "multimodal")


@cache
def measured() -> dict[str, Any]:
    """The committed benchmark results; empty when none are shipped."""
    try:
        text = resources.files("onnx_wizard.fallback").joinpath("data/coverage.json").read_text()
    except (FileNotFoundError, OSError):
        return {}
    return dict(json.loads(text))


def route_success(modality: str, data: dict[str, Any] | None = None) -> dict[str, tuple[int, int]]:
    """route -> (validated, tried) for ``modality``, from the benchmark."""
    data = measured() if data is None else data
    table = data.get("route_success", {}).get(modality, {})
    return {route: (int(v["validated"]), int(v["tried"])) for route, v in table.items()}


def _rate(figures: tuple[int, int] | None) -> float:
    return figures[0] / figures[1] if figures and figures[1] else 0.0


def route_order(modality: str, data: dict[str, Any] | None = None) -> tuple[str, ...]:
    """The fallback routes, most often validated first for this modality (stable on ties)."""
    success = route_success(modality, data)
    return tuple(sorted(ROUTE_IDS, key=lambda r: -_rate(success.get(r))))


def route_outlook(report: dict[str, Any], data: dict[str, Any] | None = None) -> dict[str, Any]:
    """For an inspection report (``ModelReport.to_dict()``): route, label, why, order, measured.

    ``measured`` gives the first route's record for the model's modality (validated, tried,
    rate); ``this_type`` what the benchmark found for this very model type, when it ran it."""
    data = measured() if data is None else data
    modality = str(report.get("modality") or "text")
    modality = modality if modality in MODALITIES else "multimodal"
    model_type = str(report.get("model_type") or "")
    seen = data.get("types", {}).get(model_type)
    this_type = dict(seen) if seen else None
    if report.get("supported"):
        success = route_success(modality, data).get("optimum")
        return {
            "route": "optimum",
            "label": "optimum's own ONNX export",
            "why": f"optimum has an ONNX config for {model_type or 'this model type'}",
            "order": ["optimum"],
            "measured": _figures(modality, success),
            "this_type": this_type,
            "measured_types": data.get("measured_types", 0),
        }
    order = route_order(modality, data)
    first = order[0]
    why = f"optimum has no ONNX config for {model_type or 'this model type'}; "
    if this_type and this_type.get("validated"):
        first = this_type["route"] if this_type["route"] in ROUTE_IDS else first
        why += f"on the benchmark's tiny {model_type} the {this_type['route']} route validated" + (
            f" (config of {this_type['related']})" if this_type.get("related") else ""
        )
        order = (first, *(r for r in order if r != first))
    elif this_type:
        why += (
            f"on the benchmark's tiny {model_type} no route validated "
            f"({this_type.get('diagnosis') or 'unknown'}); the routes are tried in order of "
            f"their success on {modality} models"
        )
    else:
        why += f"routes are tried in order of their success on {modality} models"
    success = route_success(modality, data).get(first)
    return {
        "route": first,
        "label": _label(first, (this_type or {}).get("related")),
        "why": why,
        "order": list(order),
        "measured": _figures(modality, success),
        "this_type": this_type,
        "measured_types": data.get("measured_types", 0),
    }


def _label(route: str, related: str | None) -> str:
    """The route's name; before the child has loaded the model, the related type is unknown."""
    if related or route not in (LINEAGE, FAMILY):
        return route_name(route, related)
    if route == LINEAGE:
        return "optimum with the ONNX config of the registered type its classes derive from"
    return "optimum with the ONNX config of a registered type of the same family"


def _figures(modality: str, success: tuple[int, int] | None) -> dict[str, Any]:
    validated, tried = success or (0, 0)
    return {
        "modality": modality,
        "validated": validated,
        "tried": tried,
        "rate": round(validated / tried, 3) if tried else None,
    }


def describe_outlook(outlook: dict[str, Any]) -> str:
    """One or two plain lines for ``inspect`` and the architecture step."""
    figures = outlook["measured"]
    if figures["tried"]:
        odds = (
            f"on the coverage benchmark it validated {figures['validated']} of "
            f"{figures['tried']} {figures['modality']} models tried ({figures['rate']:.0%})"
        )
    else:
        odds = f"the coverage benchmark has no {figures['modality']} figures for it yet"
    return f"{outlook['label']}: {outlook['why']}. Odds: {odds}."


def outlook_for(report: dict[str, Any]) -> dict[str, Any] | None:
    """``route_outlook`` for a transformers model optimum cannot export; None otherwise."""
    if report.get("supported", False) or report.get("library", "transformers") != "transformers":
        return None
    return route_outlook(report)


def outlook_text(outlook: dict[str, Any]) -> str:
    """The ``Route`` line of ``onnx-wizard inspect``, wrapped like the report's other lines."""
    import textwrap

    return textwrap.fill(
        describe_outlook(outlook) + f" Order --auto-fix tries: {', '.join(outlook['order'])}.",
        100,
        initial_indent="Route        ",
        subsequent_indent=" " * 13,
        break_on_hyphens=False,
    )


__all__ = [
    "describe_outlook",
    "measured",
    "outlook_for",
    "outlook_text",
    "route_order",
    "route_outlook",
    "route_success",
]
