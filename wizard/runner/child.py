"""Child process that runs one export and streams JSON-lines events to its parent.

Usage: ``python -m onnx_wizard.runner.child JOB.json``. The job holds the plan's ``main_export``
keywords and the validation settings. Events go to the process's original stdout, one JSON object
a line; everything the libraries print is moved to stderr, which the parent keeps as the log.
This module imports torch, transformers and optimum, so only the runner starts it, never imports.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

SUBMODEL = re.compile(r"Exporting submodel (\d+)/(\d+): (\w+)")
# Where each stage starts on the overall progress bar, by how long it takes on typical models.
STAGE_START = {"load": 0.0, "export": 0.15, "post_process": 0.7, "validate": 0.8, "done": 1.0}


class EventStream:
    """Writes events as JSON lines to the fd that was stdout when the child started."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def emit(self, event: str, **fields: Any) -> None:
        self.stream.write(json.dumps({"event": event, **fields}, default=str) + "\n")
        self.stream.flush()

    def stage(self, stage: str, label: str, fraction: float | None = None) -> None:
        self.emit("progress", fraction=STAGE_START[stage] if fraction is None else fraction)
        self.emit("stage", stage=stage, label=label)


class StageWatcher(logging.Handler):
    """Turns optimum's INFO log lines into stage events (it has no progress callback)."""

    def __init__(self, events: EventStream) -> None:
        super().__init__(logging.INFO)
        self.events = events

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        found = SUBMODEL.search(message)
        if found:
            index, total, name = int(found[1]), int(found[2]), found[3]
            span = STAGE_START["post_process"] - STAGE_START["export"]
            fraction = STAGE_START["export"] + span * (index - 1) / total
            self.events.stage("export", f"exporting submodel {index}/{total} ({name})", fraction)
        elif message.startswith("Post-processing the exported models"):
            self.events.stage("post_process", "post-processing (tied weights, decoder merge)")


def redirect_stdout_to_stderr() -> TextIO:
    """Keep the real stdout for events; point fd 1 at stderr so library prints join the log."""
    events_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(events_fd, "w", buffering=1, encoding="utf-8")


def list_files(folder: Path) -> list[dict[str, Any]]:
    return [
        {"name": str(path.relative_to(folder)), "bytes": path.stat().st_size}
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    ]


@contextlib.contextmanager
def keep_exported_model() -> Iterator[dict[str, Any]]:
    """While open, record the model that optimum's ``main_export`` loads and exports.

    Why: validation needs that same model as its PyTorch reference, and loading it again from
    disk costs a second load (and, briefly, a second copy in memory). ``main_export`` has no way
    to hand the model out, so the one name it calls with it, ``onnx_export_from_model`` in its
    own module's namespace, is wrapped while the export runs: the wrapper notes the model and
    calls the original unchanged. If a future optimum stops calling that name, nothing is
    recorded and validation loads the model from disk as before.
    """
    import optimum.exporters.onnx.__main__ as entry

    original = entry.onnx_export_from_model
    kept: dict[str, Any] = {}

    @functools.wraps(original)
    def recording(*args: Any, **kwargs: Any) -> Any:
        model = kwargs["model"] if "model" in kwargs else (args[0] if args else None)
        restore = _undo_export_changes(model)
        result = original(*args, **kwargs)
        restore()
        kept["model"] = model
        return result

    entry.onnx_export_from_model = recording
    try:
        yield kept
    finally:
        entry.onnx_export_from_model = original


