"""Transformers.js in Node, the real client: installed once per machine, run offline.

``npm install --ignore-scripts @huggingface/transformers@4`` goes into
``~/.cache/onnx-wizard-tests/node`` or ``$ONNX_WIZARD_NODE_CACHE`` (``--ignore-scripts``:
onnxruntime-node's post-install tries to download a CUDA add-on; the CPU binary ships inside).
A file lock keeps two test processes from installing at once. Scripts are ES modules run from
that folder, so ``import '@huggingface/transformers'`` resolves there.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

# The same folder (and variable) as .ci/run and tests/test_quantize.py use.
NODE_HOME = Path(
    os.environ.get("ONNX_WIZARD_NODE_CACHE", Path.home() / ".cache" / "onnx-wizard-tests" / "node")
)
PACKAGE = "@huggingface/transformers@4"


def transformers_js() -> Path:
    """The folder with Transformers.js installed (installing it the first time, ~10 s)."""
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("Node.js and npm are needed for the Transformers.js check")
    NODE_HOME.mkdir(parents=True, exist_ok=True)
    with (NODE_HOME / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (NODE_HOME / "node_modules" / "@huggingface" / "transformers").is_dir():
            (NODE_HOME / "package.json").write_text(
                json.dumps({"name": "onnx-wizard-tests", "private": True, "type": "module"})
            )
            done = subprocess.run(
                ["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund", PACKAGE],
                cwd=NODE_HOME,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert done.returncode == 0, f"npm install failed:\n{done.stderr[-2000:]}"
    return NODE_HOME


def run_node(script: str, *, timeout: int = 180) -> Any:
    """Run an ES module script; it must print one JSON value last. Returns that value."""
    home = transformers_js()
    path = home / f"run-{uuid.uuid4().hex}.mjs"
    path.write_text(script, encoding="utf-8")
    try:
        done = subprocess.run(
            ["node", str(path)], cwd=home, capture_output=True, text=True, timeout=timeout
        )
    finally:
        path.unlink(missing_ok=True)
    assert done.returncode == 0, f"node failed:\n{done.stderr[-3000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def offline_prelude(models_dir: Path) -> str:
    """The lines that make Transformers.js load only from ``models_dir``, never the network."""
    return (
        "import { pipeline, env } from '@huggingface/transformers';\n"
        "env.allowRemoteModels = false;\n"
        f"env.localModelPath = {json.dumps(str(models_dir) + '/')};\n"
    )
