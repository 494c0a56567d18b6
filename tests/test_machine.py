"""Tests of the wizard's routing table, its branching, its views, and Back."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from onnx_wizard.flow import machine
from onnx_wizard.flow.machine import EDGES, ROUTES, Facts, Step, WizardState
from onnx_wizard.quantize.targets import ORT_PRESETS, TRANSFORMERS_JS

ENCODER: dict[str, Any] = {
    "model_type": "bert",
    "architectures": ["BertForSequenceClassification"],
    "library": "transformers",
    "task": "text-classification",
    "task_candidates": ["text-classification", "feature-extraction", "fill-mask"],
    "with_past": False,
    "with_past_applies": False,
    "is_encoder_decoder": False,
    "is_decoder": False,
    "parameters": 4_400_000,
    "supported": True,
}
DECODER: dict[str, Any] = {
    **ENCODER,
    "model_type": "gpt2",
    "architectures": ["GPT2LMHeadModel"],
    "task": "text-generation",
    "task_candidates": ["text-generation", "text-classification", "feature-extraction"],
    "with_past": True,
    "with_past_applies": True,
    "is_decoder": True,
}
ENCODER_DECODER: dict[str, Any] = {
    **ENCODER,
    "model_type": "t5",
    "architectures": ["T5ForConditionalGeneration"],
    "task": "text2text-generation",
    "task_candidates": ["text2text-generation", "feature-extraction"],
    "with_past": True,
    "with_past_applies": True,
    "is_encoder_decoder": True,
}
OK_CHECKS: list[dict[str, Any]] = [
    {"name": "python", "status": "ok", "detail": "3.11", "fix": None}
]
FAILED_CHECKS: list[dict[str, Any]] = [
    *OK_CHECKS,
    {"name": "optimum", "status": "fail", "detail": "missing", "fix": "pip install optimum-onnx"},
]
OPSET_FIX = {
    "id": "unsupported_operator_opset",
    "title": "An operator needs a newer opset",
    "explanation": "scaled_dot_product_attention needs opset 14.",
    "remedies": [{"label": "Export with opset 14", "answers": {"opset": 14}}],
}


@dataclass
class Script:
    """One user's trip: what the engine reports and what the user answers at each step."""

    report: Mapping[str, Any]
    gpu: bool = False
    checks: list[dict[str, Any]] = field(default_factory=lambda: OK_CHECKS)
    runs: list[str] = field(default_factory=lambda: ["ok"])  # one outcome per RUN visit
    validations: list[bool] = field(default_factory=lambda: [True])
    answers: dict[Step, dict[str, Any]] = field(default_factory=dict)
    recoveries: list[str] = field(default_factory=lambda: ["apply"])


def engine(state: WizardState, script: Script) -> WizardState:
    """What the real engine does on entering a step: record the facts it learned."""
    facts = state.facts
    if state.step is Step.PREREQUISITES and facts.checks is None:
        return machine.with_facts(state, checks=script.checks, gpu=script.gpu)
    if state.step is Step.MODEL and facts.report is None:
        return machine.with_facts(state, report=script.report)
    if state.step is Step.RUN and facts.run is None:
        return machine.with_facts(state, run={"status": script.runs.pop(0)})
    if state.step is Step.VALIDATE and facts.validation is None:
        return machine.with_facts(state, validation={"passed": script.validations.pop(0)})
    if state.step is Step.RECOVER and facts.diagnosis is None:
        return machine.with_facts(state, diagnosis=OPSET_FIX)
    return state


