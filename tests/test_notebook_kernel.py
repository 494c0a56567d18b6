"""The notebook face in a real ipykernel, driven by nbclient: the quickstart runs end to end, and
another cell runs while an export is under way."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import nbclient
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

pytestmark = pytest.mark.slow

QUICKSTART = Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def execute(nb: Any, cwd: Path) -> None:
    """Run every cell in a fresh python3 kernel that sees this test's private wizard home."""
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    # The conftest fixture set ONNX_WIZARD_HOME for this test; the kernel inherits it.
    client.execute(env={**os.environ, "HF_HUB_OFFLINE": "1"})


def outputs(cell: Any) -> tuple[str, str, list[dict[str, Any]]]:
    """A cell's stdout, its HTML, and its data bundles."""
    text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    bundles = [o["data"] for o in cell.outputs if "data" in o]
    page = "".join(str(b.get("text/html", "")) for b in bundles)
    return text, page, bundles


def test_the_quickstart_notebook_runs_end_to_end(tmp_path: Path, sample_bert: Path) -> None:
    nb = nbformat.read(QUICKSTART, as_version=4)
    execute(nb, tmp_path)
    cells = {c.source.splitlines()[0]: c for c in nb.cells if c.cell_type == "code"}
    for cell in cells.values():
        assert not [o for o in cell.outputs if o.output_type == "error"], cell.source
    wizard_cell = next(c for c in cells.values() if "%onnx_wizard sample:" in c.source)
    _, _, bundles = outputs(wizard_cell)
    assert sum(WIDGET_VIEW in b for b in bundles) == 1  # shown once, though it is returned too
    # The saved output follows the wizard: a static viewer reads the last step and results.
    static = next(b for b in bundles if WIDGET_VIEW in b)
    assert "Done" in static["text/plain"] and "model.onnx" in static["text/html"]
    text, _, _ = outputs(next(c for c in cells.values() if "run_to_end" in c.source))
    assert "done - success" in text and "Validation passed" in text
    text, page, _ = outputs(next(c for c in cells.values() if "wizard.result" in c.source))
    assert "input_ids" in text and "model.onnx" in page and "ExportResult" in page
    _, page, _ = outputs(cells["%%onnx_wizard doctor"])
    assert "OW-OPSET-001" in page and "--opset 14" in page
    _, page, _ = outputs(cells["%onnx_wizard check"])
    assert "<td>python</td>" in page
    _, page, _ = outputs(cells["%onnx_wizard inspect sample:bert-classifier"])
    assert "BertForSequenceClassification" in page
    assert (tmp_path / "bert-classifier-onnx" / "model.onnx").is_file()


START_EXPORT = """\
import time
from onnx_wizard.widgets.notebook import Wizard

wizard = Wizard(model="sample:bert-classifier", output="out")
wizard.run_to_end(until="review")
assert wizard.button("run").description == "Run export ›"
wizard.button("run").click()  # starts the export in the background and returns
clicked_at = time.time()
wizard
"""
OTHER_CELL = """\
other_cell_ran_at = time.time()
seen = {"step": wizard.view.step.value, "status": wizard.view.status, "busy": wizard.busy}
"""
REPORT = """\
import json
state = wizard.wait(600)
print(json.dumps({
    "clicked_at": clicked_at,
    "other_cell_ran_at": other_cell_ran_at,
    "export_finished_at": wizard.run_finished_at,
    "seen": seen,
    "final": [state.step.value, wizard.view.status],
}))
"""


def test_another_cell_runs_while_an_export_runs(tmp_path: Path, sample_bert: Path) -> None:
    nb = new_notebook(cells=[new_code_cell(START_EXPORT), new_code_cell(OTHER_CELL)])
    nb.cells.append(new_code_cell(REPORT))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    execute(nb, tmp_path)
    text, _, _ = outputs(nb.cells[2])
    report = json.loads(text.strip().splitlines()[-1])
    assert report["final"] == ["validate", "success"], report
    assert report["seen"]["busy"] is True, report
    # On RUN and running (or, within milliseconds of the click, still leaving REVIEW).
    assert report["seen"]["status"] == "running" or report["seen"]["step"] == "review", report
    # The second cell ran after the click and before the export finished.
    assert report["clicked_at"] <= report["other_cell_ran_at"] < report["export_finished_at"]
    assert report["export_finished_at"] - report["other_cell_ran_at"] > 1.0, report
    assert (tmp_path / "out" / "model.onnx").is_file()
