"""``inspect`` on a zoo of 40+ tiny models built from real transformers configs, checked
against the expected answers and, where cheap, against optimum itself."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from onnx_wizard.errors import WizardError
from onnx_wizard.inspection.report import inspect_model, render_text
from onnx_wizard.inspection.weights import estimate_parameters
from tests.zoo import SEQ2SEQ, ZOO, ZooCase, build, build_sentence_transformers, parameter_count

REQUIRED_KEYS = {
    "model_type", "architectures", "library", "task", "task_reasons", "task_candidates",
    "with_past", "with_past_applies", "is_encoder_decoder", "is_decoder", "modality",
    "expected_files", "transformersjs_files", "parameters", "parameters_source", "weight_bytes",
    "dtype", "ram_estimate_bytes", "supported", "closest", "needs_remote_code", "notes",
}  # fmt: skip
CASES = {case.name: case for case in ZOO}


@pytest.fixture(scope="module")
def zoo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every zoo folder, built once for the module (configs in ms, weights in ~1 s each)."""
    root = tmp_path_factory.mktemp("zoo")
    for case in ZOO:
        build(case, root)
    return root


@pytest.fixture(scope="module")
def optimum_tasks() -> Any:
    """optimum's TasksManager with its ONNX configs registered (a ~4 s import, once)."""
    import optimum.exporters.onnx.model_configs  # noqa: F401
    from optimum.exporters.tasks import TasksManager

    return TasksManager


def test_zoo_is_big_and_varied() -> None:
    assert len(ZOO) >= 30
    assert len({case.model_type for case in ZOO}) >= 30
    assert {case.modality for case in ZOO} == {"text", "vision", "audio", "multimodal"}


@pytest.mark.parametrize("case", ZOO, ids=lambda c: c.name)
def test_zoo_case(case: ZooCase, zoo_root: Path) -> None:
    report = inspect_model(str(zoo_root / case.name))
    assert report.model_type == case.model_type
    assert report.architectures == (case.architecture,)
    assert report.library == "transformers"
    assert report.task == case.task
    assert report.with_past is case.with_past
    assert report.with_past_applies is case.with_past
    assert report.is_encoder_decoder is case.is_encoder_decoder
    assert report.is_decoder is case.task.startswith("text-generation")
    assert report.expected_files == case.files
    assert report.transformersjs_files == case.tjs_files
    assert report.modality == case.modality
    assert report.supported is True and report.closest == ()
    assert report.needs_remote_code is False
    assert report.task_candidates[0] == case.task
    assert report.task_reasons and all(r.endswith(".") for r in report.task_reasons)
    assert case.architecture in " ".join(report.task_reasons)


@pytest.mark.parametrize("case", ZOO, ids=lambda c: c.name)
def test_zoo_case_agrees_with_optimum(case: ZooCase, zoo_root: Path, optimum_tasks: Any) -> None:
    """The truth for each case, asked of optimum and transformers directly."""
    import transformers

    supported = optimum_tasks.get_supported_tasks_for_model_type(
        case.model_type, "onnx", library_name="transformers"
    )
    base = case.task.removesuffix("-with-past")
    assert case.task in supported and base in supported
    # optimum's own inference from the class (what it does for an in-memory model) ...
    model_class = getattr(transformers, case.architecture)
    if case.optimum_infers == "raises":
        with pytest.raises(ValueError, match="could not be automatically inferred"):
            optimum_tasks._infer_task_from_model_or_model_class(model_class=model_class)
    else:
        inferred = optimum_tasks._infer_task_from_model_or_model_class(model_class=model_class)
        assert inferred == (case.optimum_infers or base)
    # ... followed by its auto -with-past upgrade, which the wizard mirrors.
    assert (f"{base}-with-past" in supported) is case.with_past
    config = transformers.AutoConfig.from_pretrained(zoo_root / case.name)
    assert bool(config.is_encoder_decoder) is case.is_encoder_decoder
    # optimum splits encoder and decoder exactly when both of these hold (utils.py).
    splits = case.task.startswith(optimum_tasks._ENCODER_DECODER_TASKS) and bool(
        config.is_encoder_decoder
    )
    assert splits is (case.files == SEQ2SEQ)


WEIGHTED = [case for case in ZOO if case.weights]


@pytest.mark.parametrize("case", WEIGHTED, ids=lambda c: c.name)
def test_parameters_from_safetensors_headers(case: ZooCase, zoo_root: Path) -> None:
    folder = zoo_root / case.name
    report = inspect_model(str(folder))
    actual = parameter_count(case, folder)
    assert report.parameters_source == "safetensors"
    assert report.parameters == actual
    assert report.dtype == "float32"
    assert report.weight_bytes == 4 * actual
    assert report.weight_files == ("model.safetensors",)
    assert report.ram_estimate_bytes and report.ram_estimate_bytes > 3 * report.weight_bytes
    # The config-only estimate is rough, but within a factor that still sizes RAM sensibly.
    config = json.loads((folder / "config.json").read_text())
    estimate = estimate_parameters(config)
    assert estimate is not None and 0.6 * actual <= estimate <= 1.4 * actual


def test_encoder_decoder_with_past_budgets_the_merge(zoo_root: Path) -> None:
    t5 = inspect_model(str(zoo_root / "t5"))
    assert t5.weight_bytes is not None and t5.ram_estimate_bytes is not None
    gpt2 = inspect_model(str(zoo_root / "gpt2"))
    assert gpt2.weight_bytes is not None and gpt2.ram_estimate_bytes is not None
    overhead = gpt2.ram_estimate_bytes - 3 * gpt2.weight_bytes
    assert t5.ram_estimate_bytes == overhead + 5 * t5.weight_bytes


