"""Reproduce onnxruntime quantization failures with the installed stack; write their logs.

Run: python tests/corpus/reproduce_quant.py OUTDIR. Each case quantizes a real tiny BERT export
(quantize_dynamic, quantize_static, MatMulNBitsQuantizer) the wrong way and stores what it
printed, so the corpus holds today's wording. Not part of the test suite; build.py reads
OUTDIR/quant_variants.jsonl with ``--reproduced OUTDIR``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from reproduce_js import exported_bert  # the same real export, made once

# quantize_dynamic with a removed argument and with a text weight type are already reproduced
# by reproduce.py (families quant-kwarg and quant-weight-type); these are the other calls.
CASES = {
    "quant-static-no-reader": """
        from onnxruntime.quantization import quantize_static
        quantize_static('bert.onnx', 'q3.onnx', None)
        """,
    "quant-nbits-kwarg": """
        import onnx
        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
        q = MatMulNBitsQuantizer(onnx.load('bert.onnx'), block_size=32, is_symmetric=True,
                                 bits=4, accuracy_level=4, nodes_to_exclude=[], algo='rtn')
        q.process()
        """,
}


def main(out: Path) -> None:
    work = out / "work-quant"
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy(exported_bert(out) / "model.onnx", work / "bert.onnx")
    rows = []
    for name, code in CASES.items():
        argv = [sys.executable, "-c", textwrap.dedent(code)]
        done = subprocess.run(argv, cwd=work, capture_output=True, text=True, timeout=600)
        log = (done.stdout + done.stderr)[-6000:]
        rows.append(
            {
                "name": name,
                "command": f"python -c <{name}>",
                "log": log,
                "failed": str(done.returncode != 0),
            }
        )
        print(name, done.returncode, log.strip().splitlines()[-1][:160] if log.strip() else "")
    (out / "quant_variants.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
