"""From a failed attempt to the next plan: diagnose, pick a remedy, apply it to the plan.

Diagnoses come from the knowledge base (the log) and from the wizard's own validation figures.
Remedies are actions from the knowledge base's fixed vocabulary; :func:`apply_remedy` turns one
into a changed :class:`ExportPlan`. Only remedies in ``AUTOMATIC`` are applied without asking;
running remote code and changing the user's environment always wait for an explicit yes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from onnx_wizard.planning.plan import ExportPlan

# Plan changes that cannot hurt: the worst outcome is another failed attempt.
AUTOMATIC = frozenset(
    {
        "set_opset",
        "set_task",
        "set_atol",
        "set_device",
        "set_dtype",
        "set_optimize",
        "no_post_process",
        "monolith",
        "reduce_shapes",
        "set_library",
        "set_pad_token_id",
    }
)
SMALL_SHAPES = {"batch_size": 1, "sequence_length": 16}


def apply_remedy(
    plan: ExportPlan,
    remedy: Mapping[str, Any],
    report: Mapping[str, Any] | None = None,
    *,
    gpu: bool = False,
) -> ExportPlan | None:
    """The plan with ``remedy`` applied, or None when it does not change this plan."""
    action = remedy.get("action")
    args = dict(remedy.get("args") or {})
    changes: dict[str, Any] = {}
    if action == "set_opset" and args.get("opset") is not None:
        changes["opset"] = int(args["opset"])
    elif action == "set_task":
        # The log names the failure, the inspection names the task the model was built for.
        task = args.get("task") or (report or {}).get("task")
        if task and task != "detected":
            changes["task"] = str(task)
    elif action == "set_atol":
        changes["atol"] = None if args.get("atol") in (None, "default") else float(args["atol"])
    elif action == "set_device" and args.get("device"):
        if args["device"] == "cuda" and not gpu:
            return None  # no GPU here: offering cuda would only fail again
        changes["device"] = str(args["device"])
    elif action == "set_dtype" and args.get("dtype"):
        if args["dtype"] in ("fp16", "bf16") and not gpu:
            return None
        changes["dtype"] = str(args["dtype"])
    elif action == "set_optimize":
        changes["optimize"] = args.get("optimize") or None
    elif action == "no_post_process":
        changes["no_post_process"] = True
    elif action == "monolith":
        changes["monolith"] = True
    elif action == "reduce_shapes":
        given = {
            k: int(v)
            for k, v in args.items()
            if isinstance(v, (int, float, str)) and k in SMALL_SHAPES
        }
        changes["shapes"] = {**plan.shapes, **SMALL_SHAPES, **given}
    elif action == "set_library" and args.get("library"):
        changes["library_name"] = str(args["library"])
    elif action == "set_pad_token_id" and args.get("pad_token_id") is not None:
        changes["pad_token_id"] = int(args["pad_token_id"])
    elif action == "trust_remote_code":
        changes["trust_remote_code"] = True
    else:
        return None  # install, upgrade, manual, ...: not a change to the plan
    updated = plan.replace(**changes)
    return None if updated == plan else updated


def validation_diagnosis(
    validation: Mapping[str, Any], plan: ExportPlan, default_atol: float
) -> dict[str, Any]:
    """A diagnosis from the wizard's own comparison with PyTorch (not from a log)."""
    failed = [c for c in validation.get("checks") or () if not c.get("passed")]
    worst = max((float(c.get("max_abs_diff") or 0) for c in failed), default=0.0)
    names = ", ".join(f"{c.get('submodel')}/{c.get('output')}" for c in failed[:4]) or "none"
    remedies: list[dict[str, Any]] = []
    error = validation.get("error")
    if error or not validation.get("checks"):
        # Nothing was compared: no change to the export can fix what the check could not do.
        remedies.append(_remedy("manual", {}, "Check the model's outputs yourself in Python."))
        return _validation_entry(str(error or "No output could be compared."), remedies)
    if plan.atol is not None and worst <= default_atol:
        remedies.append(
            _remedy(
                "set_atol",
                {"atol": None},
                f"The largest difference, {worst:.2g}, is normal float32 rounding: your tolerance "
                f"{plan.atol:g} is stricter than float32 arithmetic allows. Use the default "
                f"{default_atol:g}.",
            )
        )
    if plan.optimize:
        remedies.append(
            _remedy("set_optimize", {"optimize": None}, "Export without graph optimization.")
        )
    if plan.dtype != "fp32":
        remedies.append(_remedy("set_dtype", {"dtype": "fp32"}, "Export in full precision."))
    if plan.opset != 17:
        remedies.append(_remedy("set_opset", {"opset": 17}, "Try another opset (17)."))
    remedies.append(
        _remedy(
            "set_atol",
            {"atol": round(worst * 2, 12) or default_atol},
            "Only if you accept differences this large: raise the tolerance.",
            needs_consent=True,
        )
    )
    explanation = (
        f"On real inputs, {len(failed)} output(s) differ from PyTorch by more than the "
        f"tolerance (worst {worst:.3g}): {names}. optimum would only have warned."
    )
    return _validation_entry(explanation, remedies)