def drive(script: Script, check_back: bool = True) -> list[WizardState]:
    """Click through the wizard as a user would; check Back after every successful Next."""
    script = copy.deepcopy(script)  # the engine consumes its outcomes
    state = machine.start()
    visited = [state]
    for _ in range(60):
        if state.step is Step.DONE:
            return visited
        state = engine(state, script)
        for name, value in script.answers.get(state.step, {}).items():
            state = machine.answer(state, name, value)
        if state.step is Step.SOURCE:
            state = machine.answer(state, "source", "sample:model")
        if state.step is Step.RECOVER:
            state = replace(state, answers={**state.answers, "recovery": script.recoveries.pop(0)})
        before = machine.view(state)
        moved = machine.next(state)
        assert moved.step is not state.step, (state.step, before.error, before.fields)
        assert moved.step in EDGES[state.step]
        if check_back and machine.view(moved).offers("back"):
            assert machine.view(machine.back(moved)) == before
        state = moved
        visited.append(state)
    raise AssertionError("the wizard never reached DONE")


SCRIPTS = {
    "encoder": Script(ENCODER),
    "decoder_publish": Script(
        DECODER,
        gpu=True,
        answers={
            Step.EXPORT_OPTIONS: {"device": "cuda", "dtype": "fp16", "optimize": "O4"},
            Step.QUANTIZATION: {"js_dtypes": ["q4f16", "q8"]},
            Step.VALIDATE: {"publish": True},
            Step.PUBLISH: {"repo_id": "me/gpt2-ONNX"},
        },
    ),
    "encoder_decoder": Script(
        ENCODER_DECODER, answers={Step.ARCHITECTURE: {"decoder_files": "separate"}}
    ),
    "recover_then_pass": Script(
        ENCODER,
        checks=FAILED_CHECKS,
        runs=["failed", "ok"],
        answers={
            Step.PREREQUISITES: {"ignore_failed_checks": True},
            Step.EXPORT_OPTIONS: {"opset": 13},
        },
    ),
    "validation_fails_then_stop": Script(DECODER, validations=[False], recoveries=["stop"]),
    "cancelled_then_run": Script(ENCODER, runs=["cancelled", "ok"]),
}