def test_sentence_transformers_folder(tmp_path: Path) -> None:
    report = inspect_model(str(build_sentence_transformers(tmp_path)))
    assert report.library == "sentence-transformers"
    assert report.task == "feature-extraction"
    assert "sentence-similarity" in report.task_candidates
    assert report.supported is True
    assert report.expected_files == ("model.onnx",)
    assert report.transformersjs_files == ("onnx/model.onnx",)
    assert report.model_type == "bert"
    assert "sentence-transformers" in report.task_reasons[0]


def test_unsupported_model_type_suggests_closest(tmp_path: Path) -> None:
    import transformers

    config = transformers.MambaConfig(hidden_size=32, num_hidden_layers=2, vocab_size=100)
    config.architectures = ["MambaForCausalLM"]
    config.save_pretrained(tmp_path / "mamba")
    report = inspect_model(str(tmp_path / "mamba"))
    assert report.supported is False
    assert report.closest and all(isinstance(c, str) for c in report.closest)
    assert report.task == "text-generation" and report.with_past is False
    assert report.known_to_transformers is True and report.needs_remote_code is False
    assert any("no ONNX export for model_type 'mamba'" in note for note in report.notes)
    assert "NO" in render_text(report)


def test_model_type_transformers_does_not_know(tmp_path: Path) -> None:
    folder = tmp_path / "wizardnet"
    folder.mkdir()
    config = {"model_type": "wizardnet", "architectures": ["WizardNetForCausalLM"],
              "hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 1000}  # fmt: skip
    (folder / "config.json").write_text(json.dumps(config))
    report = inspect_model(str(folder))
    assert report.supported is False and report.known_to_transformers is False
    assert report.needs_remote_code is True
    assert report.task == "text-generation"
    assert report.parameters_source == "estimate from config" and report.parameters
    assert any("does not know model_type 'wizardnet'" in note for note in report.notes)


def test_auto_map_needs_remote_code(tmp_path: Path) -> None:
    folder = tmp_path / "custom-llama"
    folder.mkdir()
    config = {"model_type": "llama", "architectures": ["MyLlamaForCausalLM"],
              "auto_map": {"AutoModelForCausalLM": "modeling_my.MyLlamaForCausalLM"},
              "hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 1000}  # fmt: skip
    (folder / "config.json").write_text(json.dumps(config))
    report = inspect_model(str(folder))
    assert report.needs_remote_code is True
    assert report.supported is True
    assert report.task == "text-generation-with-past"
    assert any("trust_remote_code" in note for note in report.notes)


def test_json_output_has_every_key(zoo_root: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "onnx_wizard", "inspect", str(zoo_root / "whisper"), "--json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data.keys() >= REQUIRED_KEYS
    assert data["task"] == "automatic-speech-recognition-with-past"
    assert isinstance(data["expected_files"], list) and isinstance(data["notes"], list)


def test_inspect_is_fast_and_light(zoo_root: Path) -> None:
    """A fresh interpreter inspects a folder in well under a second, importing nothing heavy."""
    code = (
        "import sys, time; t = time.perf_counter()\n"
        "from onnx_wizard.inspection.report import inspect_model\n"
        f"inspect_model({str(zoo_root / 't5')!r})\n"
        "print(time.perf_counter() - t)\n"
        "print(sorted(m for m in ('torch', 'transformers', 'optimum', 'onnxruntime')"
        " if m in sys.modules))\n"
    )
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    seconds, heavy = done.stdout.splitlines()
    assert float(seconds) < 0.5, seconds
    assert heavy == "[]"
    assert time.perf_counter() - started < 5


def test_render_text_answers_first(zoo_root: Path) -> None:
    text = render_text(inspect_model(str(zoo_root / "t5")))
    assert "text2text-generation-with-past" in text
    assert "decoder_model_merged.onnx" in text and "onnx/encoder_model.onnx" in text
    assert text.index("Task") < text.index("Notes")


def test_classifier_without_pad_token_is_warned(zoo_root: Path) -> None:
    report = inspect_model(str(zoo_root / "gpt2-classifier"))
    assert any("pad_token_id" in note for note in report.notes)
    bert = inspect_model(str(zoo_root / "bert-classifier"))
    assert not any("pad_token_id" in note for note in bert.notes)


def test_corrupt_safetensors_is_a_note_not_a_traceback(tmp_path: Path) -> None:
    import transformers

    folder = tmp_path / "broken"
    transformers.BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=64).save_pretrained(folder)  # fmt: skip
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", 10**12) + b"{}")
    report = inspect_model(str(folder))
    assert report.parameters_source == "estimate from config"
    assert any("could not be read" in note for note in report.notes)


def test_sharded_index_and_half_precision(tmp_path: Path) -> None:
    import transformers

    folder = tmp_path / "sharded"
    config = transformers.LlamaConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                      intermediate_size=64, torch_dtype="bfloat16")  # fmt: skip
    config.save_pretrained(folder)
    index = {"metadata": {"total_size": 6_000_000_000}, "weight_map": {}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    report = inspect_model(str(folder))
    assert report.parameters_source == "safetensors index"
    assert report.dtype == "bfloat16"
    assert report.parameters == 3_000_000_000
    assert any("bfloat16" in note for note in report.notes)
    assert any("2 GB protobuf limit" in note for note in report.notes)


def test_missing_folder_is_a_wizard_error(tmp_path: Path) -> None:
    with pytest.raises(WizardError):
        inspect_model(str(tmp_path / "nope"))


def test_builtin_sample() -> None:
    report = inspect_model("sample:t5")
    assert report.source_kind == "sample"
    assert report.task == "text2text-generation-with-past"
    assert report.parameters_source == "safetensors"
