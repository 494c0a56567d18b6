"""Inputs for models that splice image or audio features into a text sequence.

Such models (LLaVA, PaliGemma, Qwen2-VL, BLIP-2, ...) expect placeholder tokens in input_ids that
match the features their vision or audio tower produces, and sometimes extra inputs (image sizes,
grid shapes, Q-Former ids). Child-process only: torch is imported inside functions.

How: the media inputs are shaped as the family wants (one image or clip per row), the tower is
run once on them to count the features it yields (``get_image_features`` and kin), and a block of
that many placeholder tokens goes after the first random text id of every row, so the sequence
is still longer at CHECK than at TRACE. When the tower returns its features as a Python list per
image (LLaVA, LLaVA-NeXT, Pixtral, Qwen2-VL), a traced graph keeps the image count, so those get
one image in all, for the first row, at both shapes (the other rows hold ordinary ids). Config
arithmetic (image_seq_length, num_query_tokens, ...) is the fallback when no tower method gives
the count. Whatever fails leaves the inputs as they were: the ladder then reports the model's
error. ONNX_WIZARD_DEBUG_INPUTS=1 raises instead, to see why.
"""

from __future__ import annotations

import inspect
import os
from typing import Any

from onnx_wizard.fallback.inputs import sub_config

# Placeholder token ids by config key, per medium: the first key set (not None) wins.
IMAGE_KEYS = ("image_token_id", "image_token_index")
VIDEO_KEYS = ("video_token_id", "video_token_index")
AUDIO_KEYS = ("audio_token_id", "audio_token_index")
# Tokens some families expect right before / after the placeholder block (Qwen2-VL finds its
# images from vision_start; Gemma 3 and GLM-4V wrap them the same way).
START_KEYS = ("vision_start_token_id", "image_start_token_id", "boi_token_index", "boi_token_id")
END_KEYS = ("vision_end_token_id", "image_end_token_id", "eoi_token_index", "eoi_token_id")
VIDEO_FRAMES = 4
FEATURE_METHODS = {
    "image": ("get_image_features",),
    "video": ("get_video_features",),
    "audio": ("get_audio_features",),
}


def with_placeholders(model: Any, shape: Any, inputs: dict[str, Any], seed: int) -> dict[str, Any]:
    """``inputs`` completed for a multimodal model; unchanged for any other model."""
    if "input_ids" not in inputs:
        return inputs
    try:
        done = _complete(model, shape, dict(inputs), seed)
    except Exception:  # the model cannot be fed this way: its own error will say why
        if os.environ.get("ONNX_WIZARD_DEBUG_INPUTS"):
            raise
        return inputs
    return done if done is not None else inputs


# ----------------------------------------------------------------------------- helpers
def _config_value(config: Any, *keys: str) -> Any:
    for holder in (config, getattr(config, "text_config", None)):
        if holder is None or isinstance(holder, dict):
            continue
        for key in keys:
            value = getattr(holder, key, None)
            if value is not None:
                return value
    return None


def _int(value: Any) -> int:
    if isinstance(value, (list, tuple)):
        return int(value[-1])
    return int(value)


