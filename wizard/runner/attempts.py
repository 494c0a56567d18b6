"""Export with recovery: run attempts, diagnose failures, apply safe remedies, record it all.

Used by ``onnx-wizard export`` and by the interactive renderers. Each attempt runs in a child
process (:mod:`onnx_wizard.runner.process`); a failure is diagnosed from its log (the
knowledge base) or
from the wizard's own validation figures, and with ``auto_fix`` the first safe remedy that yields
a new plan is applied, up to ``max_attempts``. Remote code is never run without consent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onnx_wizard.errors import WizardError
from onnx_wizard.planning.memory import format_size
from onnx_wizard.planning.plan import ExportPlan
from onnx_wizard.runner.lock import output_lock
from onnx_wizard.runner.process import EventSink, ExportRun, RunOutcome
from onnx_wizard.runner.recovery import memory_diagnosis, next_plan, validation_diagnosis

MAX_ATTEMPTS = 3
# Stages before the export proper: a memory stop there means the runtime itself does not fit.
LOADING_STAGES = ("", "load")


@dataclass
class Attempt:
    number: int
    plan: ExportPlan
    outcome: RunOutcome
    diagnoses: list[dict[str, Any]] = field(default_factory=list)
    remedy: Mapping[str, Any] | None = None

    @property
    def succeeded(self) -> bool:
        return self.outcome.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "plan": self.plan.to_dict(),
            "command": self.plan.to_command(),
            "status": self.outcome.status,
            **{k: v for k, v in self.outcome.to_dict().items() if k not in ("status", "output")},
            "diagnosis": self.diagnoses[0] if self.diagnoses else None,
            "remedy": dict(self.remedy) if self.remedy else None,
        }


@dataclass
class RecoveryOutcome:
    status: str  # ok / failed / cancelled / not_validated
    output: str
    attempts: list[Attempt]
    reason: str = ""  # why it stopped, when it did not succeed
    route: str | None = None  # the fallback route, told plainly, when optimum could not export

    @property
    def final(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None

    def to_dict(self) -> dict[str, Any]:
        final = self.final
        ok = self.status == "ok" and final is not None
        return {
            "status": self.status,
            "output": self.output,
            "files": final.outcome.files if ok and final else [],
            "validation": final.outcome.validation if final else None,
            "attempts": [a.to_dict() for a in self.attempts],
            "command": final.plan.to_command() if ok and final and not self.route else None,
            "route": self.route,
            "reason": self.reason,
            "kept": final.outcome.kept if ok and final else [],
            "backup": final.outcome.backup if ok and final else None,
        }


def remote_code_question(report: Mapping[str, Any]) -> WizardError:
    """The question a model with custom code raises before anything of it runs."""
    classes = ", ".join(report.get("architectures") or ()) or "its model classes"
    return WizardError(
        f"{report.get('spec')} ships its own Python code ({classes}, listed in config.json's "
        "auto_map); exporting it means running that code on this machine. onnx-wizard has not "
        "run any of it.",
        "Read the model's .py files first. If you trust them, rerun with --trust-remote-code.",
        exit_code=3,
    )


def diagnose_attempt(
    outcome: RunOutcome, plan: ExportPlan, report: Mapping[str, Any] | None, *, gpu: bool = False
) -> list[dict[str, Any]]:
    """Diagnoses of one failed attempt, best first: what the wizard measured, then the log."""
    if outcome.validation and not outcome.validation["passed"]:
        return [validation_diagnosis(outcome.validation, plan, _default_atol(plan))]
    if outcome.stopped_for_memory or outcome.killed_by_system:
        merges = bool((report or {}).get("is_encoder_decoder")) and plan.task.endswith("with-past")
        return [
            memory_diagnosis(
                plan,
                outcome.peak_rss,
                outcome.memory_limit,
                stage=outcome.stage,
                by_system=outcome.killed_by_system,
                merges=merges,
                gpu=gpu,
            )
        ]
    from onnx_wizard.knowledge import diagnose

    return [d.to_dict() for d in diagnose(outcome.log_text())]


def _default_atol(plan: ExportPlan) -> float:
    from onnx_wizard.validation.report import default_atol

    return default_atol(plan.task, plan.dtype)[0]


def memory_reason(attempt: Attempt) -> str | None:
    """Why no remedy can help when the memory guard stopped the run before the export began."""
    outcome = attempt.outcome
    if not outcome.stopped_for_memory or outcome.stage not in LOADING_STAGES:
        return None
    limit = format_size(outcome.memory_limit or 0)
    return (
        f"The memory limit of {limit} is below what the export needs just to start: the process "
        f"reached {format_size(outcome.peak_rss)} while loading Python, torch, optimum and the "
        "model, before any export work began, so no change to the export can fit under it. "
        f"Raise --max-memory above {format_size(outcome.peak_rss * 1.5)}, or free memory."
    )


def export_with_recovery(
    plan: ExportPlan,
    *,
    report: Mapping[str, Any] | None,
    log_dir: Path,
    auto_fix: bool = False,
    memory_limit: int | None = None,
    gpu: bool = False,
    on_event: EventSink | None = None,
    on_run: Callable[[ExportRun], None] | None = None,
    max_attempts: int = MAX_ATTEMPTS,
    fallback: dict[str, Any] | None = None,
    timeout: float | None = None,
    tokenizer: str | None = None,
) -> RecoveryOutcome:
    """Run ``plan``; on failure, diagnose and (with ``auto_fix``) retry with a safe remedy.

    ``timeout`` bounds the whole run, every attempt included; ``tokenizer`` names a tokenizer
    for validation when the model folder has none of its own. The output folder is locked for
    the whole run (WizardError while another wizard exports there)."""
    if report and report.get("needs_remote_code") and not plan.trust_remote_code:
        raise remote_code_question(report)
    target = Path(plan.output).expanduser().absolute()
    with output_lock(target):
        return _attempts(
            plan,
            report=report,
            log_dir=log_dir,
            auto_fix=auto_fix,
            memory_limit=memory_limit,
            gpu=gpu,
            on_event=on_event,
            on_run=on_run,
            max_attempts=max_attempts,
            fallback=fallback,
            deadline=time.monotonic() + timeout if timeout else None,
            tokenizer=tokenizer,
        )


def _attempts(
    plan: ExportPlan,
    *,
    report: Mapping[str, Any] | None,
    log_dir: Path,
    auto_fix: bool,
    memory_limit: int | None,
    gpu: bool,
    on_event: EventSink | None,
    on_run: Callable[[ExportRun], None] | None,
    max_attempts: int,
    fallback: dict[str, Any] | None,
    deadline: float | None,
    tokenizer: str | None,
) -> RecoveryOutcome:
    attempts: list[Attempt] = []
    tried: set[str] = set()
    reason = ""
    for number in range(1, max_attempts + 1):
        tried.add(plan.to_command())
        if on_event:
            on_event({"event": "attempt", "number": number, "command": plan.to_command()})
        run = ExportRun(
            plan,
            log_path=log_dir / f"attempt-{number}.log",
            memory_limit=memory_limit,
            on_event=on_event,
            fallback=fallback,
            timeout=max(deadline - time.monotonic(), 0.1) if deadline else None,
            tokenizer=tokenizer,
        )
        if on_run:
            on_run(run)  # lets a UI keep the handle to cancel it
        attempt = Attempt(number, plan, run.run())
        attempts.append(attempt)
        if attempt.succeeded:
            return _with_route(RecoveryOutcome("ok", str(plan.output), attempts), fallback, report)
        if attempt.outcome.status == "cancelled":
            return RecoveryOutcome("cancelled", str(plan.output), attempts, "cancelled by you")
        if attempt.outcome.status == "not_validated":
            reason = "exported without validation: nothing was compared with PyTorch"
            return RecoveryOutcome("not_validated", str(plan.output), attempts, reason)
        if attempt.outcome.timed_out:
            reason = "stopped by --timeout before it finished; the output was not touched"
            return RecoveryOutcome("failed", str(plan.output), attempts, reason)
        attempt.diagnoses = diagnose_attempt(attempt.outcome, plan, report, gpu=gpu)
        if on_event:
            on_event({"event": "diagnosis", "diagnoses": attempt.diagnoses})
        reason = memory_reason(attempt) or ""
        if reason or not auto_fix:
            break
        found = next_plan(plan, attempt.diagnoses, tried, report, gpu=gpu)
        if found is None:
            reason = "no automatic remedy is left to try; see the diagnosis for what to do"
            break
        plan, attempt.remedy = found
    else:
        reason = f"still failing after {max_attempts} attempts"
    if not reason:
        reason = "the export failed; rerun with --auto-fix to apply the safe remedies"
    return _with_route(
        RecoveryOutcome("failed", str(plan.output), attempts, reason), fallback, report
    )


def _with_route(
    result: RecoveryOutcome, fallback: dict[str, Any] | None, report: Mapping[str, Any] | None
) -> RecoveryOutcome:
    """Say plainly which route made the files when it was not optimum's own export."""
    final = result.final
    if fallback and final and final.outcome.route:
        from onnx_wizard.fallback.routes import describe_route

        result.route = describe_route(
            final.outcome.route,
            model_type=(report or {}).get("model_type"),
            validation=final.outcome.validation,
            supported=bool((report or {}).get("supported")),
        )
    return result


def ladder_after_optimum(
    report: Mapping[str, Any], result: RecoveryOutcome
) -> dict[str, Any] | None:
    """The fallback ladder's job when optimum's export of a type it supports failed (not when
    it was cancelled or stopped for memory or time, which another route would not fix).

    The CLI's ``--auto-fix`` runs it as the last resort; the wizard offers it as a fix."""
    if result.status != "failed" or report.get("library", "transformers") != "transformers":
        return None
    final = result.final
    outcome = final.outcome if final else None
    from onnx_wizard.fallback.routes import plan_unhonoured

    if final is not None and plan_unhonoured(final.plan):
        return None  # the routes would drop options the user chose (fp16, the optimizer, ...)
    if (
        outcome is None
        or outcome.stopped_for_memory
        or outcome.killed_by_system
        or outcome.timed_out
    ):
        return None
    from onnx_wizard.fallback.routes import auto_offer, fallback_job

    return fallback_job(auto_offer(dict(report)))
