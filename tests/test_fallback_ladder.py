"""The fallback ladder on real tiny models optimum does not register, one per modality.

Each model is built offline from its transformers config class (bench/tiny.py shrinks it), then
exported by a real route (optimum with a borrowed ONNX config, or torch.onnx) and validated
with ONNX Runtime against PyTorch on inputs at shapes other than the traced ones.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from onnx_wizard.errors import WizardError
from onnx_wizard.fallback.routes import DYNAMO, FAMILY, LINEAGE, TORCHSCRIPT

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

pytestmark = pytest.mark.slow


def _tiny(model_type: str) -> Any:
    import tiny  # bench/tiny.py

    built = tiny.build(model_type)
    assert built.model is not None, built.error
    return built


def _registered(model_type: str) -> bool:
    from onnx_wizard.fallback.lineage import registered_types

    return model_type in registered_types()


def _attempt(model: Any, task: str, route: str, out: Path, related: str | None = None) -> dict:
    from onnx_wizard.fallback.ladder import attempt

    return attempt(model, task, route, out, related)


def test_vision_model_through_its_registered_ancestor_and_torch_onnx(tmp_path: Path) -> None:
    import onnx

    from onnx_wizard.fallback.lineage import related_types

    built = _tiny("ijepa")
    assert not _registered("ijepa") and built.modality == "vision"
    # IJEPA's classes derive from ViT's (its modular file says so): found by lineage, not name.
    assert related_types(built.model, built.task)[0][0] == "vit"
    result = _attempt(built.model, built.task, LINEAGE, tmp_path / "lineage", "vit")
    assert result["passed"], result["validation"]
    traced = _attempt(built.model, built.task, TORCHSCRIPT, tmp_path / "ts")
    assert traced["passed"], traced["validation"]
    assert traced["dynamic_axes"]["pixel_values"] == {"0": "batch_size"}
    graph = onnx.load(str(tmp_path / "ts" / "model.onnx"))
    assert graph.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch_size"
    # Validation ran on 3 images; the trace saw 2.
    assert "pixel_values [3," in traced["validation"]["inputs_description"]


def test_dynamo_route_on_a_vision_model(tmp_path: Path) -> None:
    built = _tiny("ijepa")
    result = _attempt(built.model, built.task, DYNAMO, tmp_path / "dynamo")
    assert result["passed"], result["validation"]


def test_audio_model_optimum_does_not_register(tmp_path: Path) -> None:
    built = _tiny("parakeet_ctc")
    assert not _registered("parakeet_ctc") and built.modality == "audio"
    result = _attempt(built.model, built.task, TORCHSCRIPT, tmp_path / "ts")
    assert result["passed"], result["validation"]
    assert set(result["dynamic_axes"]["input_features"].values()) >= {"batch_size"}
    assert result["traced_shapes"]["input_features"][0] == 2


def test_multimodal_model_exports_all_its_inputs(tmp_path: Path) -> None:
    built = _tiny("altclip")
    assert not _registered("altclip")
    result = _attempt(built.model, built.task, TORCHSCRIPT, tmp_path / "ts")
    assert result["passed"], result["validation"]
    assert {"input_ids", "pixel_values"} <= set(result["traced_shapes"])


def test_unregistered_encoder_decoder_exports_split_and_merged(tmp_path: Path) -> None:
    built = _tiny("mvp")
    assert not _registered("mvp") and built.model.config.is_encoder_decoder
    result = _attempt(built.model, built.task, FAMILY, tmp_path / "s2s", "bart")
    assert result["passed"], result["validation"]
    assert result["files"] == [
        "decoder_model.onnx",
        "decoder_model_merged.onnx",
        "decoder_with_past_model.onnx",
        "encoder_model.onnx",
    ]
    checked = {(c["submodel"], c["stage"]) for c in result["validation"]["checks"]}
    # Every file ran, the cached decoders on a second step fed with their own cache.
    assert {s for s, _ in checked} == {
        "encoder_model",
        "decoder_model",
        "decoder_model_merged",
        "decoder_with_past_model",
    }
    assert any("step 2" in stage for _, stage in checked)


def test_unregistered_decoder_generates_with_its_kv_cache_like_pytorch(tmp_path: Path) -> None:
    import torch

    from onnx_wizard.fallback.verify import generate_with_cache

    built = _tiny("olmo3")
    assert not _registered("olmo3")
    result = _attempt(built.model, built.task, LINEAGE, tmp_path / "dec", "olmo2")
    assert result["passed"] and result["kv_cache"], result["validation"]
    prompt = torch.tensor([[5, 17, 42, 8, 99, 3, 250]])
    with torch.no_grad():
        expected = built.model.generate(
            prompt, max_new_tokens=6, do_sample=False, attention_mask=torch.ones_like(prompt)
        )[:, prompt.shape[1] :]
    got = generate_with_cache(tmp_path / "dec", prompt.numpy(), 6)
    assert got == expected.tolist()


def test_validation_catches_a_graph_traced_with_fixed_shapes(tmp_path: Path) -> None:
    """The same model exported without dynamic axes must fail validation at other shapes."""
    import torch

    from onnx_wizard.fallback.generic import _wrapper, call_extras
    from onnx_wizard.fallback.inputs import TRACE, example_inputs
    from onnx_wizard.fallback.verify import verify_export

    built = _tiny("ijepa")
    inputs = example_inputs(built.model, TRACE)
    wrapper = _wrapper(built.model, ["pixel_values"], ["logits"], call_extras(built.model))
    torch.onnx.export(
        wrapper, (inputs["pixel_values"],), str(tmp_path / "model.onnx"),
        input_names=["pixel_values"], output_names=["logits"], dynamo=False,
    )  # fmt: skip
    report = verify_export(built.model, tmp_path, built.task)
    assert not report.passed and "onnxruntime" in (report.error or "")


def test_borrowed_config_must_fit_the_forward_signature() -> None:
    from onnx_wizard.fallback.borrow import borrowed_config

    built = _tiny("ijepa")
    with pytest.raises(WizardError, match=r"cannot describe|does not take"):
        borrowed_config(built.model, "text-classification", "bert")


def test_ladder_takes_the_first_route_that_validates(tmp_path: Path) -> None:
    from onnx_wizard.fallback.ladder import first_validated

    built = _tiny("ijepa")
    winner, tries = first_validated(built.model, built.task, tmp_path, (TORCHSCRIPT, LINEAGE))
    assert winner is not None and winner["route"] == TORCHSCRIPT and len(tries) == 1
    assert np.isfinite(winner["seconds"])


def test_export_auto_fix_takes_the_ladder_end_to_end(tmp_path: Path) -> None:
    """`onnx-wizard export --auto-fix` on a vision type optimum refuses: validated, and says how."""
    import json
    import os
    import subprocess

    built = _tiny("ijepa")
    built.model.save_pretrained(tmp_path / "model")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "onnx_wizard", "export", str(tmp_path / "model"), str(out)]
    done = subprocess.run(
        [*command, "--auto-fix", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["status"] == "ok" and result["validation"]["passed"] is True
    assert "untraced shapes" in result["validation"]["inputs_description"]
    assert "because optimum has no ONNX export for model_type 'ijepa'" in result["route"]
    assert (out / "model.onnx").is_file() and (out / "config.json").is_file()
    assert not (out / ".onnx-wizard-routes").exists()


def test_torchscript_exports_a_decoder_with_its_kv_cache(tmp_path: Path) -> None:
    """BioGPT: unregistered and without a registered ancestor, so no borrowed config applies."""
    import torch

    from onnx_wizard.fallback.lineage import related_types
    from onnx_wizard.fallback.verify import generate_with_cache

    built = _tiny("biogpt")
    assert not _registered("biogpt") and related_types(built.model, built.task) == []
    result = _attempt(built.model, built.task, TORCHSCRIPT, tmp_path / "dec")
    assert result["passed"] and result["kv_cache"], result["validation"]
    stages = {c["stage"] for c in result["validation"]["checks"]}
    assert any("step 2" in s for s in stages), "the cache was fed back and checked"
    prompt = torch.tensor([[5, 17, 42, 8, 99, 3, 250], [9, 8, 7, 6, 5, 4, 3]])
    with torch.no_grad():
        expected = built.model.generate(
            prompt, max_new_tokens=5, do_sample=False, attention_mask=torch.ones_like(prompt)
        )[:, prompt.shape[1] :]
    assert generate_with_cache(tmp_path / "dec", prompt.numpy(), 5) == expected.tolist()
