"""Build an ExportPlan from what the wizard knows: the model report plus answers or CLI flags."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from onnx_wizard.errors import WizardError
from onnx_wizard.inspection.report import ModelReport, inspect_model
from onnx_wizard.planning.output import check_output_folder
from onnx_wizard.planning.plan import ExportPlan, plan_from_args

WITH_PAST = "-with-past"


def plan_model_argument(report: Mapping[str, Any]) -> str:
    """What the plan passes as ``--model``: a folder for local models and samples, else the id."""
    if report.get("source_kind") == "hub":
        return str(report.get("spec"))
    return str(report.get("path") or report.get("spec"))


def with_past_task(task: str, with_past: bool | None) -> str:
    """``task`` with the ``-with-past`` suffix added or removed as the KV-cache answer says."""
    base = task.removesuffix(WITH_PAST)
    if with_past is None:
        return task
    return base + WITH_PAST if with_past else base


def default_output(report: Mapping[str, Any]) -> str:
    """``./<model name>-onnx``: where the export goes when the user names no folder."""
    spec = str(report.get("spec") or "model").rstrip("/")
    name = spec.removeprefix("sample:").replace("\\", "/").split("/")[-1] or "model"
    return str(Path.cwd() / f"{name}-onnx")


def require_supported(report: Mapping[str, Any]) -> None:
    if report.get("supported"):
        return
    kind = report.get("model_type") or "this model"
    closest = ", ".join(report.get("closest") or ()) or "none close"
    raise WizardError(
        f"optimum has no ONNX export for model type {kind!r} (closest supported: {closest}).",
        "Run `onnx-wizard export MODEL OUTDIR --auto-fix` (or --route): it tries the fallback "
        "routes `onnx-wizard inspect MODEL` lists, each validated against PyTorch.",
    )


def plan_from_answers(answers: Mapping[str, Any], report: Mapping[str, Any]) -> ExportPlan:
    """The plan the wizard's answers describe, for the model in ``report``."""
    task = str(answers.get("task") or report.get("task") or "auto")
    if report.get("with_past_applies"):
        task = with_past_task(task, answers.get("with_past", report.get("with_past")))
    files = answers.get("decoder_files")
    shapes = {
        name: int(answers[name])
        for name in ("batch_size", "sequence_length")
        if answers.get(name) is not None
    }
    return ExportPlan(
        model=plan_model_argument(report),
        output=str(answers.get("output") or default_output(report)),
        task=task,
        opset=answers.get("opset"),
        device=str(answers.get("device") or "cpu"),
        dtype=str(answers.get("dtype") or "fp32"),
        optimize=answers.get("optimize") or None,
        atol=answers.get("atol"),
        no_post_process=files == "separate",
        monolith=files == "monolith",
        slim=bool(answers.get("slim")),
        trust_remote_code=bool(answers.get("trust_remote_code")),
        library_name=_optimum_library(report),
        shapes=shapes,
    )


def _optimum_library(report: Mapping[str, Any]) -> str | None:
    """optimum needs --library-name only where its own guess from local files would be wrong."""
    library = report.get("library")
    return {"sentence-transformers": "sentence_transformers", "timm": "timm"}.get(str(library))


def plan_for_model(
    spec: str,
    output: str,
    args: argparse.Namespace,
    *,
    overwrite: bool = False,
    allow_unsupported: bool = False,
) -> tuple[ExportPlan, ModelReport]:
    """``onnx-wizard plan``: inspect ``spec``, then the flags' plan with the detected task."""
    folder = check_output_folder(output, overwrite=overwrite)
    report = inspect_model(spec)
    facts = report.to_dict()
    if not allow_unsupported:
        require_supported(facts)
    plan = plan_from_args(plan_model_argument(facts), str(folder), args)
    changes: dict[str, Any] = {}
    if getattr(args, "task", None) is None:
        # optimum cannot infer a task for a local folder; the wizard's detection can. An explicit
        # `--task auto` is kept: it asks for optimum's own inference, as optimum-cli would.
        changes["task"] = facts["task"]
    if plan.library_name is None and _optimum_library(facts):
        changes["library_name"] = _optimum_library(facts)
    plan = plan.replace(**changes) if changes else plan
    problems = plan.validate()
    if problems:
        raise WizardError(f"The plan cannot run: {problems[0]}", _fix_for(problems[0]))
    return plan, report


def _fix_for(problem: str) -> str:
    if "cuda" in problem.lower() or "gpu" in problem.lower():
        return (
            "Add --device cuda on a machine with an NVIDIA GPU, "
            "or drop --dtype fp16 / --optimize O4."
        )
    return "Change the flag the message names; `onnx-wizard plan --help` lists the choices."


# Plan flags (``onnx_wizard.planning.plan.add_plan_arguments``) that are wizard answers
# under the same name.
_SAME_NAME = ("task", "opset", "device", "dtype", "optimize", "atol")
_SHAPES = ("batch_size", "sequence_length")
_NOT_FLAGS = ("model", "output", "overwrite")


def answers_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Wizard answers for plan flags (``add_plan_arguments``), e.g. to pre-fill an interactive
    wizard; ValueError for a flag the wizard does not ask (use ``export`` for those)."""
    answers: dict[str, Any] = {}
    for name in (*_SAME_NAME, *_SHAPES):
        if getattr(args, name, None) is not None:
            answers[name] = getattr(args, name)
    if getattr(args, "trust_remote_code", False):
        answers["trust_remote_code"] = True
    if getattr(args, "slim", False):
        answers["slim"] = True
    if getattr(args, "monolith", False):
        answers["decoder_files"] = "monolith"
    elif getattr(args, "no_post_process", False):
        answers["decoder_files"] = "separate"
    handled = {*_SAME_NAME, *_SHAPES, *_NOT_FLAGS, "trust_remote_code", "monolith"}
    handled.update(("no_post_process", "slim"))
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