def _undo_export_changes(model: Any) -> Callable[[], None]:
    """Note the state an export changes on ``model``; the function returned puts it back.

    optimum's ModelPatcher swaps ``forward`` during the export and on exit sets it back as an
    instance attribute (the bound original, or on transformers >= 4.54 a re-wrapped
    ``traceable_check_model_inputs`` version). It also sets ``use_cache`` (and the export sets
    ``return_dict``) on every submodule's config: after a seq2seq export, T5's encoder config
    says ``use_cache=True`` and the encoder refuses to run. Undoing exactly what changed gives
    back the model as main_export loaded it; instance forwards that were there before (hooks)
    stay."""
    from transformers import PretrainedConfig

    modules = list(model.modules()) if callable(getattr(model, "modules", None)) else []
    own_forwards = {id(m) for m in modules if "forward" in vars(m)}
    configs: dict[int, tuple[Any, dict[str, Any]]] = {}
    for module in modules:
        config = getattr(module, "config", None)
        if isinstance(config, PretrainedConfig) and id(config) not in configs:
            configs[id(config)] = (config, dict(vars(config)))

    def restore() -> None:
        for module in modules:
            if id(module) not in own_forwards:
                vars(module).pop("forward", None)
        for config, saved in configs.values():
            vars(config).clear()
            vars(config).update(saved)

    return restore


def run(job: dict[str, Any], events: EventStream) -> int:
    events.stage("load", "loading the model and its ONNX configuration")
    from optimum.exporters.onnx import main_export

    # After the import: optimum configures its root logger (level WARNING) when first used.
    optimum_logger = logging.getLogger("optimum")
    optimum_logger.setLevel(logging.INFO)
    optimum_logger.addHandler(StageWatcher(events))

    kwargs = dict(job["main_export"])
    # The wizard validates on real inputs itself (below); optimum's dummy-input pass would only
    # repeat part of that work, so it is skipped to keep the export as fast as optimum-cli's.
    kwargs["do_validation"] = False
    route: dict[str, Any] | None = None
    kept: dict[str, Any] = {}
    if job.get("fallback"):
        # optimum cannot export this model type: take the route the user chose (fallback.py).
        from onnx_wizard.fallback.child import run_job

        route = run_job(job, events)
        kwargs["task"] = route["task"]  # the torch routes drop -with-past
    else:
        with keep_exported_model() as kept:
            main_export(**kwargs)

    output = Path(kwargs["output"])
    report: dict[str, Any] | None = None
    if route is not None and route.get("validation") is not None:
        # The fallback ladder validated its export already, at untraced shapes on inputs built
        # for the model's modality (images, audio too): keep that report.
        report = route.pop("validation")
    elif job.get("validate", True):
        events.stage("validate", "validating against PyTorch on real inputs")
        from onnx_wizard.validation.child import validate

        if "model" not in kept:
            print("onnx-wizard: optimum did not hand over its model; reloading it", file=sys.stderr)
        result = validate(
            job["model_path"],
            str(output),
            kwargs["task"],
            job.get("atol"),
            kwargs.get("library_name"),
            reference=kept.pop("model", None),
            tokenizer=job.get("tokenizer"),
        )
        report = result.to_dict()
    events.emit("progress", fraction=1.0)
    events.emit("result", files=list_files(output), validation=report, route=route)
    return 0


def main(argv: list[str]) -> int:
    from onnx_wizard.lifeline import tie_to_parent

    tie_to_parent()  # this export ends when the wizard that started it ends
    events = EventStream(redirect_stdout_to_stderr())
    job = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    try:
        return run(job, events)
    except BaseException as error:  # report everything, even SystemExit from a library
        events.emit(
            "error",
            type=type(error).__name__,
            message=str(error),
            traceback=traceback.format_exc(),
        )
        traceback.print_exc()
        return 1


def exit_now(code: int) -> None:
    """End the process without the interpreter's teardown, once everything is flushed.

    Why: with torch, transformers and onnxruntime loaded, a normal exit spends ~1.1 s (more on a
    busy machine) freeing modules and running their exit hooks, all after the result event was
    sent: time the user waits for nothing. Nothing here needs that teardown: every file is
    written and closed, and the events and the log are flushed just below."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        with contextlib.suppress(Exception):
            stream.flush()  # type: ignore[union-attr]
    with contextlib.suppress(Exception):  # C-level buffers of libraries that print from C/C++
        import ctypes

        ctypes.CDLL(None).fflush(None)
    os._exit(code)


if __name__ == "__main__":
    exit_now(main(sys.argv[1:]))
