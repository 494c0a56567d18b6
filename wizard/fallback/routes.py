"""Export routes for model types optimum cannot export: which to offer, and how to describe them.

When optimum has no ONNX config for a model's type, two routes remain. Borrow the ONNX config of
a closely related supported type and let optimum export as usual, or export by hand with
``torch.onnx.export`` (TorchScript or dynamo). This module only plans and describes: the heavy
work is in ``onnx_wizard.fallback.child``, which the export child process runs. Light: it reads
optimum's cached task table, never imports torch, transformers or optimum.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from onnx_wizard.errors import WizardError
from onnx_wizard.inspection.supported_tasks import TaskTable, load_table

RELATED = "related-config"
LINEAGE = "lineage-config"  # a registered type the model's classes derive from
FAMILY = "family-config"  # a registered type of the same family whose inputs forward() takes
TORCHSCRIPT = "torchscript"
DYNAMO = "dynamo"
AUTO = "auto"  # the ladder: the routes above in order of measured success, first validated wins
# Route id -> the name reports use. The child returns exactly these names in its result.
ROUTES = {
    RELATED: "optimum with the ONNX config of {related}",
    LINEAGE: "optimum with the ONNX config of {related}, the registered type it derives from",
    FAMILY: "optimum with the ONNX config of {related}, a registered type of the same family",
    TORCHSCRIPT: "torch.onnx.export (TorchScript)",
    DYNAMO: "torch.onnx.export (dynamo)",
    AUTO: "the fallback routes in order of measured success (first validated wins)",
}

# Tasks the low-level route can export (text models; inputs come from the tokenizer).
TORCH_TASKS = (
    "feature-extraction",
    "text-classification",
    "fill-mask",
    "token-classification",
    "question-answering",
    "text-generation",
)
# Unsupported types that are, input for input, a supported one. ERNIE (1.0-3.0) is BERT plus an
# optional task-type embedding that is off by default (use_task_id=False); NEZHA is BERT with
# relative positions computed inside the model. Both take BERT's three inputs and config keys.
KNOWN_RELATIVES = {"ernie": "bert", "nezha": "bert"}
TEXT_ENCODER_TASKS = frozenset(
    {"fill-mask", "text-classification", "token-classification", "question-answering"}
)
MAX_RELATED_OFFERS = 3


def route_name(route: str, related: str | None = None) -> str:
    """The name a report shows for ``route`` (``related`` fills in the borrowed config's type)."""
    return ROUTES[route].format(related=related or "?")


def _family(model_type: str, table: TaskTable) -> str:
    """encoder-decoder / decoder / encoder / other, from what optimum exports for the type."""
    tasks = set(table.tasks_for(model_type))
    if model_type in table.encoder_decoder_types or any(t.startswith("text2text") for t in tasks):
        return "encoder-decoder"
    if any(t.startswith("text-generation") for t in tasks):
        return "decoder"
    if tasks & TEXT_ENCODER_TASKS:
        return "encoder"
    return "other"  # vision, audio, multimodal: never borrowed for a text model


def _model_family(report: dict[str, Any]) -> str:
    if report.get("is_encoder_decoder"):
        return "encoder-decoder"
    if report.get("is_decoder") or str(report.get("task") or "").startswith("text-generation"):
        return "decoder"
    return "encoder" if report.get("modality", "text") == "text" else "other"


def related_fits(report: dict[str, Any], related: str, table: TaskTable | None = None) -> bool:
    """Whether ``related``'s ONNX config could describe this model: same family, text, and it
    has the task. Only the child can check the inputs against the model's forward()."""
    table = table or load_table()
    task = report.get("task")
    family = _model_family(report)
    # Encoder-decoders export several files, each with its own config: not borrowable here.
    if not task or family in ("encoder-decoder", "other"):
        return False
    return task in table.tasks_for(related) and _family(related, table) == family


def _related_offer(report: dict[str, Any], related: str, known: bool) -> dict[str, Any]:
    model_type = report.get("model_type") or "this model"
    why = (
        f"{model_type} is known to take the same inputs as {related}"
        if known
        else f"{related} is among the supported types closest to {model_type} by name, and it "
        "is the same kind of model with the same task"
    )
    return {
        "route": RELATED,
        "label": route_name(RELATED, related),
        "related_model_type": related,
        "task": report["task"],
        "why": why,
        "explanation": (
            f"optimum exports this model's own code, but feeds it the inputs, dynamic axes and "
            f"output names of its {related} ONNX config. That is right when {model_type} takes "
            f"the same inputs as {related} and names its settings the same way."
        ),
        "risk": (
            "Any extra input this model has beyond "
            f"{related}'s stays at its default, and fixes optimum applies for {related} may not "
            "suit this model. The export may fail, or run with wrong numbers: validation on "
            "real inputs tells which."
        ),
    }


def _torch_offer(report: dict[str, Any], route: str) -> dict[str, Any] | None:
    task = str(report.get("task") or "")
    base = task.removesuffix("-with-past")
    if base not in TORCH_TASKS or report.get("is_encoder_decoder"):
        return None
    generator = base == "text-generation"
    no_cache = (
        " It exports without the KV cache (task text-generation): each new token reruns the "
        "whole sequence, so generation is much slower than with optimum's cached export."
        if generator and route == DYNAMO
        else " It exports the KV cache (past_key_values in, present out) when that graph "
        "validates, else one graph without it (slower generation)."
        if generator
        else ""
    )
    if route == TORCHSCRIPT:
        explanation = (
            "PyTorch's classic exporter traces the model once on two real sentences from its "
            "own tokenizer and records every operation, with batch and sequence length marked "
            "dynamic." + no_cache
        )
        risk = (
            "Tracing records one path: Python-side shape arithmetic or branches can be frozen "
            "to the example's length, so other lengths give wrong numbers. Validation feeds "
            "inputs of another length to catch exactly that."
        )
    else:
        explanation = (
            "PyTorch's newer exporter captures the model with torch.export and symbolic batch "
            "and sequence sizes, then converts the graph with onnxscript." + no_cache
        )
        risk = (
            "It needs the onnxscript package and refuses models whose code depends on "
            "concrete shapes or data; it is newer and slower to run than TorchScript."
        )
    return {
        "route": route,
        "label": route_name(route),
        "related_model_type": None,
        # TorchScript exports the cache when it validates (the ladder's rung); dynamo cannot.
        "task": task if route == TORCHSCRIPT else base,
        "why": f"optimum has no ONNX config for {report.get('model_type') or 'this model'}",
        "explanation": explanation,
        "risk": risk,
    }


def choose_routes(report: dict[str, Any], table: TaskTable | None = None) -> list[dict[str, Any]]:
    """Ordered offers for a model optimum cannot export (``inspect_model(...).to_dict()``).

    Related-config routes first (a known relative, then the closest supported types that fit),
    then torch.onnx TorchScript, then dynamo. Empty for a supported model or a task neither
    route handles. Each offer: route, label, related_model_type, task, why, explanation, risk.
    """
    if report.get("supported", False) or report.get("library", "transformers") != "transformers":
        return []
    table = table or load_table()
    offers: list[dict[str, Any]] = [auto_offer(report)]
    model_type = str(report.get("model_type") or "")
    candidates = [(KNOWN_RELATIVES[model_type], True)] if model_type in KNOWN_RELATIVES else []
    candidates += [(str(c), False) for c in report.get("closest") or ()]
    seen: set[str] = set()
    for related, known in candidates:
        if related in seen or len(offers) >= MAX_RELATED_OFFERS:
            continue
        seen.add(related)
        if related_fits(report, related, table):
            offers.append(_related_offer(report, related, known))
    for route in (TORCHSCRIPT, DYNAMO):
        offer = _torch_offer(report, route)
        if offer is not None:
            offers.append(offer)
    return offers


def auto_offer(report: dict[str, Any]) -> dict[str, Any]:
    """The ladder, first: it tries every route below it, in order of measured success."""
    from onnx_wizard.fallback.outlook import describe_outlook, route_outlook

    # Also the last resort for a supported type whose optimum export failed: the outlook of a
    # supported type would name optimum itself, which is not a rung of the ladder.
    outlook = route_outlook({**report, "supported": False})
    return {
        "route": AUTO,
        "label": route_name(AUTO),
        "related_model_type": None,
        "task": report.get("task"),
        "why": describe_outlook(outlook),
        "order": outlook["order"],
        "outlook": outlook,
        "explanation": (
            "Tries each route in turn, the one most often validated on the coverage benchmark "
            "first: optimum with the ONNX config of the registered type the model's classes "
            "derive from, or of a same-family type whose inputs its forward() takes, and "
            "torch.onnx (TorchScript, dynamo) on inputs built from its config. Each export is "
            "validated against PyTorch at shapes other than the traced ones; the first that "
            "passes is kept."
        ),
        "risk": (
            "A borrowed config may leave out inputs this model has beyond the borrowed type's; "
            "torch.onnx exports a decoder with its KV cache when that validates, else without "
            "one (slower generation). Validation catches wrong numbers, not missing features."
        ),
    }


# Export options the torch.onnx and related-config routes do not carry out: the route exports
# fp32 on the CPU with its own graph settings. name -> (its default, why it is refused).
UNHONOURED = {
    "device": ("cpu", "The fallback routes export on the CPU: set Device back to cpu."),
    "dtype": (
        "fp32",
        "The fallback routes export fp32: keep fp32 and pick fp16 or q8 variants in the next step.",
    ),
    "optimize": (None, "The fallback routes do not run optimum's graph optimizer: leave it off."),
    "slim": (False, "The fallback routes do not run onnxslim: turn this off."),
    "batch_size": (None, "The fallback routes pick their own example shapes: leave it empty."),
    "sequence_length": (None, "The fallback routes pick their own example shapes: leave it empty."),
}


def unhonoured_options(values: Mapping[str, Any]) -> dict[str, str]:
    """Options (by answer or plan name) a fallback route would not carry out: name -> why."""
    return {
        name: why
        for name, (default, why) in UNHONOURED.items()
        if values.get(name) not in (default, None, False, "")
    }


def plan_unhonoured(plan: Any) -> dict[str, str]:
    """``unhonoured_options`` for an ``ExportPlan`` (its shapes by their own names)."""
    values = {"device": plan.device, "dtype": plan.dtype, "optimize": plan.optimize}
    return unhonoured_options({**values, "slim": plan.slim, **plan.shapes})


def refuse_unhonoured(plan: Any) -> None:
    """WizardError naming each option of ``plan`` a fallback route would silently drop."""
    refused = plan_unhonoured(plan)
    if refused:
        names = ", ".join(f"--{name.replace('_', '-')}" for name in refused)
        raise WizardError(
            f"The fallback routes cannot carry out {names}: " + " ".join(refused.values()),
            f"Drop {names}; quantize the validated export afterwards for a smaller one.",
        )


def cache_applies(report: Mapping[str, Any]) -> bool:
    """A decoder-only generator: optimum's table has no ``-with-past`` task for a type it cannot
    export, yet the routes export the KV cache when that graph validates."""
    decoder_only = report.get("is_decoder") and not report.get("is_encoder_decoder")
    return bool(decoder_only and report.get("task") == "text-generation")


def offer_id(offer: Mapping[str, Any]) -> str:
    """The route's value in the wizard's choice and on the command line (``--route``): related
    ones name the borrowed type (``related-config:llama``)."""
    related = offer.get("related_model_type")
    return f"{RELATED}:{related}" if offer["route"] == RELATED and related else str(offer["route"])


def choose_fallback(
    facts: dict[str, Any], route: str | None, *, auto: bool, task: str | None = None
) -> dict[str, Any] | None:
    """The fallback job for an unsupported model: the route asked for (``--route``, the API's
    ``route=``), or with ``auto`` the first offer; None for a supported one. WizardError lists
    the routes when none was named or the name fits none."""
    if facts.get("supported"):
        if route:
            raise WizardError(
                f"--route {route} is for models optimum cannot export, and it can export this one.",
                "Drop --route: the standard export is the better one.",
            )
        return None
    asked = task if task and task != "auto" else None
    detected = facts.get("task")
    if not asked and cache_applies(facts):  # an explicit --task text-generation opts out
        detected = "text-generation-with-past"
    offers = choose_routes({**facts, "task": asked or detected})
    # "related-config" takes the first related offer; "related-config:TYPE" names one.
    matching = [o for o in offers if route in (o["route"], offer_id(o))]
    chosen = matching if route else offers[:1] if auto else []
    if chosen:
        return fallback_job(chosen[0])
    listing = "; ".join(f"--route {offer_id(o)}: {o['label']}" for o in offers) or "none"
    kind = facts.get("model_type") or "this model"
    raise WizardError(
        f"optimum has no ONNX export for model type {kind!r}. "
        f"Routes that can still work: {listing}.",
        "Rerun with one of those --route flags (or --auto-fix to take the first); every route is "
        "validated against PyTorch like a normal export.",
    )


def fallback_job(offer: dict[str, Any], opset: int | None = None) -> dict[str, Any]:
    """The ``job["fallback"]`` entry that makes the export child take this route."""
    return {
        "route": offer["route"],
        "task": offer["task"],
        "related_model_type": offer.get("related_model_type"),
        "opset": opset,
        "order": offer.get("order"),
    }


def describe_route(
    result: dict[str, Any],
    *,
    model_type: str | None = None,
    validation: dict[str, Any] | None = None,
    supported: bool = False,
) -> str:
    """Plain-language account of how a fallback export was made, for reports and cards.

    ``result`` is what the child returned; ``validation`` a ``ValidationReport.to_dict()``."""
    who = f"model_type {model_type!r}" if model_type else "this model type"
    why = (
        f"because optimum's own export of this {model_type or 'model'} failed"
        if supported
        else f"because optimum has no ONNX export for {who}"
    )
    lines = [
        f"Route: {result['route']} (opset {result.get('opset', '?')}, task "
        f"{result.get('task', '?')}), {why}.",
    ]
    if result.get("related_model_type"):
        lines.append(
            f"optimum exported the model's own code with the inputs and output names of its "
            f"{result['related_model_type']} config; this is not an export optimum supports "
            "for this type."
        )
    else:
        lines.append(
            "optimum was not used: the graph was exported directly with PyTorch, with "
            "optimum's input and output names so the usual runtimes can load it."
        )
    if result.get("inputs"):
        inputs, outputs = ", ".join(result["inputs"]), ", ".join(result.get("outputs", ()))
        lines.append(f"Inputs: {inputs}; outputs: {outputs}.")
    lines += [f"Note: {note}" for note in result.get("notes", ())]
    if validation is None:
        lines.append("Not validated: compare it with PyTorch before relying on it.")
    elif validation.get("passed"):
        lines.append(f"Validated against PyTorch: {validation.get('inputs_description')}.")
    else:
        error = validation.get("error") or "outputs differ beyond tolerance"
        lines.append(f"Validation FAILED ({error}): do not use this export.")
    return "\n".join(lines)


__all__ = [
    "AUTO",
    "DYNAMO",
    "FAMILY",
    "KNOWN_RELATIVES",
    "LINEAGE",
    "RELATED",
    "ROUTES",
    "TORCHSCRIPT",
    "TORCH_TASKS",
    "UNHONOURED",
    "auto_offer",
    "cache_applies",
    "choose_fallback",
    "choose_routes",
    "describe_route",
    "fallback_job",
    "offer_id",
    "plan_unhonoured",
    "refuse_unhonoured",
    "related_fits",
    "route_name",
    "unhonoured_options",
]
