"""Config-built inputs for multimodal models: placeholder tokens that match the vision tower's
features at both the trace and the check shapes, and one torch.onnx export that validates."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.slow

IMAGE_TOKEN = 100


def _llama_like(vocab: int = 128) -> dict[str, Any]:
    return {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "vocab_size": vocab,
        "max_position_embeddings": 256,
    }


def _eval(model: Any) -> Any:
    import torch

    torch.manual_seed(0)
    return model.eval()


@pytest.fixture(scope="module")
def llava() -> Any:
    """A LLaVA from a CLIP vision tower (56 px, 14 px patches: 16 features) and a Llama."""
    import torch
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaModel

    vision = CLIPVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
        image_size=56, patch_size=14, projection_dim=32,
    )  # fmt: skip
    config = LlavaConfig(
        vision_config=vision.to_dict(),
        text_config=LlamaConfig(**_llama_like()).to_dict(),
        image_token_index=IMAGE_TOKEN,
        vision_feature_layer=-1,
    )
    torch.manual_seed(0)
    return _eval(LlavaModel(config))


@pytest.fixture(scope="module")
def paligemma() -> Any:
    import torch
    from transformers import PaliGemmaConfig, PaliGemmaForConditionalGeneration

    vision = {
        "model_type": "siglip_vision_model", "hidden_size": 32, "intermediate_size": 64,
        "num_hidden_layers": 1, "num_attention_heads": 2, "image_size": 28, "patch_size": 14,
        "projection_dim": 32,
    }  # fmt: skip
    text = {**_llama_like(), "model_type": "gemma", "head_dim": 16}
    config = PaliGemmaConfig(
        vision_config=vision, text_config=text, image_token_index=IMAGE_TOKEN, projection_dim=32
    )
    torch.manual_seed(0)
    return _eval(PaliGemmaForConditionalGeneration(config))


@pytest.fixture(scope="module")
def qwen2_vl() -> Any:
    import torch
    from transformers import Qwen2VLConfig, Qwen2VLModel

    text = {**_llama_like(200), "rope_scaling": {"type": "mrope", "mrope_section": [2, 3, 3]}}
    vision = {
        "depth": 1, "embed_dim": 32, "hidden_size": 32, "num_heads": 2, "mlp_ratio": 2,
        "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2,
    }  # fmt: skip
    config = Qwen2VLConfig(
        text_config=text, vision_config=vision, image_token_id=150, video_token_id=151,
        vision_start_token_id=152, vision_end_token_id=153,
    )  # fmt: skip
    torch.manual_seed(0)
    return _eval(Qwen2VLModel(config))


@pytest.fixture(scope="module")
def qwen2_audio() -> Any:
    """A Whisper-style audio tower with a 160-frame window (80 positions)."""
    import torch
    from transformers import Qwen2AudioConfig, Qwen2AudioForConditionalGeneration

    audio = {
        "d_model": 32, "encoder_layers": 1, "encoder_attention_heads": 2, "encoder_ffn_dim": 64,
        "num_mel_bins": 16, "max_source_positions": 80,
    }  # fmt: skip
    text = {**_llama_like(), "model_type": "qwen2"}
    config = Qwen2AudioConfig(audio_config=audio, text_config=text, audio_token_index=IMAGE_TOKEN)
    torch.manual_seed(0)
    return _eval(Qwen2AudioForConditionalGeneration(config))


def _runs(model: Any, inputs: dict[str, Any]) -> Any:
    import torch

    from onnx_wizard.fallback.generic import call_extras

    with torch.no_grad():
        return model(**inputs, **call_extras(model))


def _shapes() -> tuple[Any, Any]:
    from onnx_wizard.fallback.inputs import CHECK, TRACE

    return TRACE, CHECK


# LLaVA splits its features per image in Python (a traced graph would keep the image count):
# one image in all, in the first row. PaliGemma keeps them in one tensor: one image per row.
@pytest.mark.parametrize("fixture,features,per_row", [("llava", 16, False), ("paligemma", 4, True)])
def test_placeholders_match_the_image_features(
    request: pytest.FixtureRequest, fixture: str, features: int, per_row: bool
) -> None:
    from onnx_wizard.fallback.inputs import example_inputs

    model = request.getfixturevalue(fixture)
    lengths = []
    for shape in _shapes():
        inputs = example_inputs(model, shape)
        ids = inputs["input_ids"]
        images = shape.batch if per_row else 1
        assert ids.shape[0] == shape.batch
        assert inputs["pixel_values"].shape[0] == images
        counts = [features] * images + [0] * (shape.batch - images)
        assert (ids == IMAGE_TOKEN).sum(dim=1).tolist() == counts
        assert inputs["attention_mask"].shape == ids.shape
        assert inputs["attention_mask"][-1, -1] == 0  # the padding still pads
        out = _runs(model, inputs)
        assert out[0].shape[:2] == ids.shape
        lengths.append(ids.shape[1])
    assert lengths[0] != lengths[1]  # the sequence axis stays dynamic


def test_qwen2_vl_gets_patches_a_grid_and_a_marked_image(qwen2_vl: Any) -> None:
    from onnx_wizard.fallback.inputs import example_inputs

    for shape in _shapes():
        inputs = example_inputs(qwen2_vl, shape)
        ids = inputs["input_ids"]
        assert inputs["image_grid_thw"].tolist() == [[1, 4, 4]]
        assert inputs["pixel_values"].shape == (16, 3 * 2 * 14 * 14)
        # One image, in the first row: 4 x 4 patches merged 2 x 2, after vision_start.
        assert (ids == 150).sum(dim=1).tolist() == [4] + [0] * (shape.batch - 1)
        start = int((ids[0] == 152).nonzero()[0])
        assert ids[0, start + 1] == 150
        out = _runs(qwen2_vl, inputs)
        assert out.last_hidden_state.shape[:2] == ids.shape


def test_audio_gets_a_full_window_and_one_placeholder_per_feature(qwen2_audio: Any) -> None:
    from onnx_wizard.fallback.inputs import example_inputs

    for shape in _shapes():
        inputs = example_inputs(qwen2_audio, shape)
        assert inputs["input_features"].shape == (shape.batch, 16, 160)
        mask = inputs["feature_attention_mask"]
        frames = 8 * shape.sequence  # a short clip, padded to the window
        assert mask.shape == (shape.batch, 160)
        assert mask.sum(dim=1).tolist() == [frames] * shape.batch
        # Frames halved by the strided conv, then pooled by 2.
        features = ((frames - 1) // 2 + 1 - 2) // 2 + 1
        ids = inputs["input_ids"]
        assert (ids == IMAGE_TOKEN).sum(dim=1).tolist() == [features] * shape.batch
        assert _runs(qwen2_audio, inputs).logits.shape[:2] == ids.shape


def test_models_without_placeholders_keep_their_inputs() -> None:
    import torch
    from transformers import LlamaConfig, LlamaModel

    from onnx_wizard.fallback.inputs import TRACE
    from onnx_wizard.fallback.multimodal_inputs import with_placeholders

    model = LlamaModel(LlamaConfig(**_llama_like())).eval()
    inputs = {"input_ids": torch.ones(2, 9, dtype=torch.int64)}
    assert with_placeholders(model, TRACE, inputs, 0) is inputs


@pytest.mark.parametrize("fixture,image_axes", [("llava", {}), ("paligemma", {"0": "batch_size"})])
def test_exports_and_validates(
    request: pytest.FixtureRequest, tmp_path: Any, fixture: str, image_axes: dict[str, str]
) -> None:
    """LLaVA's graph keeps one image; PaliGemma's takes one image per row, any number of rows."""
    from onnx_wizard.fallback.ladder import first_validated
    from onnx_wizard.fallback.routes import TORCHSCRIPT

    model = request.getfixturevalue(fixture)
    winner, tries = first_validated(model, "feature-extraction", tmp_path, (TORCHSCRIPT,))
    assert winner is not None, tries
    assert winner["passed"] and winner["validation"]["checks"]
    assert winner["dynamic_axes"]["input_ids"] == {"0": "batch_size", "1": "sequence_length"}
    assert winner["dynamic_axes"]["pixel_values"] == image_axes
