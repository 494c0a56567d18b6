"""Coverage benchmark: every transformers model type, built tiny, exported by optimum-cli's code
path and by onnx-wizard's --auto-fix ladder, side by side. Not CI: it runs for tens of minutes.

    nice -n 15 python bench/coverage.py --lanes 2 --budget-minutes 60   # resumes where it stopped
    python bench/coverage.py --table-only                               # rewrite the table

Per type, in a long-lived worker process (one per lane; a fresh one after a crash, a timeout or
too much memory): build a tiny random model for its main task (bench/tiny.py), save it, run
optimum's ``main_export`` on the folder exactly as ``optimum-cli export onnx --task T`` does
(with its own validation), then the wizard's route: optimum's export validated on config-built
inputs at untraced shapes, and when that fails or optimum cannot export the type, the fallback
ladder (``onnx_wizard.fallback.ladder.first_validated``) in measured order. One JSON line per
type goes to bench/results/coverage.jsonl; docs/coverage.md and the route outlook data
(wizard/fallback/data/coverage.json) are generated from it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "coverage.jsonl"
TABLE = ROOT / "docs" / "coverage.md"
OUTLOOK = ROOT / "wizard" / "fallback" / "data" / "coverage.json"


# ----------------------------------------------------------------------------- worker side
def _first(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"[:400]


def run_type(model_type: str, work: Path) -> dict[str, Any]:
    """Build, export with optimum and with the wizard, for one model type."""
    import shutil

    import torch

    sys.path.insert(0, str(ROOT / "bench"))
    import tiny

    from onnx_wizard.fallback.ladder import first_validated
    from onnx_wizard.fallback.lineage import optimum_tasks, registered_types
    from onnx_wizard.fallback.verify import verify_export

    record: dict[str, Any] = {"model_type": model_type}
    registered = model_type in registered_types()
    record["registered"] = registered
    started = time.monotonic()
    built = tiny.build(model_type, optimum_tasks=frozenset(optimum_tasks(model_type)))
    record.update(
        built=built.model is not None, task=built.task, modality=built.modality,
        parameters=built.parameters, shrink=built.shrink, build_error=built.error,
        build_seconds=round(time.monotonic() - started, 2),
    )  # fmt: skip
    if built.model is None:
        return record
    model, task = built.model, built.task
    if work.exists():
        shutil.rmtree(work)
    folder = work / "model"
    try:
        model.save_pretrained(folder)
    except Exception as error:
        record["save_error"] = _first(error)
    # optimum-cli's path: main_export on the folder, with optimum's own validation.
    optimum_out = work / "optimum"
    started = time.monotonic()
    try:
        from optimum.exporters.onnx import main_export

        main_export(str(folder), str(optimum_out), task=task, do_validation=True)
        record["optimum"] = {"ok": True}
    except BaseException as error:  # optimum raises SystemExit-free errors; keep going anyway
        record["optimum"] = {"ok": False, "error": _first(error)}
    record["optimum"]["seconds"] = round(time.monotonic() - started, 2)
    # The wizard: optimum's export validated at untraced shapes, else the fallback ladder.
    started = time.monotonic()
    wizard: dict[str, Any] = {"ok": False, "route": None}
    if record["optimum"]["ok"]:
        try:
            report = verify_export(model, optimum_out, task)
            passed = bool(report.passed and report.checks)
            wizard.update(ok=passed, route="optimum" if passed else None)
            if not passed:
                wizard["optimum_validation"] = report.error or "outputs differ beyond tolerance"
        except Exception as error:
            wizard["optimum_validation"] = _first(error)
    if not wizard["ok"]:
        torch.manual_seed(0)
        result, tries = first_validated(model, task, work / "fallback")
        wizard["tries"] = [
            {k: t.get(k) for k in ("route", "related_model_type", "error", "passed")}
            | ({"validation_error": t["validation"].get("error")} if "validation" in t else {})
            for t in tries
        ]
        if result is not None:
            wizard.update(
                ok=True, route=result["route"], related=result["related_model_type"],
                kv_cache=result["kv_cache"], files=result["files"], task=result["task"],
            )  # fmt: skip
        else:
            wizard["error"] = _last_error(wizard["tries"]) or "no route applies"
    elif "with-past" in task or task.startswith("automatic-speech-recognition-with"):
        wizard["kv_cache"] = True
    wizard["seconds"] = round(time.monotonic() - started, 2)
    record["wizard"] = wizard
    shutil.rmtree(work, ignore_errors=True)
    return record


def _last_error(tries: list[dict[str, Any]]) -> str:
    for entry in reversed(tries):
        text = entry.get("error") or entry.get("validation_error")
        if text:
            return str(text)[:400]
    return ""


def worker_main(work_root: Path) -> int:
    """Read model types from stdin, one a line; write one JSON result a line to the real stdout."""
    import gc
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # library prints go to stderr
    sys.stdout = sys.stderr
    import torch

    torch.set_num_threads(1)
    for line in sys.stdin:
        model_type = line.strip()
        if not model_type:
            continue
        try:
            record = run_type(model_type, work_root / model_type.replace("/", "_"))
        except BaseException as error:
            record = {"model_type": model_type, "worker_error": _first(error)}
        out.write(json.dumps(record, default=str) + "\n")
        gc.collect()
    return 0


# ----------------------------------------------------------------------------- parent side
class Lane:
    """One long-lived worker; restarted after a crash, a timeout or a memory overrun."""

    def __init__(self, work: Path, memory_limit: int) -> None:
        self.work, self.memory_limit = work, memory_limit
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> subprocess.Popen[str]:
        if self.process is None or self.process.poll() is not None:
            self.work.mkdir(parents=True, exist_ok=True)
            log = (self.work.parent / f"{self.work.name}.log").open("a")  # worker's stderr
            env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
            self.process = subprocess.Popen(
                [sys.executable, __file__, "--worker", str(self.work)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, env=env,
            )  # fmt: skip
        return self.process

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def run(self, model_type: str, timeout: float) -> dict[str, Any]:
        import psutil

        process = self.start()
        assert process.stdin and process.stdout
        process.stdin.write(model_type + "\n")
        process.stdin.flush()
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(process.stdout.readline()))
        reader.start()
        started, peak, why = time.monotonic(), 0, ""
        handle = psutil.Process(process.pid)
        while reader.is_alive():
            reader.join(0.25)
            try:
                rss = handle.memory_info().rss
            except psutil.Error:
                rss = 0
            peak = max(peak, rss)
            if rss > self.memory_limit:
                why = f"stopped: over {self.memory_limit >> 20} MB"
            elif time.monotonic() - started > timeout:
                why = f"stopped: over {timeout:.0f} s"
            if why:
                self.stop()
                reader.join()
                break
        seconds = round(time.monotonic() - started, 2)
        text = line[0] if line else ""
        if why or not text.strip():
            self.stop()
            return {"model_type": model_type, "worker_error": why or "worker crashed",
                    "seconds": seconds, "peak_rss_mb": peak >> 20}  # fmt: skip
        record = json.loads(text)
        record.update(seconds=seconds, peak_rss_mb=peak >> 20)
        return record


def all_types() -> list[str]:
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    return list(CONFIG_MAPPING_NAMES)


def load_results(path: Path) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {row["model_type"]: row for row in rows}


def run(args: argparse.Namespace) -> None:
    done = load_results(args.results)
    todo = [t for t in (args.types or all_types()) if t not in done or args.rerun]
    # A fixed shuffle: a run stopped early still measures a fair sample of all types.
    random.Random(14).shuffle(todo)
    print(f"{len(done)} types already measured, {len(todo)} to go", file=sys.stderr)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    lock, queue = threading.Lock(), list(todo)
    work = Path(args.work)
    deadline = time.monotonic() + args.budget_minutes * 60 if args.budget_minutes else None

    def lane_loop(index: int) -> None:
        lane = Lane(work / f"lane-{index}", int(args.max_memory_gb * 2**30))
        while True:
            with lock:
                if not queue or (deadline and time.monotonic() > deadline):
                    break
                model_type = queue.pop(0)
            record = lane.run(model_type, args.timeout)
            with lock, args.results.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record, default=str) + "\n")
                wizard = record.get("wizard", {})
                print(
                    f"{model_type:<32} built={record.get('built')} "
                    f"optimum={record.get('optimum', {}).get('ok')} "
                    f"wizard={wizard.get('route')} {record.get('seconds')}s "
                    f"{record.get('worker_error', '')}",
                    file=sys.stderr, flush=True,
                )  # fmt: skip
        lane.stop()

    threads = [threading.Thread(target=lane_loop, args=(i,)) for i in range(args.lanes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--lanes", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=150)
    parser.add_argument("--max-memory-gb", type=float, default=6)
    parser.add_argument("--budget-minutes", type=float, default=0, help="stop taking new types")
    parser.add_argument("--types", nargs="*", help="only these model types")
    parser.add_argument("--rerun", action="store_true", help="measure listed types again")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--work", default="/tmp/onnx-wizard-coverage")
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args()
    if args.worker:
        return worker_main(Path(args.worker))
    if not args.table_only:
        run(args)
    if args.results.resolve() != RESULTS.resolve():
        # A trial run into other results must not overwrite the committed table and outlook.
        print(f"results in {args.results}; docs/coverage.md left as it is", file=sys.stderr)
        return 0
    from coverage_table import write_outputs  # bench/coverage_table.py

    write_outputs(load_results(args.results), len(all_types()), TABLE, OUTLOOK)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
