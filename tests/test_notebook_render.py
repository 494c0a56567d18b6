"""The notebook's pieces without a kernel: HTML escaping, the field-kind table, the stop-gaps."""

from __future__ import annotations

import argparse
import re
from typing import Any

import ipywidgets as widgets
import pytest

from onnx_wizard.flow import engine, views
from onnx_wizard.flow.steps import Facts, Field, Step, WizardState
from onnx_wizard.planning.answers import answers_from_args
from onnx_wizard.planning.plan import add_plan_arguments
from onnx_wizard.widgets.notebook import render
from onnx_wizard.widgets.notebook.fields import KINDS, Form, from_widget, to_widget

EVIL = "<script>alert(1)</script>"


def test_every_renderer_escapes_engine_text() -> None:
    pages = [
        render.checks_table([{"name": EVIL, "status": "fail", "detail": EVIL, "fix": EVIL}]),
        render.report_table({"model_type": EVIL, "architectures": [EVIL], "x": {EVIL: EVIL}}),
        render.doctor(
            {
                "diagnoses": [
                    {
                        "id": EVIL,
                        "title": EVIL,
                        "category": EVIL,
                        "explanation": EVIL,
                        "evidence": EVIL,
                        "remedies": [{"note": EVIL, "command": EVIL, "needs_consent": True}],
                    }
                ],
                "corrected_command": EVIL,
            }
        ),
        render.plan_diff({EVIL: [EVIL, EVIL]}),
        render.error_box(EVIL, EVIL, EVIL),
        render.info_table([Field("n", "info", EVIL, help=EVIL, value=EVIL)]),
    ]
    rows = [{"file": EVIL, "variant": EVIL, "bytes": 10, "max_abs_diff": 1e-6, "atol": 1e-4}]
    rows[0]["passed"] = True
    pages += [render.variants_table(rows), render.chart(rows)]
    for page in pages:
        assert "<script>" not in page and "&lt;script&gt;" in page


def test_the_chart_scales_bars_by_size_and_marks_failures() -> None:
    rows = [
        {"file": "a.onnx", "variant": "fp32", "bytes": 4000, "max_abs_diff": 1e-9, "atol": 1e-4},
        {"file": "b.onnx", "variant": "q8", "bytes": 1000, "max_abs_diff": 1e-2, "atol": 1e-4},
    ]
    rows[0]["passed"], rows[1]["passed"] = True, False
    svg = render.chart(rows)
    blue = [float(w) for w in re.findall(r'width="([\d.]+)" height="16" fill="#0969da"', svg)]
    assert blue[0] == pytest.approx(4 * blue[1])
    assert 'fill="#1a7f37"' in svg and 'fill="#cf222e"' in svg  # passed green, failed red


def field(step: Step, name: str, **answers: object) -> Field:
    facts = Facts(report={"task": "text-classification", "task_candidates": ["fill-mask"]})
    item = next(f for f in views.form(step, answers, facts) if f.name == name)
    return views.with_value(item, answers, None)


@pytest.mark.parametrize(
    ("step", "name", "widget", "raw", "answer"),
    [
        (Step.SOURCE, "source", widgets.Text, "sample:gpt2", "sample:gpt2"),
        (Step.SOURCE, "output", widgets.Text, "out", "out"),
        (Step.SOURCE, "overwrite", widgets.Checkbox, True, True),
        (Step.EXPORT_OPTIONS, "opset", widgets.Text, "17", "17"),
        (Step.EXPORT_OPTIONS, "optimize", widgets.Dropdown, 0, None),  # "none" is a real choice
        (Step.EXPORT_OPTIONS, "optimize", widgets.Dropdown, 3, "O3"),
        (Step.TASK, "task", widgets.Dropdown, 1, "fill-mask"),
        (Step.QUANTIZATION, "js_dtypes", widgets.SelectMultiple, ("q8",), ("q8",)),
    ],
)
def test_each_field_kind_has_its_widget(
    step: Step, name: str, widget: Any, raw: object, answer: object
) -> None:
    item = field(step, name)
    built = KINDS[item.kind](item)
    assert isinstance(built, widget)
    built.value = to_widget(item)  # the default shows without error
    assert from_widget(item, raw) == answer


def test_a_form_sends_changes_and_keeps_its_widgets_while_only_values_change() -> None:
    seen: list[tuple[str, object]] = []
    form = Form(lambda name, value: seen.append((name, value)))
    items = [field(Step.EXPORT_OPTIONS, "opset"), field(Step.EXPORT_OPTIONS, "device")]
    form.show(items)
    box = form.controls["opset"].widget
    box.value = "15"
    assert seen == [("opset", "15")]
    form.show([field(Step.EXPORT_OPTIONS, "opset", opset=15), items[1]])
    assert form.controls["opset"].widget is box and box.value == "15"
    assert len(seen) == 1  # drawing a value does not answer again


def flags(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", nargs="?")
    parser.add_argument("--output")
    parser.add_argument("--overwrite", action="store_true")
    add_plan_arguments(parser)
    return parser.parse_args(list(argv))


def test_plan_flags_become_wizard_answers() -> None:
    answers = answers_from_args(
        flags("m", "--opset", "14", "--atol", "1e-3", "--batch_size", "2", "--monolith")
    )
    assert answers == {"opset": 14, "atol": 1e-3, "batch_size": 2, "decoder_files": "monolith"}
    assert answers_from_args(flags("m", "--slim")) == {"slim": True}  # the options step asks it
    with pytest.raises(ValueError, match="--dynamo"):
        answers_from_args(flags("m", "--dynamo"))


def test_results_join_files_and_validation() -> None:
    facts = Facts(
        run={
            "status": "ok",
            "files": [
                {"name": "model.onnx", "bytes": 100},
                {"name": "model.onnx_data", "bytes": 900},
                {"name": "config.json", "bytes": 5},
            ],
        },
        validation={
            "passed": True,
            "checks": [
                {"submodel": "model", "max_abs_diff": 1e-6, "atol": 1e-4, "passed": True},
                {"submodel": "model", "max_abs_diff": 3e-6, "atol": 1e-4, "passed": True},
            ],
        },
    )
    (row,) = engine.results(WizardState(facts=facts))
    assert row["file"] == "model.onnx" and row["bytes"] == 1000
    assert row["max_abs_diff"] == 3e-6 and row["passed"] is True
