"""``%load_ext onnx_wizard`` in an in-process IPython shell: each magic form, what it displays,
the UsageError path, and unload / reload (memray's pattern: a capturing display publisher)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.displaypub import DisplayPublisher
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from ipywidgets.widgets.widget import _instances

from onnx_wizard.flow.steps import Step
from onnx_wizard.knowledge import default_catalogue
from onnx_wizard.widgets.notebook import Wizard

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class CapturingPublisher(DisplayPublisher):
    """Keeps every ``display()`` payload instead of sending it anywhere."""

    def __init__(self, shell: InteractiveShell) -> None:
        super().__init__(shell=shell)
        self.outputs: list[dict[str, Any]] = []

    def publish(self, data: dict[str, Any], metadata: Any = None, **kwargs: Any) -> None:
        self.outputs.append(data)

    def clear_output(self, wait: bool = False) -> None:
        self.outputs.clear()


@pytest.fixture
def shell(monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    ip = InteractiveShell.instance()
    monkeypatch.setattr(ip, "display_pub", CapturingPublisher(ip))
    ip.run_line_magic("load_ext", "onnx_wizard")
    yield ip
    ip.extension_manager.unload_extension("onnx_wizard")


def displayed(shell: InteractiveShell) -> list[dict[str, Any]]:
    return shell.display_pub.outputs  # type: ignore[attr-defined, no-any-return]


def html(shell: InteractiveShell) -> str:
    (output,) = displayed(shell)
    return str(output["text/html"])


def opset_log() -> str:
    """A real failure log: the knowledge base's locally reproduced opset-13 export."""
    entry = next(e for e in default_catalogue().entries if e.id == "OW-OPSET-001")
    return entry.examples[0].log


def test_load_ext_registers_one_line_and_cell_magic(shell: InteractiveShell) -> None:
    magics = shell.magics_manager.magics
    assert "onnx_wizard" in magics["line"] and "onnx_wizard" in magics["cell"]


def test_the_wizard_magic_displays_a_prefilled_widget(
    shell: InteractiveShell, tmp_path: Path
) -> None:
    output = tmp_path / "out"
    returned = shell.run_line_magic(
        "onnx_wizard", f"sample:bert-classifier --output {output} --opset 14"
    )
    (bundle,) = displayed(shell)
    wizard = _instances[bundle[WIDGET_VIEW]["model_id"]]
    assert isinstance(wizard, Wizard) and returned is wizard  # `w = %onnx_wizard ...` works
    assert "step 1 of" in bundle["text/plain"] and "Welcome" in bundle["text/html"]
    assert wizard.view.step is Step.SOURCE
    assert dict(wizard.state.answers) == {
        "source": "sample:bert-classifier",
        "output": str(output),
        "opset": 14,
    }
    assert wizard.forms[Step.SOURCE].controls["output"].widget.value == str(output)


def test_the_wizard_magic_without_arguments_starts_empty(shell: InteractiveShell) -> None:
    shell.run_line_magic("onnx_wizard", "")
    (bundle,) = displayed(shell)
    wizard = _instances[bundle[WIDGET_VIEW]["model_id"]]
    assert isinstance(wizard, Wizard) and dict(wizard.state.answers) == {}


def test_doctor_cell_magic_renders_diagnoses_and_fixes(shell: InteractiveShell) -> None:
    shell.run_cell_magic("onnx_wizard", "doctor", opset_log())
    page = html(shell)
    assert "OW-OPSET-001" in page and "An operator needs a newer ONNX opset" in page
    assert "Each ONNX opset version defines which operators exist" in page
    assert "--opset 14" in page  # the fix command
    assert "scaled_dot_product_attention" in page  # the evidence from the log


def test_doctor_escapes_what_it_shows(shell: InteractiveShell) -> None:
    log = opset_log().replace("aten::scaled_dot_product_attention", "aten::<script>x</script>")
    shell.run_cell_magic("onnx_wizard", "doctor", log + "\n<img src=x onerror=alert(1)>")
    page = html(shell)
    assert "<script>" not in page and "<img" not in page
    assert "OW-OPSET" in page


