"""Tests for ExportPlan against the real optimum-cli parser and the real main_export signature."""

from __future__ import annotations

import argparse
import inspect
import json
import shlex
import subprocess
import sys
from typing import Any

import pytest

from onnx_wizard.errors import WizardError
from onnx_wizard.planning.plan import (
    SHAPE_NAMES,
    ExportPlan,
    add_plan_arguments,
    installed_cli_flags,
    plan_from_args,
    render_plan_text,
)

PLANS = [
    ExportPlan("bert-base-uncased", "out"),
    ExportPlan("/models/my model", "/tmp/out dir/onnx", task="text-classification", opset=14),
    ExportPlan(
        'it\'s "quoted" model',
        "out 'single' \"double\" $HOME `x`",
        task="text-generation-with-past",
        device="cuda",
        dtype="fp16",
        optimize="O4",
        atol=1e-4,
        pad_token_id=0,
        shapes={"batch_size": 1, "sequence_length": 128},
    ),
    ExportPlan(
        "t5-small",
        "t5_onnx",
        task="text2text-generation-with-past",
        monolith=True,
        no_post_process=True,
        trust_remote_code=True,
        library_name="transformers",
        no_dynamic_axes=True,
        no_constant_folding=True,
        slim=True,
        model_kwargs={"output_attentions": True, "note": "a b 'c' \"d\"", "n": [1, 2.5, None]},
    ),
    ExportPlan(
        "facebook/sam-vit-base",
        "-starts-with-dash",
        opset=17,
        dtype="bf16",
        device="cuda:1",
        optimize="O2",
        atol=0.001,
        shapes={"point_batch_size": 2, "nb_points_per_image": 3, "width": 32, "height": 32},
        variant="default",
        cache_dir="/tmp/hf cache",
    ),
    ExportPlan(
        "-model-with-dash",
        "whisper",
        task="automatic-speech-recognition-with-past",
        shapes={"feature_size": 80, "nb_max_frames": 100, "audio_sequence_length": 1600},
        model_kwargs={},
        library_name="sentence_transformers",
    ),
]
IDS = [f"plan{i}" for i in range(len(PLANS))]


@pytest.fixture(scope="module")
def real_parser() -> argparse.ArgumentParser:
    from optimum.commands.export.onnx import parse_args_onnx

    parser = argparse.ArgumentParser(prog="optimum-cli export onnx")
    parse_args_onnx(parser)
    return parser


@pytest.fixture(scope="module")
def main_export_signature() -> inspect.Signature:
    from optimum.exporters.onnx import main_export

    return inspect.signature(main_export)


@pytest.mark.parametrize("plan", PLANS, ids=IDS)
def test_round_trip_through_the_command(plan: ExportPlan) -> None:
    command = plan.to_command()
    assert command.startswith("optimum-cli export onnx ")
    assert shlex.split(command)[3:] == plan.to_cli_args()
    assert ExportPlan.from_command(command) == plan


@pytest.mark.parametrize("plan", PLANS, ids=IDS)
def test_round_trip_through_dict_json_and_kwargs(plan: ExportPlan) -> None:
    assert ExportPlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan
    assert ExportPlan.from_main_export_kwargs(plan.to_main_export_kwargs()) == plan


@pytest.mark.parametrize("plan", PLANS, ids=IDS)
def test_kwargs_bind_to_the_real_main_export(
    plan: ExportPlan, main_export_signature: inspect.Signature
) -> None:
    kwargs = plan.to_main_export_kwargs()
    bound = main_export_signature.bind(**kwargs)
    named = set(main_export_signature.parameters) - {"kwargs_shapes"}
    for key in kwargs:
        # main_export swallows unknown names into **kwargs_shapes: only real shapes may go there.
        assert key in named or key in SHAPE_NAMES, key
    assert bound.arguments["model_name_or_path"] == plan.model