def reach(start: Step, graph: Mapping[Step, set[Step] | frozenset[Step]]) -> set[Step]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in graph[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


# ---- the table itself --------------------------------------------------------------------------


def test_every_step_is_reachable_from_source() -> None:
    assert reach(Step.SOURCE, {s: machine.successors(s) for s in Step}) == set(Step)


def test_no_dead_ends_and_done_is_terminal() -> None:
    assert set(ROUTES) == set(Step) - {Step.DONE}
    for step in Step:
        assert bool(machine.successors(step)) == (step is not Step.DONE), step


def test_done_is_reachable_from_every_step() -> None:
    reverse: dict[Step, set[Step]] = {s: set() for s in Step}
    for step in Step:
        for target in machine.successors(step):
            reverse[target].add(step)
    assert reach(Step.DONE, reverse) == set(Step)


def test_routes_return_exactly_the_declared_successors() -> None:
    """Every combination of answers and facts that matters: no route leaves EDGES, none unused."""
    produced: dict[Step, set[Step]] = {s: set() for s in ROUTES}
    reports = [None, ENCODER, DECODER, ENCODER_DECODER]
    for report, task, run, passed, publish, recovery in itertools.product(
        reports,
        [None, "text-classification", "text-generation", "text2text-generation"],
        [None, "ok", "failed", "cancelled"],
        [None, True, False],
        [False, True],
        ["apply", "stop"],
    ):
        answers = {"task": task, "publish": publish, "recovery": recovery}
        facts = Facts(
            report=report,
            run=None if run is None else {"status": run},
            validation=None if passed is None else {"passed": passed},
        )
        for step, route in ROUTES.items():
            produced[step].add(route(answers, facts))
    assert produced == {step: set(EDGES[step]) for step in ROUTES}


def test_scripted_trips_visit_every_step_and_only_declared_edges() -> None:
    seen: set[Step] = set()
    for script in SCRIPTS.values():
        seen |= {state.step for state in drive(script)}
    assert seen == set(Step)


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_scripted_trip_reaches_done(name: str) -> None:
    trip = [state.step for state in drive(SCRIPTS[name])]
    assert trip[-1] is Step.DONE
    assert trip[0] is Step.SOURCE


def test_trips_take_the_expected_paths() -> None:
    encoder = [s.step for s in drive(Script(ENCODER))]
    assert Step.ARCHITECTURE not in encoder
    assert encoder[-3:] == [Step.RUN, Step.VALIDATE, Step.DONE]
    recovered = [s.step for s in drive(SCRIPTS["recover_then_pass"])]
    run_at = recovered.index(Step.RUN)
    assert recovered[run_at : run_at + 4] == [Step.RUN, Step.RECOVER, Step.RUN, Step.VALIDATE]
    cancelled = [s.step for s in drive(Script(ENCODER, runs=["cancelled", "ok"]))]
    assert cancelled.count(Step.REVIEW) == 2
    stopped = [s.step for s in drive(Script(DECODER, validations=[False], recoveries=["stop"]))]
    assert stopped[-3:] == [Step.VALIDATE, Step.RECOVER, Step.DONE]


def test_mermaid_names_every_step_and_edge() -> None:
    text = machine.to_mermaid()
    assert text.startswith("flowchart TD")
    for step, targets in EDGES.items():
        assert f'{step.value}["' in text
        for target in targets:
            assert any(
                line.strip().startswith(step.value) and line.strip().endswith(f" {target.value}")
                for line in text.splitlines()
            ), (step, target)


# ---- helpers to stand on one step --------------------------------------------------------------


def at(step: Step, report: Mapping[str, Any] = ENCODER, gpu: bool = False, **answers: Any):
    """A state on ``step``, reached by clicking Next with default answers."""
    state = machine.start({"source": "sample:x", **answers})
    script = Script(report, gpu=gpu)
    for _ in range(20):
        state = engine(state, script)
        if state.step is step:
            return state
        moved = machine.next(state)
        assert moved.step is not state.step, machine.view(state)
        state = moved
    raise AssertionError(f"never reached {step}")


def names(view: machine.StepView) -> list[str]:
    return [f.name for f in view.fields if f.kind != "info"]


# ---- branching ---------------------------------------------------------------------------------


def test_decoder_asks_about_the_kv_cache() -> None:
    state = machine.next(at(Step.TASK, DECODER))
    assert state.step is Step.ARCHITECTURE
    view = machine.view(state)
    assert names(view) == ["with_past"]
    assert view.field("with_past").value is True  # the report recommends it


def test_decoder_on_a_task_without_kv_cache_skips_architecture() -> None:
    state = machine.answer(at(Step.TASK, DECODER), "task", "text-classification")
    assert machine.next(state).step is Step.EXPORT_OPTIONS


def test_encoder_skips_architecture() -> None:
    state = at(Step.TASK, ENCODER)
    assert machine.next(state).step is Step.EXPORT_OPTIONS
    # The count never changes when the model is read: the KV-cache step is counted, and marked
    # as passed by for an encoder.
    assert Step.ARCHITECTURE in machine.path(state) and len(machine.path(machine.start())) == 11
    assert machine.skipped(state) == {Step.ARCHITECTURE}
    assert machine.skipped(at(Step.TASK, DECODER)) == frozenset()
    assert machine.view(state).progress == (4, 11)
    assert machine.view(machine.next(state)).progress == (6, 11)


def test_encoder_decoder_asks_which_files() -> None:
    state = machine.next(at(Step.TASK, ENCODER_DECODER))
    assert state.step is Step.ARCHITECTURE
    view = machine.view(state)
    assert names(view) == ["with_past", "decoder_files"]
    files = view.field("decoder_files")
    assert [value for value, _ in files.choices] == ["merged", "separate"]
    assert files.value == "merged"
    # optimum refuses --monolith with a KV cache: the choice appears only without one.
    state = machine.answer(state, "decoder_files", "merged")
    state = machine.answer(state, "with_past", False)
    files = machine.view(state).field("decoder_files")
    assert [value for value, _ in files.choices] == ["separate", "monolith"]
    assert files.value == "separate" and "decoder_files" not in state.answers
    assert machine.next(state).step is Step.EXPORT_OPTIONS


def choice_values(view: machine.StepView, name: str) -> list[Any]:
    return [value for value, _ in view.field(name).choices]


def test_without_gpu_no_fp16_cuda_or_o4() -> None:
    state = at(Step.EXPORT_OPTIONS, gpu=False)
    view = machine.view(state)
    assert choice_values(view, "device") == ["cpu"]
    assert choice_values(view, "dtype") == ["fp32"]
    assert choice_values(view, "optimize") == [None, "O1", "O2", "O3"]
    refused = machine.answer(state, "dtype", "fp16")
    assert machine.view(refused).field("dtype").error
    assert machine.view(refused).field("dtype").value == "fp32"
    assert machine.next(refused).step is Step.EXPORT_OPTIONS


def test_with_gpu_fp16_cuda_and_o4_are_offered_and_need_cuda() -> None:
    state = at(Step.EXPORT_OPTIONS, gpu=True)
    view = machine.view(state)
    assert "cuda" in choice_values(view, "device")
    assert "fp16" in choice_values(view, "dtype")
    assert "O4" in choice_values(view, "optimize")
    state = machine.answer(machine.answer(state, "dtype", "fp16"), "optimize", "O4")
    stuck = machine.next(state)  # still on device cpu: optimum would refuse both
    assert stuck.step is Step.EXPORT_OPTIONS
    assert "cuda" in (machine.view(stuck).field("dtype").error or "")
    assert "cuda" in (machine.view(stuck).field("optimize").error or "")
    assert machine.view(stuck).error
    fixed = machine.answer(stuck, "device", "cuda")
    assert machine.view(fixed).field("dtype").error is None
    assert machine.next(fixed).step is Step.QUANTIZATION


def test_task_offers_the_candidates_and_defaults_to_the_detected_task() -> None:
    view = machine.view(at(Step.TASK, DECODER))
    field_ = view.field("task")
    assert choice_values(view, "task") == DECODER["task_candidates"]
    assert field_.default == field_.value == "text-generation"


def test_quantization_offers_every_target() -> None:
    state = at(Step.QUANTIZATION)
    view = machine.view(state)
    assert choice_values(view, "ort_presets") == [
        "arm64",
        "avx2",
        "avx512",
        "avx512_vnni",
        "tensorrt",
        "cpu-qdq",
    ]
    assert choice_values(view, "js_dtypes") == [
        "fp16",
        "q8",
        "int8",
        "uint8",
        "q4",
        "q4f16",
        "bnb4",
    ]
    assert [t.name for t in TRANSFORMERS_JS + ORT_PRESETS] == choice_values(
        view, "js_dtypes"
    ) + choice_values(view, "ort_presets")
    assert "q4f16" in view.help and "WASM" in view.help
    state = machine.answer(state, "js_dtypes", ["q4", "q8", "q4"])
    assert state.answers["js_dtypes"] == ("q8", "q4")  # choice order, no duplicates
    refused = machine.answer(state, "js_dtypes", ["q2"])
    assert "q2" in (machine.view(refused).field("js_dtypes").error or "")
    assert refused.answers["js_dtypes"] == ("q8", "q4")


# ---- answers and errors ------------------------------------------------------------------------


def test_invalid_answer_gives_a_field_error_and_stays() -> None:
    state = at(Step.EXPORT_OPTIONS)
    for bad in ("abc", 14.5, 99, True):
        refused = machine.answer(state, "opset", bad)
        view = machine.view(refused)
        assert view.field("opset").error, bad
        assert view.field("opset").value is None  # the previous value stays
        stuck = machine.next(refused)
        assert stuck.step is Step.EXPORT_OPTIONS
        assert machine.view(stuck).error
    fixed = machine.answer(machine.answer(state, "opset", "abc"), "opset", "14")
    assert fixed.answers["opset"] == 14
    assert machine.view(fixed).field("opset").error is None


def test_required_answer_is_reported_only_after_next() -> None:
    state = machine.start()
    assert machine.view(state).field("source").error is None
    stuck = machine.next(state)
    assert stuck.step is Step.SOURCE
    assert "required" in (machine.view(stuck).field("source").error or "")
    assert machine.view(machine.answer(stuck, "source", "")).field("source").error


def test_unknown_or_foreign_field_names_raise() -> None:
    state = machine.start()
    with pytest.raises(ValueError, match="Unknown answer"):
        machine.answer(state, "colour", "blue")
    with pytest.raises(ValueError, match="export_options"):
        machine.answer(state, "opset", 14)
    with pytest.raises(ValueError, match="information"):
        machine.answer(at(Step.MODEL), "model_type", "gpt2")  # an info line
    with pytest.raises(ValueError, match="not asked"):
        machine.answer(at(Step.PREREQUISITES), "ignore_failed_checks", True)  # nothing failed
    with pytest.raises(ValueError, match="Unknown answer"):
        machine.start({"colour": "blue"})
    with pytest.raises(ValueError, match="Unknown facts"):
        machine.with_facts(state, weather="rain")


def test_prefilled_bad_answer_shows_on_its_step() -> None:
    state = at(Step.EXPORT_OPTIONS, opset=3)
    assert machine.view(state).field("opset").error
    assert machine.next(state).step is Step.EXPORT_OPTIONS


def test_failed_check_blocks_next_unless_ignored() -> None:
    state = machine.next(machine.start({"source": "x"}))
    assert machine.view(state).status == "running"
    assert machine.next(state).step is Step.PREREQUISITES
    state = machine.with_facts(state, checks=FAILED_CHECKS)
    view = machine.view(state)
    assert view.status == "blocked" and "optimum" in (view.error or "")
    assert not view.offers("next") and view.action("next") is not None
    assert view.action("next").reason  # type: ignore[union-attr]
    assert view.field("check:optimum").help.endswith("pip install optimum-onnx")
    assert machine.next(state).step is Step.PREREQUISITES
    state = machine.answer(state, "ignore_failed_checks", True)
    assert machine.view(state).status == "ready"
    assert machine.next(state).step is Step.MODEL


def test_unsupported_model_goes_on_by_a_fallback_route_or_blocks_without_one() -> None:
    unsupported = {**ENCODER, "supported": False, "model_type": "newbert"}
    state = machine.with_facts(at(Step.MODEL), report=unsupported)
    view = machine.view(state)
    assert view.status == "ready", view.error
    route = next(f for f in view.fields if f.name == "route")
    assert route.value == "auto" and "torchscript" in [c[0] for c in route.choices]
    assert "Risk:" in route.help  # each route is offered with its risk
    outlook = next(f for f in view.fields if f.name == "route_outlook")
    assert "newbert" in str(outlook.value) and "Auto tries:" in str(outlook.value)
    assert machine.next(state).step is Step.TASK
    # A library with no fallback route (optimum's own exporters only): blocked, with the why.
    other = {**unsupported, "library": "timm"}
    state = machine.with_facts(at(Step.MODEL), report=other)
    view = machine.view(state)
    assert view.status == "blocked" and "newbert" in (view.error or "")
    assert machine.next(state).step is Step.MODEL


def test_run_states_and_actions() -> None:
    state = machine.next(at(Step.REVIEW))
    assert machine.view(state).status == "running"
    assert machine.view(state).action_names == ("cancel",)
    assert machine.back(state) == state and machine.next(state).step is Step.RUN
    assert machine.act(state, "cancel") == state
    for outcome, target in (("ok", Step.VALIDATE), ("failed", Step.RECOVER)):
        done = machine.with_facts(state, run={"status": outcome})
        assert machine.next(done).step is target
    cancelled = machine.with_facts(state, run={"status": "cancelled"})
    assert machine.view(cancelled).status == "cancelled"
    assert machine.next(cancelled).step is Step.REVIEW


def test_a_new_run_forgets_the_last_results() -> None:
    state = machine.with_facts(
        at(Step.REVIEW), run={"status": "failed"}, diagnosis=OPSET_FIX, command="optimum-cli x"
    )
    moved = machine.next(state)
    assert moved.facts.run is None and moved.facts.diagnosis is None
    assert moved.facts.command == "optimum-cli x"


def test_recover_applies_the_chosen_remedy() -> None:
    state = machine.with_facts(machine.next(at(Step.REVIEW)), run={"status": "failed"})
    state = machine.next(state)
    assert state.step is Step.RECOVER
    diagnosing = machine.view(state)
    assert diagnosing.action_names == ("back", "apply", "stop")
    assert not diagnosing.offers("apply")  # still diagnosing
    state = machine.with_facts(state, diagnosis=OPSET_FIX)
    assert machine.view(state).action_names == ("back", "apply", "edit", "stop")
    applied = machine.act(state, "apply")
    assert applied.step is Step.RUN and applied.answers["opset"] == 14  # apply and retry
    assert machine.view(applied).work == "export" and applied.facts.run is None
    assert machine.effective_answers(applied)["opset"] == 14
    assert machine.act(state, "stop").step is Step.DONE
    broken = {**OPSET_FIX, "remedies": [{"label": "opset 99", "answers": {"opset": 99}}]}
    stuck = machine.act(machine.with_facts(state, diagnosis=broken), "apply")
    assert stuck.step is Step.RECOVER
    assert "opset" in (machine.view(stuck).field("remedy").error or "")
    with pytest.raises(ValueError, match="not offered"):
        machine.act(state, "run")


def test_changing_the_model_drops_what_was_learned_about_the_old_one() -> None:
    state = machine.next(at(Step.TASK, DECODER))
    state = machine.back(machine.back(machine.back(machine.back(state))))
    assert state.step is Step.SOURCE and state.answers["task"] == "text-generation"
    changed = machine.answer(state, "source", "sample:other")
    assert changed.facts.report is None and "task" not in changed.answers
    assert changed.facts.checks == state.facts.checks
    same = machine.answer(state, "source", "sample:x")
    assert same.facts.report == state.facts.report


def test_effective_answers_leave_out_skipped_steps() -> None:
    state = machine.next(machine.answer(machine.next(at(Step.TASK, DECODER)), "with_past", False))
    assert machine.effective_answers(state)["with_past"] is False
    back_to_task = machine.back(machine.back(state))
    skipped = machine.next(machine.answer(back_to_task, "task", "text-classification"))
    assert skipped.step is Step.EXPORT_OPTIONS
    assert "with_past" in skipped.answers and "with_past" not in machine.effective_answers(skipped)
    assert machine.effective_answers(skipped)["device"] == "cpu"  # defaults included


def test_state_is_immutable() -> None:
    report = dict(DECODER)
    state = machine.with_facts(machine.start({"js_dtypes": ["q8"]}), report=report)
    report["model_type"] = "changed"
    assert state.facts.report is not None and state.facts.report["model_type"] == "gpt2"
    with pytest.raises(TypeError):
        state.answers["source"] = "x"  # type: ignore[index, unused-ignore]
    assert state.answers["js_dtypes"] == ("q8",)


def test_done_is_terminal() -> None:
    state = drive(Script(ENCODER))[-1]
    view = machine.view(state)
    assert view.action_names == ("close",) and view.status == "success"
    assert view.progress == (11, 11)
    assert machine.next(state) == state and machine.back(state) == state


def test_with_answers_sets_any_step_and_checks_values() -> None:
    state = machine.with_facts(at(Step.REVIEW, DECODER), run={"status": "failed"})
    changed = machine.with_answers(state, {"trust_remote_code": True, "opset": "14"})
    assert changed.answers["opset"] == 14 and changed.answers["trust_remote_code"] is True
    assert changed.facts.report == state.facts.report  # an accepted remedy keeps the task
    assert changed.answers["task"] == "text-generation"
    with pytest.raises(ValueError, match="opset"):
        machine.with_answers(state, {"opset": 99})
    with pytest.raises(ValueError, match="device"):
        machine.with_answers(state, {"device": "cuda"})  # no GPU here
