"""Fallback routes for model types optimum cannot export: torch.onnx and a related ONNX config.

Real parts throughout: tiny yoso, ernie and funnel models built from transformers' own config
classes (optimum-onnx 0.1.0 has no ONNX config for any of the three), a generated WordPiece
tokenizer, real torch.onnx / optimum exports, and the wizard's validation on real sentences.
"""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from onnx_wizard.errors import WizardError
from onnx_wizard.fallback.child import export_with_related_config, export_with_torch_onnx, run_job
from onnx_wizard.fallback.routes import (
    AUTO,
    DYNAMO,
    RELATED,
    TORCHSCRIPT,
    choose_routes,
    describe_route,
    fallback_job,
    route_name,
)
from onnx_wizard.inspection.report import inspect_model
from onnx_wizard.inspection.supported_tasks import load_table
from onnx_wizard.runner.child import EventStream
from onnx_wizard.validation.report import validate_export

pytestmark = pytest.mark.slow

WORDS = [
    *("the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "hello", "world"),
    *("what", "who", "is", "greeted", "weather", "lovely", "today", "so", "we", "are"),
    *("taking", "for", "a", "long", "walk", "in", "park", "i", "love", "this", "movie"),
]
SIZES = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "max_position_embeddings": 128,
}


def _tokenizer(folder: Path) -> Any:
    from transformers import BertTokenizerFast

    letters = "abcdefghijklmnopqrstuvwxyz"
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    pieces = [*letters, *",.!?", *(f"##{c}" for c in letters), *WORDS]
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(dict.fromkeys(special + pieces)) + "\n", encoding="utf-8")
    return BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True)


