"""The engine stays light: importing it, or asking for --help, loads no heavy or UI library."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import onnx_wizard

HEAVY = ("torch", "transformers", "optimum", "onnxruntime", "onnx")
UI = ("textual", "ipywidgets", "IPython")

# Modules that exist to do heavy work, and only ever run as child processes.
CHILD_PROCESS_MODULES = {
    "onnx_wizard.inspection.sample_build",
    "onnx_wizard.validation.child",
    "onnx_wizard.quantize.measure",  # imported only by onnx_wizard.quantize.child
    "onnx_wizard.quantize.recipes",
    "onnx_wizard.quantize.float16",
    "onnx_wizard.quantize.sensitivity",
}


def engine_modules() -> list[str]:
    names = ["onnx_wizard"]
    for info in pkgutil.walk_packages(onnx_wizard.__path__, "onnx_wizard."):
        if info.name.startswith("onnx_wizard.widgets") or info.name == "onnx_wizard.__main__":
            continue
        if info.name not in CHILD_PROCESS_MODULES:
            names.append(info.name)
    return names


def loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    modules = json.loads(done.stdout.strip().splitlines()[-1])
    return {name.split(".")[0] for name in modules}


def test_engine_module_list_is_not_empty() -> None:
    expected = {"onnx_wizard.cli.main", "onnx_wizard.inspection.source", "onnx_wizard.flow.engine"}
    assert expected <= set(engine_modules())


@pytest.mark.parametrize("module", engine_modules())
def test_engine_module_imports_nothing_heavy(module: str) -> None:
    loaded = loaded_after(f"import {module}")
    assert not loaded & set(HEAVY + UI), f"{module} pulled in {sorted(loaded & set(HEAVY + UI))}"


def test_knowledge_package_is_light() -> None:
    loaded = loaded_after("import onnx_wizard.knowledge")
    assert not loaded & set(HEAVY + UI)


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import sys\nfrom onnx_wizard.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    )
    loaded = loaded_after(code)
    assert not loaded & set(HEAVY + UI)


def test_console_script_help_works(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "onnx_wizard", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("check", "inspect", "plan", "demo"):
        assert command in done.stdout
