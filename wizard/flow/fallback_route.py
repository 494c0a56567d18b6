"""The wizard's side of the fallback routes, for a model type optimum cannot export.

The model step names the route the export will take, why, and how that route fared on the
coverage benchmark (``fallback.outlook``), and lets the user pick another one, each with its
risk. This module turns that choice into the export child's ``fallback`` job and into the
equivalent ``onnx-wizard export --route`` command, and says which export options a route cannot
honour (so the options step refuses them instead of dropping them). Light: no framework import.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from onnx_wizard.fallback.outlook import describe_outlook, route_outlook
from onnx_wizard.fallback.routes import (
    AUTO,
    auto_offer,
    cache_applies,
    choose_routes,
    fallback_job,
    offer_id,
    unhonoured_options,
)

Answers = Mapping[str, Any]
OPTIMUM = "optimum"  # the route answer that keeps optimum's own export (a supported type)


def applies(report: Mapping[str, Any] | None) -> bool:
    """A transformers model optimum cannot export (other libraries have no fallback route)."""
    return bool(
        report is not None
        and not report.get("supported", True)
        and report.get("library", "transformers") == "transformers"
    )


def offers(
    report: Mapping[str, Any] | None, task: Any = None, *, instead: bool = False
) -> list[dict[str, Any]]:
    """The routes that can still work for this model and task, best first (auto leads).

    ``instead``: for a type optimum supports whose export failed, the ladder is the one route
    offered in place of optimum's own export (the recovery step's last fix)."""
    if report is None or report.get("library", "transformers") != "transformers":
        return []
    facts = dict(report)
    if task:
        facts["task"] = str(task)
    if not applies(report):
        return [auto_offer(facts)] if instead else []
    return choose_routes(facts)


def with_cache_choice(report: dict[str, Any]) -> dict[str, Any]:
    """The report, with the KV-cache question open for a decoder a fallback route exports.

    optimum's task table has no ``-with-past`` task for a type it cannot export, yet the routes
    export a decoder with its KV cache (and fall back to none only when that fails validation),
    so the KV-cache step asks, as it does for a supported generator."""
    if applies(report) and cache_applies(report):
        return {**report, "with_past_applies": True, "with_past": True}
    return report


def chosen(answers: Answers, report: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The offer the answers pick (auto unless the user chose another); None when none applies."""
    wanted = str(answers.get("route") or AUTO)
    supported = not applies(report)
    if supported and answers.get("route") != AUTO:
        return None  # optimum's own export, unless a fix chose the ladder instead
    found = offers(report, answers.get("task"), instead=supported)
    for offer in found:
        if offer_id(offer) == wanted:
            return offer
    return None


def choices(report: Mapping[str, Any] | None, task: Any = None) -> tuple[tuple[str, str], ...]:
    """The route field's choices; for a supported type, optimum's export or the ladder."""
    if applies(report):
        return tuple((offer_id(o), str(o["label"])) for o in offers(report, task))
    instead = offers(report, task, instead=True)
    if not instead:
        return ()
    ladder = [(offer_id(o), str(o["label"])) for o in instead]
    return ((OPTIMUM, "optimum's own ONNX export"), *ladder)


def instead_of_optimum(report: Mapping[str, Any] | None, result: Any) -> dict[str, Any] | None:
    """The recovery fix that exports by the fallback routes after optimum's own export of a
    supported type failed (None when another route would not help: memory, time, cancel)."""
    from onnx_wizard.runner.attempts import ladder_after_optimum

    if report is None or applies(report) or ladder_after_optimum(report, result) is None:
        return None
    return {
        "label": "Export by the fallback routes instead (each validated against PyTorch)",
        "answers": {"route": AUTO},
        "needs_consent": False,
        "diff": {"route": [OPTIMUM, AUTO]},
    }


def outlook_line(report: Mapping[str, Any]) -> str:
    """Which route --auto-fix takes first, why, and its measured odds (as `inspect` says it)."""
    outlook = route_outlook(dict(report))
    return f"{describe_outlook(outlook)} Auto tries: {', '.join(outlook['order'])}."


def route_help(answers: Answers, report: Mapping[str, Any] | None) -> str:
    offer = chosen(answers, report)
    if offer is None:
        return ""
    return f"{offer['explanation']}\nRisk: {offer['risk']}"


def job(answers: Answers, report: Mapping[str, Any] | None, task: str) -> dict[str, Any] | None:
    """The export child's ``fallback`` entry for the chosen route; None for optimum's route."""
    offer = chosen(answers, report)
    if offer is None:
        return None
    spec = fallback_job(offer, opset=answers.get("opset"))
    spec["task"] = task  # the task the user confirmed, not the one first detected
    return spec


def command(answers: Answers, report: Mapping[str, Any] | None, plan: Any) -> str | None:
    """``onnx-wizard export ... --route R``: what the wizard will run, as a command to reuse."""
    offer = chosen(answers, report)
    if offer is None:
        return None
    words = ["onnx-wizard", "export", plan.model, plan.output, "--route", offer_id(offer)]
    if plan.task and plan.task != "auto":
        words += ["--task", plan.task]
    if plan.opset:
        words += ["--opset", str(plan.opset)]
    if plan.trust_remote_code:
        words.append("--trust-remote-code")
    return shlex.join(words)


def failure_diagnosis(
    answers: Answers, report: Mapping[str, Any] | None, log: str
) -> dict[str, Any] | None:
    """When the chosen route gave no validated export: say so, and offer the other routes."""
    offer = chosen(answers, report)
    if offer is None:
        return None
    current = offer_id(offer)
    others = [o for o in offers(report, answers.get("task")) if offer_id(o) != current]
    tail = "\n".join(log.strip().splitlines()[-8:])
    return {
        "id": "OW-WIZ-ROUTE-FAILED",
        "category": "fallback",
        "title": f"The route {offer['label']} gave no export that validates",
        "confidence": 1.0,
        "explanation": (
            "Each route's export is checked against PyTorch at shapes other than the traced "
            "ones; this one failed (the log's last lines below). Another route may work: "
            "each is a different way to export the same model.\n" + tail
        ),
        "remedies": [
            {
                "label": f"Take the route {o['label']}",
                "answers": {"route": offer_id(o)},
                "needs_consent": False,
                "diff": {"route": [current, offer_id(o)]},
            }
            for o in others
        ],
    }


def refused_options(values: Answers, report: Mapping[str, Any] | None) -> dict[str, str]:
    """Export options the chosen route would not honour: field -> why, to show on the field."""
    if not applies(report):
        return {}
    return unhonoured_options(values)


__all__ = [
    "applies",
    "choices",
    "chosen",
    "command",
    "failure_diagnosis",
    "job",
    "offer_id",
    "offers",
    "outlook_line",
    "refused_options",
    "route_help",
]