def _parameters(function: Any) -> set[str]:
    try:
        return set(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return set()


def _generator(seed: int) -> Any:
    import torch

    return torch.Generator().manual_seed(seed + 11)


def _medium(model: Any, inputs: dict[str, Any], accepts: set[str]) -> tuple[str, int] | None:
    """(image / video / audio, placeholder id) the model's inputs call for, or None."""
    config = model.config
    if "pixel_values" in accepts:
        token = _config_value(config, *IMAGE_KEYS)
        if token is None and "pixel_values_videos" not in accepts:
            token = _config_value(config, *VIDEO_KEYS)  # InstructBLIP-Video: frames in pixels
            if token is not None:
                return "video", int(token)
        if token is not None:
            return "image", int(token)
    if "input_features" in accepts or "input_values" in accepts:
        token = _config_value(config, *AUDIO_KEYS)
        if token is not None:
            return "audio", int(token)
    return None


# ----------------------------------------------------------------------------- media inputs
def _media(
    model: Any, shape: Any, inputs: dict[str, Any], accepts: set[str], seed: int, images: int
) -> int:
    """Replace or add the image inputs the family wants, ``images`` of them (one per row, or
    one in all); returns how many they hold.

    Families that take image_sizes or grid shapes split their features per image in Python: a
    traced graph keeps that image count, so they always get one image, for the first row."""
    import torch

    config = model.config
    generator = _generator(seed)
    vision = sub_config(config, "vision_config", "image_config") or config
    channels = int(getattr(vision, "num_channels", None) or getattr(vision, "in_channels", 3) or 3)
    if "image_grid_thw" in accepts:
        # Qwen2-VL, Qwen2.5-VL, GLM-4V: flattened patches and a (t, h, w) grid per image; a
        # small grid (2 x 2 merged tokens) keeps the vision tower cheap.
        patch = _int(getattr(vision, "patch_size", 14))
        temporal = int(getattr(vision, "temporal_patch_size", 2) or 1)
        merge = int(getattr(vision, "spatial_merge_size", 2) or 1)
        side = 2 * merge
        inputs["pixel_values"] = torch.randn(
            side * side, channels * temporal * patch * patch, generator=generator
        )
        inputs["image_grid_thw"] = torch.tensor([[1, side, side]], dtype=torch.int64)
        return 1
    if "pixel_values" not in inputs:
        return images
    inputs["pixel_values"] = inputs["pixel_values"][:images]
    height, width = inputs["pixel_values"].shape[-2:]
    pinpoints = getattr(config, "image_grid_pinpoints", None)
    if pinpoints and "image_sizes" in accepts:
        # LLaVA-NeXT family: the base image plus the tiles of the best-fitting grid, 5-D.
        from transformers.models.llava_next.modeling_llava_next import (
            image_size_to_num_patches,
        )

        tiles = image_size_to_num_patches((height, width), pinpoints, int(vision.image_size))
        inputs["pixel_values"] = torch.randn(1, tiles, channels, height, width, generator=generator)
        inputs["image_sizes"] = torch.tensor([[height, width]], dtype=torch.int64)
        return 1
    if "image_sizes" in accepts and getattr(vision, "model_type", "") == "pixtral":
        # Pixtral towers (Mistral 3, LLaVA with Pixtral) take any size up to image_size: a small
        # one, a multiple of patch x spatial merge, keeps the sequence short.
        patch = _int(getattr(vision, "patch_size", 14))
        merge = int(getattr(config, "spatial_merge_size", 1) or 1)
        side = min(int(height), patch * merge * 4)
        inputs["pixel_values"] = torch.randn(1, channels, side, side, generator=generator)
        inputs["image_sizes"] = torch.tensor([[side, side]], dtype=torch.int64)
        return 1
    queries = getattr(config, "projector_patch_to_query_dict", None)
    if isinstance(queries, dict) and queries:
        # Aria: the projector has query sets for some patch counts only; the smallest fits.
        patch = _int(getattr(vision, "patch_size", 14))
        side = patch * int(min(int(k) for k in queries) ** 0.5)
        inputs["pixel_values"] = torch.randn(images, channels, side, side, generator=generator)
        inputs["pixel_mask"] = torch.ones(images, side, side, dtype=torch.bool)
        return images
    if "high_res_pixel_values" in accepts:
        # DeepSeek-VL hybrid: a second, high-resolution view of the same image.
        high = sub_config(config, "high_res_vision_config")
        size = int(getattr(high, "image_size", 1024))
        inputs["high_res_pixel_values"] = torch.randn(
            images, channels, size, size, generator=generator
        )
    if "pixel_attention_mask" in accepts and inputs["pixel_values"].dim() == 4:
        # Idefics2/3, SmolVLM: [batch, images, channels, h, w] and a mask of the real pixels.
        inputs["pixel_values"] = inputs["pixel_values"].unsqueeze(1)
        inputs["pixel_attention_mask"] = torch.ones(images, 1, height, width, dtype=torch.bool)
    if getattr(config, "model_type", "") == "instructblipvideo" and _pixels_4d(inputs):
        # InstructBLIP-Video: [batch, frames, channels, h, w]; 4 frames, as its processor takes.
        inputs["pixel_values"] = torch.randn(
            images, VIDEO_FRAMES, channels, height, width, generator=generator
        )
    if "qformer_input_ids" in accepts:
        # InstructBLIP: the instruction again, in the Q-Former's own vocabulary.
        qformer = sub_config(config, "qformer_config")
        vocab = int(getattr(qformer, "vocab_size", 1000) or 1000)
        ids = torch.randint(4, min(vocab, 1000), (images, shape.sequence), generator=generator)
        inputs["qformer_input_ids"] = ids
        inputs["qformer_attention_mask"] = torch.ones_like(ids)
    return images


def _pixels_4d(inputs: dict[str, Any]) -> bool:
    pixels = inputs.get("pixel_values")
    return pixels is not None and pixels.dim() == 4


# ----------------------------------------------------------------------------- feature counts
def _features_method(model: Any, medium: str) -> Any:
    for holder in (model, getattr(model, "model", None)):
        for name in FEATURE_METHODS[medium]:
            method = getattr(holder, name, None)
            if callable(method):
                return method
    return None


def _count_tensors(output: Any) -> int:
    import torch

    if isinstance(output, torch.Tensor):
        return output.numel() // output.shape[-1] if output.dim() else 0
    if isinstance(output, (list, tuple)):
        return sum(_count_tensors(item) for item in output)
    raise TypeError(f"features of type {type(output).__name__}")


def _measured(model: Any, medium: str, inputs: dict[str, Any]) -> tuple[int, bool] | None:
    """(features the tower yields for ``inputs``, all items together; whether it returns them
    split per item), or None."""
    import torch

    method = _features_method(model, medium)
    if method is None:
        return None
    takes = _parameters(method)
    kwargs = {k: v for k, v in inputs.items() if k in takes and k not in ("input_ids",)}
    if not kwargs:
        return None
    with torch.no_grad():
        output = method(**kwargs)
    if getattr(model.config, "visual_indicator_token_ids", None) and isinstance(output, tuple):
        # Ovis2 returns (image features, indicator embeddings): the indicators go to their own
        # token ids, which the random text leaves out.
        output = output[0]
    try:
        total = _count_tensors(output)
    except TypeError:  # a tower output, not projected features (BLIP-2): count from the config
        return None
    return total, isinstance(output, (list, tuple)) and len(output) > 1


def _counted(model: Any, medium: str) -> int | None:
    """Features per item from the config, when no tower method gives them."""
    config = model.config
    for key in ("image_seq_length", "num_query_tokens", "mm_tokens_per_image", "num_image_tokens"):
        value = _config_value(config, key)
        if isinstance(value, int) and value > 0:
            return value
    return None


# ----------------------------------------------------------------------------- splicing
def _complete(model: Any, shape: Any, inputs: dict[str, Any], seed: int) -> dict[str, Any] | None:
    from onnx_wizard.fallback.inputs import forward_parameters

    accepts = forward_parameters(model)
    config = model.config
    changed = _fixed_media(model, shape, inputs, accepts, seed)
    if "image_embeds_position_mask" in accepts and "pixel_values" in inputs:
        # Kosmos-2: no placeholder id; a mask marks where latent_query_num image embeddings
        # replace the token embeddings (the ids there are ordinary ones).
        count = int(getattr(config, "latent_query_num", 64))
        token = int(inputs["input_ids"][0, 0])
        _splice(inputs, token, count, marker="image_embeds_position_mask")
        return inputs
    found = _medium(model, inputs, accepts)
    if found is None:
        return inputs if changed else None
    medium, token = found
    rows = shape.batch
    items, total = rows, None
    if medium == "audio":
        _audio(model, shape, inputs, accepts, seed)
        total = _audio_count(model, inputs)
    else:
        base = dict(inputs)
        items = _media(model, shape, inputs, accepts, seed, rows)
    measured = _measured(model, medium, inputs) if total is None else None
    if measured is not None and measured[1] and medium != "audio":
        # Features split per image (a Python list): a traced graph keeps their number, so
        # one image in all, at TRACE and CHECK shapes alike.
        inputs.clear()
        inputs.update(base)
        items = _media(model, shape, inputs, accepts, seed, 1)
        measured = _measured(model, medium, inputs)
    if measured is not None:
        total = measured[0]
    if total is None:
        per_item = _counted(model, medium)
        if per_item is None:
            return None
        if medium == "video" and inputs["pixel_values"].dim() == 5:
            per_item *= int(inputs["pixel_values"].shape[1])  # query tokens for every frame
        total = per_item * items
    if total <= 0 or total % items:
        return None
    count = total // items
    if "input_features_mask" in accepts and "input_features" in inputs:
        # Granite Speech: which projected audio features are real, per row.
        inputs["input_features_mask"] = _ones(rows, count, bool)
    start, end = _config_value(config, *START_KEYS), _config_value(config, *END_KEYS)
    bounds = (start, end) if isinstance(start, int) and isinstance(end, int) else None
    _splice(inputs, token, count, bounds=bounds, items=items)
    return inputs


def _ones(rows: int, length: int, kind: Any = None) -> Any:
    import torch

    return torch.ones(rows, length, dtype=torch.bool if kind is bool else torch.int64)


def _splice(
    inputs: dict[str, Any],
    token: int,
    count: int,
    bounds: tuple[int, int] | None = None,
    marker: str | None = None,
    items: int | None = None,
) -> None:
    """A block of ``count`` placeholder ids after the first text token of the first ``items``
    rows (all by default), the same number of ordinary ids in the others; masks and token types
    grow with it (the padding of the last row stays at its end)."""
    import torch

    ids = inputs["input_ids"]
    rows = ids.shape[0]
    block = [token] * count
    if bounds is not None:
        block = [bounds[0], *block, bounds[1]]
    filler = [[int(ids[row, 0])] * len(block) for row in range(rows)]
    items = rows if items is None else items
    head = torch.tensor([block] * items + filler[items:], dtype=ids.dtype)
    inputs["input_ids"] = torch.cat([ids[:, :1], head, ids[:, 1:]], dim=1)
    for name in ("attention_mask", "token_type_ids"):
        if name in inputs:
            old = inputs[name]
            fill = torch.ones_like(head) if name == "attention_mask" else torch.zeros_like(head)
            inputs[name] = torch.cat([old[:, :1], fill.to(old.dtype), old[:, 1:]], dim=1)
    if marker is not None:
        mask = torch.zeros_like(inputs["input_ids"], dtype=torch.bool)
        mask[:, 1 : 1 + len(block)] = True
        inputs[marker] = mask


def _fixed_media(
    model: Any, shape: Any, inputs: dict[str, Any], accepts: set[str], seed: int
) -> bool:
    """Image or audio inputs some text+media models want in another shape; True if changed."""
    import torch

    config = model.config
    rows = shape.batch
    generator = _generator(seed)
    changed = False
    image = sub_config(config, "image_config")
    pixels = inputs.get("pixel_values")
    if image is not None and pixels is not None and pixels.dim() == 4:
        # FLAVA keeps its image tower's settings in image_config, not vision_config.
        size = getattr(image, "image_size", None)
        channels = int(getattr(image, "num_channels", 3) or 3)
        if isinstance(size, int) and tuple(pixels.shape[-2:]) != (size, size):
            inputs["pixel_values"] = torch.randn(rows, channels, size, size, generator=generator)
            changed = True
    pixels = inputs.get("pixel_values")
    idefics = getattr(config, "model_type", "") == "idefics"  # FLAVA's mask is another thing
    if idefics and "image_attention_mask" in accepts and pixels is not None and pixels.dim() == 4:
        # IDEFICS (v1): images per row, [batch, images, channels, h, w], and which text
        # tokens attend to which image (cross-attention, no placeholders).
        inputs["pixel_values"] = pixels.unsqueeze(1)
        inputs["image_attention_mask"] = _ones(rows, inputs["input_ids"].shape[1]).unsqueeze(-1)
        changed = True
    audio = sub_config(config, "audio_config")
    features = inputs.get("input_features")
    if (
        features is not None
        and audio is not None
        and getattr(audio, "model_type", "") == "clap_audio_model"
    ):
        # CLAP: one mel spectrogram per clip, [batch, 1, frames, mel bins], 1001 frames as its
        # feature extractor pads them (the tower resizes it to its square input).
        mel = int(getattr(audio, "num_mel_bins", 64))
        inputs["input_features"] = torch.randn(rows, 1, 1001, mel, generator=generator)
        changed = True
    return changed


def _audio(model: Any, shape: Any, inputs: dict[str, Any], accepts: set[str], seed: int) -> None:
    """Audio inputs as the tower wants them: Whisper-style towers a full 30 s window."""
    import torch

    config = model.config
    rows = shape.batch
    generator = _generator(seed)
    audio = sub_config(config, "audio_config", "encoder_config")
    if audio is None:
        return
    mel = getattr(audio, "num_mel_bins", None)
    sources = getattr(audio, "max_source_positions", None)
    width = getattr(audio, "input_dim", None)
    if mel and sources:
        # Qwen2-Audio, Voxtral: Whisper encoders, two mel frames per position, always padded.
        frames = 2 * int(sources)
        inputs["input_features"] = torch.randn(rows, int(mel), frames, generator=generator)
        if "feature_attention_mask" in accepts:
            # Qwen2-Audio: a short clip padded to the window (the mask says which frames are
            # real) yields fewer features: a shorter sequence, a graph that honours the mask.
            mask = _ones(rows, frames)
            mask[:, 8 * shape.sequence :] = 0
            inputs["feature_attention_mask"] = mask
    elif width:
        # Granite Speech: [batch, frames, stacked features]; frames grow with the text.
        frames = 8 * shape.sequence
        inputs["input_features"] = torch.randn(rows, frames, int(width), generator=generator)


def _audio_count(model: Any, inputs: dict[str, Any]) -> int | None:
    """Qwen2-Audio has no get_audio_features: its tower says how long each clip's output is."""
    tower = getattr(model, "audio_tower", None)
    lengths = getattr(tower, "_get_feat_extract_output_lengths", None)
    mask = inputs.get("feature_attention_mask")
    if lengths is None or mask is None or _features_method(model, "audio") is not None:
        return None
    output = lengths(mask.sum(-1))
    output = output[-1] if isinstance(output, tuple) else output
    return int(output.sum())