@pytest.mark.parametrize("plan", PLANS, ids=IDS)
def test_command_parses_with_the_real_optimum_cli_parser(
    plan: ExportPlan, real_parser: argparse.ArgumentParser
) -> None:
    from huggingface_hub.constants import HUGGINGFACE_HUB_CACHE
    from optimum.utils.input_generators import DEFAULT_DUMMY_SHAPES

    ns = real_parser.parse_args(plan.to_cli_args())
    assert ns.model == plan.model
    assert str(ns.output) == str(plan.output)  # optimum's parser makes a Path of it
    assert ns.task == plan.task
    assert ns.opset == plan.opset
    assert ns.device == plan.device
    assert (ns.dtype or "fp32") == plan.dtype
    assert ns.optimize == plan.optimize
    assert ns.atol == plan.atol
    assert ns.pad_token_id == plan.pad_token_id
    assert ns.library_name == plan.library_name
    assert ns.model_kwargs == plan.model_kwargs
    assert ns.variant == plan.variant
    assert ns.cache_dir == (plan.cache_dir or HUGGINGFACE_HUB_CACHE)
    for flag in ("monolith", "no_post_process", "trust_remote_code", "no_dynamic_axes", "slim"):
        assert getattr(ns, flag) is getattr(plan, flag), flag
    assert ns.no_constant_folding is plan.no_constant_folding
    for name in SHAPE_NAMES:
        assert getattr(ns, name) == plan.shapes.get(name, DEFAULT_DUMMY_SHAPES[name]), name


def test_defaults_give_minimal_kwargs_and_command() -> None:
    plan = ExportPlan("m", "o")
    assert plan.to_main_export_kwargs() == {
        "model_name_or_path": "m",
        "output": "o",
        "task": "auto",
    }
    assert plan.to_command() == "optimum-cli export onnx --model m o"
    folded = plan.replace(no_constant_folding=True, variant="v2").to_main_export_kwargs()
    assert folded["do_constant_folding"] is False and folded["_variant"] == "v2"


def test_from_command_on_a_real_world_command() -> None:
    # From ../shared/failures/dev.jsonl (optimum#1104) and its fix "--task text-generation".
    plan = ExportPlan.from_command(
        "optimum-cli export onnx --model fxmarty/tiny-llama-fast-tokenizer llama_onnx"
    )
    assert (plan.model, plan.output, plan.task) == (
        "fxmarty/tiny-llama-fast-tokenizer",
        "llama_onnx",
        "auto",
    )
    fixed = ExportPlan.from_command(
        "HF_HUB_OFFLINE=1 optimum-cli export onnx -m fxmarty/tiny-llama-fast-tokenizer "
        "--task text-generation --framework pt --opset=18 --dtype fp32 llama_onnx"
    )
    assert plan.changes(fixed) == {"task": ("auto", "text-generation"), "opset": (None, 18)}


@pytest.mark.parametrize(
    ("command", "named"),
    [
        ("optimum-cli export onnx --model m out --fp16", "--fp16"),
        ("optimum-cli export onnx --model m --quantize=avx2 out", "--quantize"),
        ("optimum-cli export onnx --model m --opt O2 out", "--opt"),  # no abbreviations
    ],
)
def test_unknown_flags_raise_wizard_error_naming_the_flag(command: str, named: str) -> None:
    with pytest.raises(WizardError) as err:
        ExportPlan.from_command(command)
    assert named in err.value.problem


@pytest.mark.parametrize(
    "command",
    [
        "optimum-cli export tflite --model m out",
        "python export.py --model m out",
        "optimum-cli export onnx --model m",  # no output
        "optimum-cli export onnx --model m out --dtype fp8",
        "optimum-cli export onnx --model m out --model-kwargs '{not json'",
        "optimum-cli export onnx --model 'unclosed out",
    ],
)
def test_bad_commands_raise_wizard_error(command: str) -> None:
    with pytest.raises(WizardError) as err:
        ExportPlan.from_command(command)
    assert err.value.fix