def _build(folder: Path, model_type: str, model_class: str, **sizes: Any) -> Path:
    import torch
    import transformers

    folder.mkdir(parents=True)
    tokenizer = _tokenizer(folder)
    torch.manual_seed(0)
    config = transformers.AutoConfig.for_model(
        model_type, vocab_size=len(tokenizer), architectures=[model_class], **sizes
    )
    getattr(transformers, model_class)(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("fallback-models")
    funnel = {"d_model": 32, "n_head": 2, "d_head": 16, "d_inner": 64, "block_sizes": [1, 1]}
    return {
        "yoso": _build(root / "yoso", "yoso", "YosoForSequenceClassification", **SIZES),
        "ernie": _build(root / "ernie", "ernie", "ErnieForSequenceClassification", **SIZES),
        "funnel": _build(root / "funnel", "funnel", "FunnelForSequenceClassification", **funnel),
    }


def _validate_here(model_dir: Path, onnx_dir: Path, task: str) -> Any:
    """The same comparison as ``validate_export``, run in this process: the test process has
    torch loaded already, and a child per check would cost seconds each. The main test below
    goes through ``validate_export`` itself."""
    from onnx_wizard.validation.child import validate

    return validate(str(model_dir), str(onnx_dir), task, None)


def _validated_length(report: Any) -> int:
    # "... padded on the right to 22 tokens, batch 2": the length validation really fed.
    words = report.inputs_description.split(" tokens")[0].split()
    return int(words[-1])


def _onnx_vs_torch(model_dir: Path, onnx_file: Path, texts: list[str]) -> float:
    import onnxruntime as ort
    import torch
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    encoded = tokenizer(texts, padding=True, return_tensors="pt")
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    feeds = {i.name: encoded[i.name].numpy() for i in session.get_inputs()}
    with torch.no_grad():
        expected = model(**encoded).logits.numpy()
    return float(np.abs(session.run(["logits"], feeds)[0] - expected).max())


def test_the_models_used_here_are_really_unsupported(models: dict[str, Path]) -> None:
    table = load_table()
    for name, folder in models.items():
        assert not table.is_supported(name), f"optimum now supports {name}: pick another type"
        report = inspect_model(str(folder)).to_dict()
        assert report["supported"] is False and report["task"] == "text-classification"


def test_torchscript_export_of_an_unsupported_model_validates_at_other_shapes(
    models: dict[str, Path], tmp_path: Path
) -> None:
    import onnx

    out = tmp_path / "yoso-onnx"
    log = io.StringIO()
    result = export_with_torch_onnx(
        str(models["yoso"]), str(out), "text-classification", events=EventStream(log)
    )
    assert result["route"] == route_name(TORCHSCRIPT) == "torch.onnx.export (TorchScript)"
    assert result["opset"] == 18 and result["notes"] == []
    assert result["inputs"] == ["input_ids", "attention_mask", "token_type_ids"]
    assert result["outputs"] == ["logits"]
    assert {"model.onnx", "config.json", "tokenizer.json", "vocab.txt"} <= set(result["files"])
    stages = [json.loads(line)["stage"] for line in log.getvalue().splitlines() if "stage" in line]
    assert stages[:2] == ["load", "export"]
    graph = onnx.load(str(out / "model.onnx")).graph
    dims = {i.name: [d.dim_param for d in i.type.tensor_type.shape.dim] for i in graph.input}
    assert dims["input_ids"] == ["batch_size", "sequence_length"]
    assert graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch_size"

    report = validate_export(str(models["yoso"]), str(out), "text-classification")
    assert report.passed, report.render_text()
    # The trace saw [2, L]; validation fed another length, so the sequence axis really is free.
    assert result["example_shape"][0] == 2
    assert _validated_length(report) != result["example_shape"][1]
    # ... and so is the batch axis: 1 and 3 rows, lengths unlike both.
    for texts in (["hello"], ["i love this movie", "a dog", "the lazy brown dog is lovely"]):
        assert _onnx_vs_torch(models["yoso"], out / "model.onnx", texts) < 1e-4
    text = describe_route(result, model_type="yoso", validation=report.to_dict())
    assert "torch.onnx.export (TorchScript)" in text and "optimum was not used" in text
    assert "Validated against PyTorch" in text


def test_validation_catches_a_trace_that_froze_the_sequence_length(
    models: dict[str, Path], tmp_path: Path
) -> None:
    # Funnel computes its pooling and relative positions from Python ints of the input's shape:
    # the trace bakes in the example's length. The export "succeeds"; only validation tells.
    out = tmp_path / "funnel-onnx"
    result = export_with_torch_onnx(str(models["funnel"]), str(out), "text-classification")
    example = ["The quick brown fox jumps over the lazy dog.", "Hello world!"]
    assert _onnx_vs_torch(models["funnel"], out / "model.onnx", example) < 1e-5
    report = _validate_here(models["funnel"], out, "text-classification")
    assert not report.passed and report.failed_checks[0].output == "logits"
    assert report.failed_checks[0].max_abs_diff > 1e-3
    text = describe_route(result, model_type="funnel", validation=report.to_dict())
    assert "Validation FAILED" in text and "do not use this export" in text


def test_ernie_exports_with_the_onnx_config_of_bert(
    models: dict[str, Path], tmp_path: Path
) -> None:
    # ERNIE is BERT plus an optional task-type embedding (off by default): BERT's ONNX config
    # names its inputs correctly, and optimum traces ERNIE's own code.
    out = tmp_path / "ernie-onnx"
    result = export_with_related_config(
        str(models["ernie"]), str(out), "text-classification", "bert"
    )
    assert result["route"] == "optimum with the ONNX config of bert"
    assert result["related_model_type"] == "bert" and result["opset"] == 18
    assert result["inputs"] == ["input_ids", "attention_mask", "token_type_ids"]
    assert "model.onnx" in result["files"] and "tokenizer.json" in result["files"]
    report = _validate_here(models["ernie"], out, "text-classification")
    assert report.passed, report.render_text()
    assert "not an export optimum supports" in describe_route(result, model_type="ernie")


def test_choose_routes_offers_fitting_relatives_then_torch_onnx(models: dict[str, Path]) -> None:
    report = inspect_model(str(models["ernie"])).to_dict()
    offers = choose_routes(report)
    routes = [(o["route"], o["related_model_type"]) for o in offers]
    assert routes[0] == (AUTO, None)  # the ladder, which tries the rest in measured order
    assert routes[1] == (RELATED, "bert")  # the known relative comes first
    assert routes[-2:] == [(TORCHSCRIPT, None), (DYNAMO, None)]
    related = {r for kind, r in routes if kind == RELATED}
    # Name-closest types of another kind (decoders, speech) are not offered.
    assert related.isdisjoint({"granite", "cohere", "arcee", "sew"}) and related <= set(
        ["bert", *report["closest"]]
    )
    for offer in offers:
        assert offer["explanation"] and offer["risk"] and offer["task"] == "text-classification"
    assert fallback_job(offers[1])["related_model_type"] == "bert"
    assert fallback_job(offers[0])["order"] == offers[0]["order"]
    assert choose_routes({**report, "supported": True}) == []


def test_choose_routes_for_an_unsupported_decoder_says_which_keeps_the_cache() -> None:
    report = {
        "model_type": "biogpt",
        "supported": False,
        "task": "text-generation-with-past",
        "is_decoder": True,
        "is_encoder_decoder": False,
        "modality": "text",
        "closest": ["opt", "gptj", "bert"],
    }
    offers = choose_routes(report)
    torch_offers = [o for o in offers if o["route"] in (TORCHSCRIPT, DYNAMO)]
    tasks = [o["task"] for o in torch_offers]
    assert tasks == ["text-generation-with-past", "text-generation"]
    assert "exports the KV cache" in torch_offers[0]["explanation"]  # TorchScript, if it validates
    assert "without the KV cache" in torch_offers[1]["explanation"]  # dynamo
    # bert is an encoder: never a relative for a decoder.
    assert {o["related_model_type"] for o in offers if o["route"] == RELATED} == {"opt", "gptj"}


def test_decoder_without_cache_through_torchscript(tmp_path: Path) -> None:
    # GPT-2's masks are built with torch.vmap, which TorchScript cannot trace by itself.
    from onnx_wizard.inspection.samples import ensure_sample

    gpt2 = ensure_sample("gpt2")
    out = tmp_path / "gpt2-onnx"
    result = export_with_torch_onnx(str(gpt2), str(out), "text-generation")
    assert result["inputs"] == ["input_ids", "attention_mask"] and result["outputs"] == ["logits"]
    assert "generation_config.json" in result["files"]
    report = _validate_here(gpt2, out, "text-generation")
    assert report.passed, report.render_text()


def test_dynamo_route_exports_or_says_what_is_missing(
    models: dict[str, Path], tmp_path: Path
) -> None:
    out, task = tmp_path / "yoso-dynamo", "text-classification"
    if importlib.util.find_spec("onnxscript") is None:
        with pytest.raises(WizardError, match="onnxscript") as caught:
            export_with_torch_onnx(
                str(models["yoso"]), str(out), "text-classification", dynamo=True
            )
        assert "pip install onnxscript" in caught.value.fix
        return
    result = export_with_torch_onnx(
        str(models["yoso"]), str(out), "text-classification", dynamo=True
    )
    assert result["route"] == "torch.onnx.export (dynamo)" and result["notes"] == []
    assert _validate_here(models["yoso"], out, task).passed


def test_refusals_are_plain_errors(models: dict[str, Path], tmp_path: Path) -> None:
    yoso, ernie, out = str(models["yoso"]), str(models["ernie"]), str(tmp_path / "x")
    with pytest.raises(WizardError, match="without the KV"):
        export_with_torch_onnx(yoso, out, "text-generation-with-past")
    with pytest.raises(WizardError, match="text tasks only"):
        export_with_torch_onnx(yoso, out, "image-classification")
    with pytest.raises(WizardError, match="granite"):  # a decoder: no text-classification
        export_with_related_config(ernie, out, "text-classification", "granite")
    with pytest.raises(WizardError, match="bbox"):  # layoutlm's config feeds boxes ernie lacks
        export_with_related_config(ernie, out, "text-classification", "layoutlm")


def test_run_job_takes_the_export_childs_job_and_says_what_it_ignored(
    models: dict[str, Path], tmp_path: Path
) -> None:
    offers = choose_routes(inspect_model(str(models["yoso"])).to_dict())
    offer = next(o for o in offers if o["route"] == TORCHSCRIPT)
    job = {
        "main_export": {
            "model_name_or_path": str(models["yoso"]),
            "output": str(tmp_path / "job-out"),
            "task": "text-classification",
            "dtype": "fp16",
        },
        "model_path": str(models["yoso"]),
        "fallback": fallback_job(offer, opset=17),
    }
    result = run_job(job)
    assert result["route_id"] == TORCHSCRIPT and result["opset"] == 17
    assert result["notes"] == ["options not applied by this route: dtype"]
    assert (tmp_path / "job-out" / "model.onnx").is_file()


def test_export_command_offers_routes_then_takes_the_chosen_one(
    models: dict[str, Path], tmp_path: Path
) -> None:
    """End to end through `onnx-wizard export`: refuse with the offers, then export and say how."""
    import json
    import os
    import subprocess
    import sys

    def export(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "onnx_wizard", "export", str(models["yoso"]), str(out), *extra],
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )

    out = tmp_path / "out"
    refused = export()
    assert refused.returncode == 2
    assert "--route torchscript" in refused.stderr and not out.exists()
    done = export("--route", "torchscript", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["status"] == "ok" and result["validation"]["passed"] is True
    assert "torch.onnx.export" in result["route"] and "optimum was not used" in result["route"]
    assert result["command"] is None, "no optimum-cli command reproduces a torch.onnx export"
    assert (out / "model.onnx").is_file()