def _validation_entry(explanation: str, remedies: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": "OW-WIZ-VALIDATION",
        "category": "validation_mismatch",
        "title": "The ONNX model's outputs differ from PyTorch's",
        "confidence": 1.0,
        "explanation": explanation,
        "remedies": remedies,
    }


def memory_diagnosis(
    plan: ExportPlan,
    peak: int,
    limit: int | None,
    *,
    stage: str,
    by_system: bool,
    merges: bool,
    gpu: bool,
) -> dict[str, Any]:
    """A diagnosis for an export that ran out of memory: stopped by the guard or by the kernel."""
    from onnx_wizard.planning.memory import format_size

    who = (
        "the kernel's OOM killer ended it (SIGKILL)"
        if by_system
        else f"the wizard's memory guard stopped it at {format_size(peak)}, over the "
        f"{format_size(limit or 0)} limit"
    )
    skip_merge = _remedy(
        "no_post_process",
        {},
        "Skip merging the two decoders into decoder_model_merged.onnx; the merge holds both "
        "graphs in memory at once (Transformers.js then needs the merge done elsewhere).",
    )
    small_shapes = _remedy("reduce_shapes", dict(SMALL_SHAPES), "Trace with smaller dummy inputs.")
    remedies: list[dict[str, Any]] = []
    can_skip_merge = merges and not plan.no_post_process
    can_shrink = any(plan.shapes.get(k) != v for k, v in SMALL_SHAPES.items())
    # Fix what was running when memory ran out first: the merge, or the tracing itself.
    if stage == "post_process" and can_skip_merge:
        remedies.append(skip_merge)
    if can_shrink:
        remedies.append(small_shapes)
    if can_skip_merge and stage != "post_process":
        remedies.append(skip_merge)
    if gpu and plan.device != "cuda":
        remedies.append(
            _remedy("set_device", {"device": "cuda"}, "Export on the GPU, off the CPU's RAM.")
        )
    remedies.append(
        _remedy(
            "smaller_variant",
            {},
            "Export a smaller variant of the model, or run on a machine with more RAM.",
        )
    )
    return {
        "id": "OW-WIZ-MEMORY",
        "category": "out_of_memory",
        "title": "The export ran out of memory",
        "confidence": 1.0,
        "explanation": f"The export needed more memory than it may use: {who}. Exports hold the "
        "model's weights several times over while tracing, and more while merging decoders.",
        "remedies": remedies,
    }


def _remedy(
    action: str, args: dict[str, Any], note: str, *, needs_consent: bool = False
) -> dict[str, Any]:
    from onnx_wizard.knowledge import command_for

    return {
        "action": action,
        "args": args,
        "note": note,
        "needs_consent": needs_consent,
        # A value of None means "drop the flag": no single flag expresses that.
        "command": command_for(action, args) if None not in args.values() else None,
    }


def next_plan(
    plan: ExportPlan,
    diagnoses: list[Mapping[str, Any]],
    tried: set[str],
    report: Mapping[str, Any] | None,
    *,
    gpu: bool = False,
) -> tuple[ExportPlan, Mapping[str, Any]] | None:
    """The first automatic remedy that gives a plan not tried yet, best diagnosis first."""
    for diagnosis in diagnoses:
        for remedy in diagnosis.get("remedies") or ():
            if remedy.get("needs_consent") or remedy.get("action") not in AUTOMATIC:
                continue
            candidate = apply_remedy(plan, remedy, report, gpu=gpu)
            if candidate is not None and candidate.to_command() not in tried:
                return candidate, remedy
    return None