def test_validate_names_each_problem() -> None:
    assert ExportPlan("m", "o").validate() == []
    assert ExportPlan("m", "o", device="cuda", dtype="fp16", optimize="O4").validate() == []
    assert "fp16 export needs --device cuda" in ExportPlan("m", "o", dtype="fp16").validate()
    o4 = ExportPlan("m", "o", optimize="O4").validate()
    assert any("O4" in p and "--device cuda" in p for p in o4)
    assert any("opset 6" in p for p in ExportPlan("m", "o", opset=6).validate())
    assert any("opset 24" in p for p in ExportPlan("m", "o", opset=24).validate())
    assert ExportPlan("m", "o", opset=7).validate() == []
    assert ExportPlan("m", "o", opset=23).validate() == []
    assert any("O5" in p for p in ExportPlan("m", "o", optimize="O5").validate())
    assert any("'tpu'" in p for p in ExportPlan("m", "o", device="tpu").validate())
    assert any("frames" in p for p in ExportPlan("m", "o", shapes={"frames": 3}).validate())
    assert any("atol" in p for p in ExportPlan("m", "o", atol=0.0).validate())


def test_validate_knows_which_flags_the_installed_cli_has() -> None:
    flags = installed_cli_flags()
    assert flags is not None and "--slim" in flags and "--no-constant-folding" in flags
    problems = ExportPlan("m", "o", dynamo=True).validate()
    if "--dynamo" in flags:
        assert problems == []
    else:  # optimum-onnx 0.1.0: --dynamo came in a later release
        assert any("--dynamo" in p for p in problems)
    assert ExportPlan("m", "o", dynamo=True).validate(check_installed=False) == []


def test_changes_lists_only_differing_fields() -> None:
    before = ExportPlan("m", "o", opset=13)
    after = before.replace(opset=14, shapes={"batch_size": 1})
    assert before.changes(after) == {"opset": (13, 14), "shapes": ({}, {"batch_size": 1})}
    assert before.changes(before) == {}


def test_plans_are_frozen_and_copy_their_dicts() -> None:
    kwargs: dict[str, Any] = {"a": 1}
    plan = ExportPlan("m", "o", model_kwargs=kwargs)
    kwargs["a"] = 2
    assert plan.model_kwargs == {"a": 1}
    with pytest.raises(AttributeError):
        plan.opset = 14  # type: ignore[misc]


def test_from_dict_and_kwargs_reject_unknown_names() -> None:
    with pytest.raises(WizardError, match="fp16_mode"):
        ExportPlan.from_dict({"model": "m", "output": "o", "fp16_mode": True})
    with pytest.raises(WizardError, match="custom_onnx_configs"):
        ExportPlan.from_main_export_kwargs(
            {"model_name_or_path": "m", "output": "o", "custom_onnx_configs": {}}
        )


def test_wizard_cli_arguments_build_a_plan() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("output")
    add_plan_arguments(parser)
    args = parser.parse_args(
        [
            "sample:gpt2",
            "out",
            "--task",
            "text-generation-with-past",
            "--pad-token-id",
            "3",
            "--batch-size",
            "1",
            "--sequence_length",
            "8",
            "--no-post-process",
            "--model-kwargs",
            '{"use_cache": true}',
        ]
    )
    plan = plan_from_args(args.model, args.output, args)
    assert plan == ExportPlan(
        "sample:gpt2",
        "out",
        task="text-generation-with-past",
        pad_token_id=3,
        no_post_process=True,
        model_kwargs={"use_cache": True},
        shapes={"batch_size": 1, "sequence_length": 8},
    )
    underscore = parser.parse_args(["m", "o", "--pad_token_id", "5"])
    assert plan_from_args("m", "o", underscore) == ExportPlan("m", "o", pad_token_id=5)
    with pytest.raises(SystemExit):
        parser.parse_args(["m", "o", "--model-kwargs", "[1, 2]"])  # must be a JSON object


def test_render_plan_text_shows_decisions_problems_and_command() -> None:
    plan = ExportPlan("my model", "out", dtype="fp16", opset=14)
    text = render_plan_text(plan)
    assert plan.to_command() in text
    assert "fp16 export needs --device cuda" in text
    assert "opset" in text and "14" in text
    clean = render_plan_text(ExportPlan("m", "o"))
    assert "Problems" not in clean and "optimum-cli export onnx --model m o" in clean


def test_plan_module_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from onnx_wizard.planning.plan import ExportPlan\n"
        "p = ExportPlan.from_command('optimum-cli export onnx --model m o --opset 14')\n"
        "p.validate()\n"
        "print([m for m in ('torch', 'transformers', 'optimum', 'onnxruntime', 'onnx')"
        " if m in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
