"""The Python API for scripts and notebooks: ``onnx_wizard.export(model, output, **plan)``.

The same engine and child process as ``onnx-wizard export``: inspection, the plan, the export in
a child process, validation against PyTorch and (with ``auto_fix``) the safe remedies.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

from onnx_wizard.errors import WizardError
from onnx_wizard.result import ExportResult


class ExportFailed(WizardError):
    """The export did not produce a validated result; ``outcome`` holds every attempt."""

    def __init__(self, problem: str, fix: str, outcome: Any = None) -> None:
        super().__init__(problem, fix)
        self.outcome = outcome


def plan_options(**options: Any) -> argparse.Namespace:
    """The CLI's plan flags as a namespace, with ``options`` set; TypeError for unknown names."""
    from onnx_wizard.planning.plan import add_plan_arguments

    parser = argparse.ArgumentParser(add_help=False)
    add_plan_arguments(parser)
    namespace = parser.parse_args([])
    for name, value in options.items():
        if not hasattr(namespace, name):
            known = ", ".join(sorted(vars(namespace)))
            raise TypeError(f"export() got an unknown option {name!r}; known: {known}")
        setattr(namespace, name, value)
    return namespace


def export(
    model: str,
    output: str | Path,
    *,
    overwrite: bool = False,
    auto_fix: bool = False,
    route: str | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    **options: Any,
) -> ExportResult:
    """Export ``model`` (a folder, Hub id or ``sample:NAME``) to ``output`` and validate it.

    ``options`` are the plan's decisions under the CLI's names (``task``, ``opset``, ``device``,
    ``dtype``, ``optimize``, ``atol``, ``batch_size``, ``sequence_length``, ``monolith``,
    ``no_post_process``, ...). A model type optimum cannot export goes by ``route`` (``auto``,
    ``related-config[:TYPE]``, ``torchscript``, ``dynamo``; ``auto_fix`` takes ``auto``), and
    with ``auto_fix`` the same routes are the last resort when optimum's own export fails.
    Returns the validated :class:`ExportResult`; raises :class:`ExportFailed` (with the
    diagnosis in its message) when no attempt passed.
    """
    from onnx_wizard.fallback.routes import choose_fallback, refuse_unhonoured
    from onnx_wizard.planning.answers import plan_for_model
    from onnx_wizard.planning.memory import default_limit
    from onnx_wizard.runner.attempts import export_with_recovery, ladder_after_optimum
    from onnx_wizard.runner.process import log_dir_for

    namespace = plan_options(**options)
    plan, report = plan_for_model(
        model, str(output), namespace, overwrite=overwrite, allow_unsupported=True
    )
    facts = report.to_dict()
    fallback = choose_fallback(facts, route, auto=auto_fix, task=namespace.task)
    if fallback is not None:
        refuse_unhonoured(plan)

    def run_once(job: dict[str, Any] | None) -> Any:
        return export_with_recovery(
            plan,
            report=facts,
            log_dir=log_dir_for(Path(plan.output)),
            auto_fix=auto_fix,
            memory_limit=default_limit(),
            on_event=on_event,
            fallback=job,
        )

    outcome = run_once(fallback)
    last_resort = ladder_after_optimum(facts, outcome) if auto_fix and not fallback else None
    if last_resort is not None:  # optimum's own export failed every safe remedy
        earlier = outcome.attempts
        outcome = run_once(last_resort)
        outcome.attempts[:0] = earlier
    summary = outcome.to_dict()
    validation = summary.get("validation") or {}
    if outcome.status != "ok" or not validation.get("passed"):
        final = outcome.final
        diagnoses = list(final.diagnoses) if final else []
        cause = f" Likely cause: {diagnoses[0]['title']}." if diagnoses else ""
        log = f" The log: {final.outcome.log_path}" if final else ""
        raise ExportFailed(
            f"The export of {model} did not pass: {outcome.reason or 'validation failed'}.{cause}",
            "Run `onnx-wizard doctor` on the log, or try auto_fix=True." + log,
            outcome,
        )
    from onnx_wizard.validation.report import ValidationReport

    validation = {**validation, "summary": ValidationReport.from_dict(dict(validation)).summary()}
    final = outcome.final
    run = {"files": summary.get("files") or [], "log": final.outcome.log_path if final else ""}
    task = str(final.plan.task if final else plan.task)
    command = summary.get("command") or ""
    job = last_resort or fallback
    if job is not None:  # the route's task (a decoder keeps its cache), and what reruns it
        task = str(job.get("task") or task)
        chosen = "auto" if job["route"] == "auto" else route or job["route"]
        command = shlex.join(["onnx-wizard", "export", model, str(output), "--route", chosen])
    return ExportResult.from_run(plan.output, task, run, validation, command)
