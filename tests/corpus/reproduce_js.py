"""Reproduce Transformers.js failures in Node with the installed stack; write their logs.

Run: python tests/corpus/reproduce_js.py OUTDIR [NODE_DIR]. NODE_DIR holds node_modules with
@huggingface/transformers (default: the test suite's cache). Each case lays out a local model
folder from a real tiny export and runs a short Node script against it, so the corpus holds
today's wording of Transformers.js errors. Not part of the test suite; build.py reads
OUTDIR/js_variants.jsonl with ``--reproduced OUTDIR``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from onnx_wizard.inspection.samples import ensure_sample

NODE_DIR = Path.home() / ".cache" / "onnx-wizard-tests" / "node"
HEADER = "import { env, pipeline, AutoModel } from '@huggingface/transformers';\n"


def exported_bert(work: Path) -> Path:
    """A real optimum export of the tiny BERT sample (made once)."""
    out = work / "bert-export"
    if not (out / "model.onnx").exists():
        model = ensure_sample("bert-classifier")
        argv = ["optimum-cli", "export", "onnx", "--model", str(model)]
        argv += ["--task", "text-classification", str(out)]
        subprocess.run(argv, check=True, capture_output=True, timeout=600)
    return out


def js_layout(export: Path, folder: Path) -> Path:
    """The folder layout Transformers.js loads: config and tokenizer files, onnx/model.onnx."""
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "onnx").mkdir(parents=True)
    for item in export.iterdir():
        if item.suffix == ".onnx":
            shutil.copy(item, folder / "onnx" / item.name)
        elif item.is_file():
            shutil.copy(item, folder / item.name)
    return folder


def run_node(work: Path, name: str, body: str) -> str:
    script = work / f"{name}.mjs"
    script.write_text(HEADER + f"env.localModelPath = {str(work / 'models') + '/'!r};\n" + body)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        ["node", str(script)], cwd=work, capture_output=True, text=True, env=env, timeout=300
    )
    log = (done.stdout + done.stderr)[-6000:]
    return log if done.returncode else log + "\n(exit code 0)"


def main(out: Path, node_dir: Path) -> None:
    work = out / "work-js"
    (work / "models").mkdir(parents=True, exist_ok=True)
    link = work / "node_modules"
    if not link.exists():
        link.symlink_to(node_dir / "node_modules")
    export = exported_bert(out)
    models = work / "models"
    js_layout(export, models / "bert")
    odd = js_layout(export, models / "odd-type")
    config = json.loads((odd / "config.json").read_text())
    (odd / "config.json").write_text(json.dumps({**config, "model_type": "frobnet"}))
    broken = js_layout(export, models / "broken")
    (broken / "onnx" / "model.onnx").write_bytes(b"not a model\n" * 20)
    external = js_layout(export, models / "external")
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import onnx, sys; m = onnx.load(sys.argv[1]); "
            "onnx.save(m, sys.argv[1], save_as_external_data=True, location='model.onnx_data', "
            "size_threshold=0)",
            str(external / "onnx" / "model.onnx"),
        ],
        check=True,
    )
    (external / "onnx" / "model.onnx_data").unlink()

    # No unknown-pipeline case: OW-TJS-006 carries that very run as its own example, so such a
    # log could never be one the catalogue has not seen.
    cases = {
        "js-dtype-missing": "env.allowRemoteModels = false;\n"
        "await pipeline('text-classification', 'bert', { dtype: 'q4' });\n",
        "js-no-sources": "env.allowRemoteModels = false; env.allowLocalModels = false;\n"
        "await pipeline('text-classification', 'bert');\n",
        "js-unknown-type": "env.allowRemoteModels = false;\n"
        "await pipeline('text-classification', 'odd-type', { dtype: 'fp32' });\n",
        "js-broken-onnx": "env.allowRemoteModels = false;\n"
        "await AutoModel.from_pretrained('broken', { dtype: 'fp32' });\n",
        "js-external-missing": "env.allowRemoteModels = false;\n"
        "await AutoModel.from_pretrained('external', { dtype: 'fp32' });\n",
    }
    rows = []
    for name, body in cases.items():
        log = run_node(work, name, body)
        rows.append(
            {
                "name": name,
                "command": f"node {name}.mjs",
                "log": log.replace(str(work) + "/", ""),
                "failed": str("(exit code 0)" not in log),
            }
        )
        print(name, "->", log.strip().splitlines()[-1][:160] if log.strip() else "(empty)")
    (out / "js_variants.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else NODE_DIR)