def test_doctor_says_so_when_nothing_is_recognised(shell: InteractiveShell) -> None:
    shell.run_cell_magic("onnx_wizard", "doctor", "all good here\n")
    assert "No known failure was recognised" in html(shell)


def test_doctor_line_magic_reads_a_log_file(shell: InteractiveShell, tmp_path: Path) -> None:
    logfile = tmp_path / "export.log"
    logfile.write_text(opset_log(), encoding="utf-8")
    shell.run_line_magic("onnx_wizard", f"doctor {logfile}")
    assert "OW-OPSET-001" in html(shell)


def test_check_renders_a_table_of_checks(shell: InteractiveShell) -> None:
    shell.run_line_magic("onnx_wizard", "check")
    page = html(shell)
    assert "<table" in page and "<td>python</td>" in page and "<td>onnxruntime</td>" in page
    assert "checks:" in page and "failed" in page


def test_inspect_renders_the_model_report(shell: InteractiveShell, sample_bert: Path) -> None:
    shell.run_line_magic("onnx_wizard", "inspect sample:bert-classifier")
    page = html(shell)
    assert "BertForSequenceClassification" in page and "text-classification" in page
    assert re.search(r"\d+(\.\d)? ?[KM] parameters", page), page  # the CLI's human units


def test_inspect_of_a_missing_model_shows_problem_and_fix(
    shell: InteractiveShell, tmp_path: Path
) -> None:
    shell.run_line_magic("onnx_wizard", f"inspect {tmp_path / 'nothing-here'}")
    page = html(shell)
    assert "Problem:" in page and "Fix:" in page and "nothing-here" in page


@pytest.mark.parametrize(
    "line",
    [
        "--opset fourteen",  # not a number
        "sample:bert-classifier --bogus",  # unknown flag
        "sample:bert-classifier --dynamo",  # a plan flag the wizard does not ask
        "sample:bert-classifier extra-argument",
        "inspect",  # MODEL missing
        "check --json",
        "doctor",  # no log at all
        "'unterminated",
        "sample:bert-classifier --colour blue",
        "sample:bert-classifier --opset 99",  # outside the supported range: refused now
        "sample:bert-classifier --opset 3",
        "sample:bert-classifier --task no-such-task",  # a task optimum does not know
    ],
)
def test_bad_arguments_raise_usage_error_with_the_usage(shell: InteractiveShell, line: str) -> None:
    with pytest.raises(UsageError, match="Usage:") as caught:
        shell.run_line_magic("onnx_wizard", line)
    assert "%onnx_wizard" in str(caught.value)
    assert displayed(shell) == []


@pytest.mark.parametrize(
    ("line", "cell"), [("check", "some text"), ("", "a log"), ("doctor", "   \n")]
)
def test_bad_cell_magics_raise_usage_error(shell: InteractiveShell, line: str, cell: str) -> None:
    with pytest.raises(UsageError, match="Usage:"):
        shell.run_cell_magic("onnx_wizard", line, cell)


def test_help_shows_the_usage(shell: InteractiveShell) -> None:
    shell.run_line_magic("onnx_wizard", "--help")
    assert "%%onnx_wizard doctor" in html(shell)


def test_unload_removes_the_magic_and_reload_brings_it_back(shell: InteractiveShell) -> None:
    shell.run_line_magic("unload_ext", "onnx_wizard")
    magics = shell.magics_manager.magics
    assert "onnx_wizard" not in magics["line"] and "onnx_wizard" not in magics["cell"]
    with pytest.raises(UsageError):
        shell.run_line_magic("onnx_wizard", "check")
    shell.run_line_magic("load_ext", "onnx_wizard")
    shell.run_line_magic("reload_ext", "onnx_wizard")
    assert "onnx_wizard" in shell.magics_manager.magics["cell"]
    shell.run_line_magic("onnx_wizard", "check")
    assert "<table" in html(shell)


def test_importing_the_package_loads_no_ui_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys, onnx_wizard.widgets.notebook\n"
        "print(sorted({'IPython', 'ipywidgets'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
