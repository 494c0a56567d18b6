"""Remedies as plan changes: what applies automatically, what waits for a yes, sizes parse."""

from __future__ import annotations

import pytest

from onnx_wizard.errors import WizardError
from onnx_wizard.planning.memory import parse_size, preflight_warning
from onnx_wizard.planning.plan import ExportPlan
from onnx_wizard.runner.recovery import apply_remedy, next_plan, validation_diagnosis

PLAN = ExportPlan(model="m", output="out", task="text-classification", opset=13)


def test_set_opset_uses_the_value_from_the_log() -> None:
    fixed = apply_remedy(PLAN, {"action": "set_opset", "args": {"opset": 14}})
    assert fixed is not None and fixed.opset == 14


def test_set_task_falls_back_to_the_inspected_task() -> None:
    plan = PLAN.replace(task="auto")
    fixed = apply_remedy(plan, {"action": "set_task", "args": {}}, {"task": "fill-mask"})
    assert fixed is not None and fixed.task == "fill-mask"


def test_cuda_remedies_do_not_apply_without_a_gpu() -> None:
    remedy = {"action": "set_device", "args": {"device": "cuda"}}
    assert apply_remedy(PLAN, remedy, gpu=False) is None
    assert apply_remedy(PLAN, remedy, gpu=True) == PLAN.replace(device="cuda")


def test_a_remedy_that_changes_nothing_is_not_a_new_plan() -> None:
    assert apply_remedy(PLAN, {"action": "set_opset", "args": {"opset": 13}}) is None
    assert apply_remedy(PLAN, {"action": "install", "args": {"package": "x"}}) is None


def test_next_plan_skips_consent_remedies_and_plans_already_tried() -> None:
    diagnoses = [
        {
            "remedies": [
                {"action": "trust_remote_code", "args": {}, "needs_consent": True},
                {"action": "set_opset", "args": {"opset": 14}},
                {"action": "set_opset", "args": {"opset": 17}},
            ]
        }
    ]
    first = next_plan(PLAN, diagnoses, {PLAN.to_command()}, None)
    assert first is not None and first[0].opset == 14
    tried = {PLAN.to_command(), first[0].to_command()}
    second = next_plan(PLAN, diagnoses, tried, None)
    assert second is not None and second[0].opset == 17
    tried.add(second[0].to_command())
    assert next_plan(PLAN, diagnoses, tried, None) is None


def test_validation_diagnosis_relaxes_only_an_unrealistic_tolerance() -> None:
    validation = {
        "passed": False,
        "checks": [{"submodel": "model", "output": "logits", "max_abs_diff": 3e-7,
                    "passed": False}],
    }  # fmt: skip
    strict = validation_diagnosis(validation, PLAN.replace(atol=1e-12), default_atol=1e-4)
    assert strict["remedies"][0]["action"] == "set_atol"
    assert strict["remedies"][0]["args"] == {"atol": None}
    real = {**validation, "checks": [{**validation["checks"][0], "max_abs_diff": 0.5}]}
    mismatch = validation_diagnosis(real, PLAN, default_atol=1e-4)
    raises = [r for r in mismatch["remedies"] if r["action"] == "set_atol"]
    assert raises and all(r["needs_consent"] for r in raises)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("300MiB", 300 * 2**20), ("8GiB", 8 * 2**30), ("1.5GB", 1_500_000_000), ("512", 512)],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "lots", "12 parsecs", "-1GiB"])
def test_parse_size_rejects_nonsense(text: str) -> None:
    with pytest.raises(WizardError, match="not a memory size"):
        parse_size(text)


def test_preflight_warns_only_when_the_estimate_exceeds_the_limit() -> None:
    assert preflight_warning(100, 200) is None
    warning = preflight_warning(3 * 2**30, 2**30)
    assert warning is not None and "--no-post-process" in warning and "3.0 GiB" in warning
