"""Run one export in a child process: live events, a memory guard, cancel, and a clean target.

The child (``onnx_wizard.runner.child``) writes into a staging folder beside the target; only a
complete, validated export is moved into place (``runner.promote``: the user's other files are
kept), so a failed, cancelled or timed-out run leaves the target exactly as it was. The child runs
in its own process group, so cancel ends its whole tree, and it ends when this process ends
(``onnx_wizard.lifeline``). One run per output folder at a time (``runner.lock``); what a run
that died left beside its target is removed when the next one starts.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from onnx_wizard.lifeline import child_environment
from onnx_wizard.planning.memory import format_size
from onnx_wizard.planning.output import refuse_protected
from onnx_wizard.planning.plan import ExportPlan
from onnx_wizard.runner import leftovers, lock
from onnx_wizard.runner.promote import promote
from onnx_wizard.secrets import mask_secrets
from onnx_wizard.staging import make_staging, sweep_stale

Event = dict[str, Any]
EventSink = Callable[[Event], None]
# "not_validated": the export ran and was not compared with PyTorch (only when the caller asked
# for no validation); never counted as ok.
RunStatus = Literal["ok", "failed", "cancelled", "not_validated"]
POLL_SECONDS = 0.1
GRACE_SECONDS = 0.5  # between SIGTERM and SIGKILL when cancelling


@dataclass
class RunOutcome:
    status: RunStatus
    output: str
    files: list[dict[str, Any]] = field(default_factory=list)
    validation: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    log_path: str = ""
    peak_rss: int = 0
    memory_limit: int | None = None
    stopped_for_memory: bool = False
    killed_by_system: bool = False
    returncode: int | None = None
    seconds: float = 0.0
    stage: str = ""  # the last stage the child reached (where a failure happened)
    route: dict[str, Any] | None = None  # how a fallback export was made, when one was used
    timed_out: bool = False
    kept: list[str] = field(default_factory=list)  # files in the target it did not write, kept
    backup: str | None = None  # where the files it did not write but had to replace went

    def log_text(self) -> str:
        try:
            return Path(self.log_path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "output": self.output,
            "files": self.files,
            "validation": self.validation,
            "error": self.error,
            "log": self.log_path,
            "peak_rss": self.peak_rss,
            "memory_limit": self.memory_limit,
            "stopped_for_memory": self.stopped_for_memory,
            "killed_by_system": self.killed_by_system,
            "seconds": round(self.seconds, 2),
            "stage": self.stage,
            "route": self.route,
            "timed_out": self.timed_out,
            "kept": self.kept,
            "backup": self.backup,
        }


def tree_rss(pid: int) -> int:
    """Resident memory of a process and all its descendants, in bytes (0 once it is gone)."""
    import psutil

    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            continue  # it ended between listing and reading
    return total


class ExportRun:
    """One export attempt. ``start()``, then ``wait()``; ``cancel()`` from any thread."""

    def __init__(
        self,
        plan: ExportPlan,
        *,
        log_path: Path,
        validate: bool = True,
        memory_limit: int | None = None,
        on_event: EventSink | None = None,
        fallback: dict[str, Any] | None = None,
        timeout: float | None = None,
        tokenizer: str | None = None,
    ) -> None:
        self.plan = plan
        self.timeout = timeout  # seconds from start(); the run is stopped past it
        self.tokenizer = tokenizer  # a tokenizer from elsewhere, for validation
        self.fallback = fallback  # a route for models optimum cannot export (see fallback.py)
        self.target = Path(plan.output).expanduser().absolute()
        self.log_path = log_path
        self.validate = validate
        self.memory_limit = memory_limit
        self.on_event = on_event or (lambda event: None)
        self._cancelled = threading.Event()
        self._stopped_for_memory = False
        self._peak = 0
        self._result: Event | None = None
        self._error: Event | None = None
        self._stage = ""
        self._timed_out = False
        self._process: subprocess.Popen[str] | None = None
        self._locked = False

    # ---- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the child. WizardError (nothing touched) for a protected or busy output."""
        refuse_protected(self.target, source=self.plan.model)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        lock.acquire(self.target)  # raises while another wizard exports here
        self._locked = True
        try:
            sweep_stale(self.target.parent)  # what a run that died left here
            self.staging = make_staging(self.target)
            self.job_path = self.staging.with_name(self.staging.name + ".job.json")
            leftovers.register(self.staging.parent)
            self._start_child()
        except BaseException:
            self._cleanup()
            raise

    def _start_child(self) -> None:
        job = {
            "main_export": self.plan.replace(output=str(self.staging)).to_main_export_kwargs(),
            "model_path": self.plan.model,
            "atol": self.plan.atol,
            "validate": self.validate,
            "fallback": self.fallback,
            "tokenizer": self.tokenizer,
        }
        self.job_path.write_text(json.dumps(job), encoding="utf-8")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("w", encoding="utf-8")
        self._log.write(f"$ {mask_secrets(self.plan.to_command())}\n")
        self._started = time.monotonic()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "onnx_wizard.runner.child", str(self.job_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            start_new_session=True,  # its own process group: cancel ends the whole tree
            # The child ends when this process ends (onnx_wizard.lifeline). Linux delivers that when
            # the *thread* that started it ends, so start() and wait() belong in one thread.
            env=child_environment({**os.environ, "PYTHONUNBUFFERED": "1", "TQDM_DISABLE": "1"}),
        )
        self._readers = [
            threading.Thread(target=self._read_events, daemon=True),
            threading.Thread(target=self._read_log, daemon=True),
            threading.Thread(target=self._watch_memory, daemon=True),
        ]
        if self._cancelled.is_set():  # cancel() came while the child was starting
            self._kill(graceful=False)
        for thread in self._readers:
            thread.start()
        self.on_event(
            {"event": "started", "pid": self._process.pid, "command": self.plan.to_command()}
        )

    def cancel(self) -> None:
        """Stop the export now; its whole process tree ends within about a second."""
        self._cancelled.set()
        self._kill(graceful=True)

    def wait(self) -> RunOutcome:
        assert self._process is not None, "start() first"
        returncode = self._process.wait()
        for thread in self._readers:
            thread.join(timeout=5)
        outcome = self._finish(returncode)
        self.on_event({"event": "finished", **outcome.to_dict()})
        return outcome

    def run(self) -> RunOutcome:
        self.start()
        return self.wait()

    # ---- threads ------------------------------------------------------------------------------

    def _read_events(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            try:
                event = json.loads(mask_secrets(line))
            except json.JSONDecodeError:
                continue
            if event.get("event") == "result":
                self._result = event
            elif event.get("event") == "error":
                self._error = event
            elif event.get("event") == "stage":
                self._stage = str(event.get("stage"))
            self.on_event(event)

    def _read_log(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        for line in self._process.stderr:
            line = mask_secrets(line)  # a token a library printed never reaches the log
            self._log.write(line)
            self.on_event({"event": "log", "line": line.rstrip("\n")})

    def _watch_memory(self) -> None:
        assert self._process is not None
        last_report = 0.0
        while self._process.poll() is None:
            rss = tree_rss(self._process.pid)
            self._peak = max(self._peak, rss)
            if self.memory_limit and rss > self.memory_limit and not self._stopped_for_memory:
                self._stopped_for_memory = True
                self._kill(graceful=False)
            if self.timeout and time.monotonic() - self._started > self.timeout:
                self._timed_out = True
                self._kill(graceful=True)
            now = time.monotonic()
            if now - last_report >= 0.5:
                self.on_event({"event": "memory", "rss": rss, "peak": self._peak})
                last_report = now
            time.sleep(POLL_SECONDS)

    def _kill(self, *, graceful: bool) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        try:
            group = os.getpgid(process.pid)
            if graceful:
                os.killpg(group, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=GRACE_SECONDS)
            os.killpg(group, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass  # already gone

    # ---- the end ------------------------------------------------------------------------------

    def _finish(self, returncode: int) -> RunOutcome:
        try:
            return self._outcome(returncode)
        finally:
            self._cleanup()

    def _outcome(self, returncode: int) -> RunOutcome:
        outcome = RunOutcome(
            status="failed",
            output=str(self.target),
            log_path=str(self.log_path),
            peak_rss=self._peak,
            memory_limit=self.memory_limit,
            stopped_for_memory=self._stopped_for_memory,
            returncode=returncode,
            seconds=time.monotonic() - self._started,
            stage=self._stage,
            timed_out=self._timed_out,
        )
        if self._cancelled.is_set():
            outcome.status = "cancelled"
            self._log.write("onnx-wizard: the export was cancelled; the output was not touched.\n")
        elif self._timed_out:
            self._log.write(
                f"onnx-wizard: TimeoutError: the export did not finish within {self.timeout:g} s "
                "(--timeout) and was stopped; the output was not touched.\n"
            )
        elif self._stopped_for_memory:
            limit = format_size(self.memory_limit or 0)
            self._log.write(
                "onnx-wizard: MemoryError: out of memory: the memory guard stopped the export at "
                f"{format_size(self._peak)} because it passed the limit of {limit} "
                "(--max-memory).\n"
            )
        elif returncode == -signal.SIGKILL:
            outcome.killed_by_system = True
            self._log.write(
                "onnx-wizard: Killed: the export process was ended by SIGKILL (exit 137), which is "
                "how the kernel's OOM killer stops a process that ran out of memory.\n"
            )
        elif returncode == 0 and self._result is not None:
            outcome.files = self._result.get("files", [])
            outcome.validation = self._result.get("validation")
            outcome.route = self._result.get("route")
            # An export whose outputs do not match PyTorch is a failure, and never lands in the
            # target: the user's folder only ever receives an export that passed validation, or
            # one the caller chose not to validate (said as "not_validated", never "ok").
            if outcome.validation is not None and outcome.validation.get("passed"):
                outcome.status = "ok"
            elif outcome.validation is None and not self.validate:
                outcome.status = "not_validated"
        outcome.error = (
            None if outcome.status in ("ok", "not_validated") else self._error_summary(returncode)
        )
        if outcome.error is None:
            self._promote_into(outcome)
        self._log.close()
        return outcome

    def _promote_into(self, outcome: RunOutcome) -> None:
        """Promote the staged export; a failure (full disk, read-only parent) fails the run."""
        try:
            done = promote(self.staging, self.target)
        except OSError as error:
            outcome.status = "failed"
            outcome.error = {
                "type": type(error).__name__,
                "message": f"the finished export could not be moved into place: {error}; the "
                "output was not touched",
            }
            self._log.write(f"onnx-wizard: {type(error).__name__}: {error}\n")
            return
        outcome.kept, outcome.backup = done.kept, done.backup
        if done.backed_up:
            self._log.write(
                f"onnx-wizard: kept {len(done.backed_up)} file(s) it did not write, which the new "
                f"export replaces, in {done.backup}\n"
            )

    def _error_summary(self, returncode: int) -> dict[str, Any]:
        if self._timed_out:
            return {"type": "Timeout", "message": f"stopped after {self.timeout:g} s (--timeout)"}
        validation = (self._result or {}).get("validation") or {}
        if returncode == 0 and validation and not validation.get("passed"):
            return {"type": "ValidationFailed", "message": "outputs differ from PyTorch's"}
        if returncode == 0 and self._result is not None and self.validate:
            return {"type": "NotValidated", "message": "the export child reported no validation"}
        if self._error:
            return {"type": self._error.get("type"), "message": self._error.get("message")}
        return {"type": "ExitCode", "message": f"the export process exited with {returncode}"}

    def _cleanup(self) -> None:
        """Remove the staging folder and job file, release the lock: on every path."""
        staging = getattr(self, "staging", None)
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
            self.job_path.unlink(missing_ok=True)
            leftovers.unregister(staging.parent)
        if self._locked:
            self._locked = False
            lock.release(self.target)


def log_dir_for(output: Path) -> Path:
    """A new folder for one run's logs, in the wizard's home beside the output's saved session:
    never in or beside the user's output. One folder per run, so a failed run's log stays at the
    path its failure message gave, even after a retry."""
    from datetime import datetime

    from onnx_wizard.paths import run_logs_dir

    return run_logs_dir(output) / f"run-{datetime.now().strftime('%Y%m%d-%H%M%S-%f')}"
