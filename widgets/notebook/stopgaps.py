"""STOP-GAPS: what the notebook renderer needs and the engine does not offer yet, in one place.

Each function here belongs in the engine (named in its docstring). Nothing else in the notebook
package composes engine data or steps through the machine on its own; when the engine grows the
function, the renderer calls it instead and this module shrinks.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from onnx_wizard import engine
from onnx_wizard.steps import Facts, Step, WizardState

# Plan flags (``onnx_wizard.plan.add_plan_arguments``) that are wizard answers under the same name.
_SAME_NAME = ("task", "opset", "device", "dtype", "optimize", "atol")
_SHAPES = ("batch_size", "sequence_length")
_NOT_FLAGS = ("model", "output", "overwrite")


def answers_from_flags(args: argparse.Namespace) -> dict[str, Any]:
    """Wizard answers for the plan flags given to ``%onnx_wizard``; ValueError for a flag the
    wizard does not ask. Engine: ``planning.answers_from_args(args)`` (the TUI's CLI needs it too).
    """
    answers: dict[str, Any] = {}
    for name in (*_SAME_NAME, *_SHAPES):
        if getattr(args, name, None) is not None:
            answers[name] = getattr(args, name)
    if getattr(args, "trust_remote_code", False):
        answers["trust_remote_code"] = True
    if getattr(args, "monolith", False):
        answers["decoder_files"] = "monolith"
    elif getattr(args, "no_post_process", False):
        answers["decoder_files"] = "separate"
    handled = {*_SAME_NAME, *_SHAPES, *_NOT_FLAGS, "trust_remote_code", "monolith"}
    handled.add("no_post_process")
    unasked = sorted(
        name
        for name, value in vars(args).items()
        if name not in handled and value not in (None, False)
    )
    if unasked:
        flags = ", ".join("--" + name.replace("_", "-") for name in unasked)
        raise ValueError(
            f"The wizard does not ask {flags}; use `onnx-wizard export MODEL OUTDIR {flags} ...` "
            "for those."
        )
    return answers


def variant_rows(facts: Facts) -> list[dict[str, Any]]:
    """One row per ONNX file of the last run: size and its validation figures.

    Engine: ``engine.results(state) -> [{"file", "variant", "bytes", "max_abs_diff", "atol",
    "passed"}]``, which the quantization issue extends with the quantized variants.
    """
    run: Mapping[str, Any] = facts.run or {}
    checks = list((facts.validation or {}).get("checks") or ())
    sizes: dict[str, int] = {}
    for item in run.get("files") or ():
        name = str(item.get("name"))
        if name.endswith(".onnx"):
            sizes[name] = sizes.get(name, 0) + int(item.get("bytes") or 0)
        elif name.endswith(".onnx_data"):  # external weights count towards their graph's size
            graph = name.removesuffix("_data")
            sizes[graph] = sizes.get(graph, 0) + int(item.get("bytes") or 0)
    rows: list[dict[str, Any]] = []
    for name in sorted(sizes):
        submodel = name.rsplit("/", 1)[-1].removesuffix(".onnx")
        mine = [c for c in checks if c.get("submodel") == submodel]
        diffs = [float(c["max_abs_diff"]) for c in mine if c.get("max_abs_diff") is not None]
        tolerances = [float(c["atol"]) for c in mine if c.get("atol") is not None]
        rows.append(
            {
                "file": name,
                "variant": "fp32",
                "bytes": sizes[name],
                "max_abs_diff": max(diffs) if diffs else None,
                "atol": min(tolerances) if tolerances else None,
                "passed": all(bool(c.get("passed")) for c in mine) if mine else None,
            }
        )
    return rows


def edit_plan(state: WizardState) -> WizardState:
    """RECOVER's "Edit": back to REVIEW as it was, without applying a remedy, to change answers
    by hand. Engine: an ``"edit"`` action on RECOVER (``engine.act(state, "edit")``)."""
    for _ in range(len(state.history)):
        if state.step is Step.REVIEW:
            break
        moved = engine.go_back(state)
        if moved.step is state.step:
            break
        state = moved
    return engine.refresh(state)
