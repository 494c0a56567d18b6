"""Example inputs for any model, built from its config alone: no tokenizer, processor or Hub.

The torch.onnx routes trace on one set of shapes and validation runs on another (more rows,
another length), so a graph that froze a shape fails validation instead of passing silently.
Child-process only: torch is imported inside the functions.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

TEXT_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
DECODER_INPUTS = ("decoder_input_ids", "decoder_attention_mask")
IMAGE_INPUTS = ("pixel_values",)
AUDIO_INPUTS = ("input_values", "input_features")
# Names in config.json whose values are token ids a random sequence must not contain: image or
# audio placeholders make multimodal models expect matching features.
PLACEHOLDER_MARKS = ("image_token", "video_token", "audio_token", "boi_token", "eoi_token")


@dataclass(frozen=True)
class Shape:
    batch: int
    sequence: int  # text tokens; audio frames and samples scale with it
    decoder: int = 3


TRACE = Shape(batch=2, sequence=9)
CHECK = Shape(batch=3, sequence=13, decoder=5)  # validation: other rows and lengths


def forward_parameters(model: Any) -> set[str]:
    return set(inspect.signature(model.forward).parameters)


def _sub(config: Any, *names: str) -> Any:
    for name in names:
        sub = getattr(config, name, None)
        if sub is not None and not isinstance(sub, dict):
            return sub
    return config


def _value(config: Any, names: tuple[str, ...], default: Any) -> Any:
    for holder in (config, _sub(config, "vision_config", "audio_config", "encoder_config")):
        for name in names:
            value = getattr(holder, name, None)
            if value is not None:
                return value
    return default


def image_size(config: Any) -> tuple[int, int]:
    size = _value(config, ("image_size", "img_size", "input_size"), 64)
    if isinstance(size, dict):
        size = (size.get("height", 64), size.get("width", 64))
    if isinstance(size, (list, tuple)):
        return int(size[-2]), int(size[-1])
    return int(size), int(size)


def _vocab(config: Any) -> int:
    vocab = _value(config, ("vocab_size",), None)
    text = _sub(config, "text_config", "decoder")
    vocab = getattr(text, "vocab_size", None) or vocab or 1000
    return int(vocab)


def _safe_ids(config: Any, rows: int, length: int, seed: int) -> Any:
    """Random ordinary token ids: placeholders and special ids left out."""
    import torch

    vocab = _vocab(config)
    avoid = set()
    for holder in (config, _sub(config, "text_config")):
        for key, value in vars(holder).items():
            if type(value) is int and ("token" in key or key.endswith("_id")):
                avoid.add(value)
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(min(4, vocab - 1), min(vocab, 1000), (rows, length), generator=generator)
    for token in avoid:
        ids[ids == token] = min(4, vocab - 1) if token != min(4, vocab - 1) else 5
    return ids


def has_placeholders(config: Any) -> bool:
    return any(
        any(mark in key for mark in PLACEHOLDER_MARKS) and value is not None
        for key, value in vars(config).items()
    )


def example_inputs(model: Any, shape: Shape, seed: int = 0) -> dict[str, Any]:
    """Every input forward() accepts that can be made from the config, at ``shape``."""
    import torch

    config, accepts = model.config, forward_parameters(model)
    generator = torch.Generator().manual_seed(seed + 1)
    out: dict[str, Any] = {}
    rows, length = shape.batch, shape.sequence
    if "input_ids" in accepts and "input_values" not in accepts:
        out["input_ids"] = _safe_ids(config, rows, length, seed)
        if "attention_mask" in accepts:
            mask = torch.ones(rows, length, dtype=torch.int64)
            mask[-1, length - 2 :] = 0  # right padding on the last row: the mask really masks
            out["attention_mask"] = mask
        if "token_type_ids" in accepts and (getattr(config, "type_vocab_size", 0) or 0) > 0:
            out["token_type_ids"] = torch.zeros(rows, length, dtype=torch.int64)
    if "pixel_values" in accepts:
        channels = int(_value(config, ("num_channels", "in_channels", "in_chans"), 3))
        height, width = image_size(config)
        frames = _value(config, ("num_frames",), None)
        # Video models (VideoMAE, ViViT, TimeSformer) take [batch, frames, channels, h, w].
        lead = (rows, int(frames), channels) if isinstance(frames, int) else (rows, channels)
        out["pixel_values"] = torch.randn(*lead, height, width, generator=generator)
    if "input_values" in accepts:
        out["input_values"] = torch.randn(rows, 400 * length, generator=generator)
    elif "input_features" in accepts:
        out["input_features"] = _features(config, rows, length, generator)
    context = getattr(config, "context_length", None)
    if (
        "past_values" in accepts
        and isinstance(context, int)
        and "past_time_features" not in accepts
    ):
        # Patch-based forecasters (PatchTST, PatchTSMixer): the series alone, fixed length.
        channels = int(getattr(config, "num_input_channels", 1) or 1)
        out["past_values"] = torch.randn(rows, context, channels, generator=generator)
    if "decoder_input_ids" in accepts and getattr(config, "is_encoder_decoder", False):
        out["decoder_input_ids"] = _safe_ids(config, rows, shape.decoder, seed + 2)
    # Models that interleave image/audio features with text need matching placeholder tokens.
    from onnx_wizard.fallback.multimodal_inputs import with_placeholders

    return with_placeholders(model, shape, out, seed)


def _features(config: Any, rows: int, length: int, generator: Any) -> Any:
    import torch

    sources = getattr(config, "max_source_positions", None)
    mel = getattr(config, "num_mel_bins", None)
    if mel and sources:
        # Whisper-style encoders pad every clip to a fixed window: 2 frames per position.
        return torch.randn(rows, int(mel), 2 * int(sources), generator=generator)
    per_channel = getattr(config, "input_feat_per_channel", None)
    if per_channel:  # Speech2Text: [batch, frames, features]
        channels = int(getattr(config, "input_channels", 1) or 1)
        return torch.randn(rows, 8 * length, int(per_channel) * channels, generator=generator)
    features = int(mel or getattr(config, "feature_size", 80) or 80)
    return torch.randn(rows, int(8 * length), features, generator=generator)


def varying_axes(trace: dict[str, Any], check: dict[str, Any]) -> dict[str, dict[int, str]]:
    """Axes whose size differs between the trace and the check inputs: those must be dynamic.

    Named after what they are (batch, sequence, ...) so the graph reads like optimum's."""
    axes: dict[str, dict[int, str]] = {}
    for name, tensor in trace.items():
        other = check[name]
        axes[name] = {
            axis: AXIS_NAMES.get((name, axis), "batch_size" if axis == 0 else f"{name}_dim{axis}")
            for axis in range(tensor.dim())
            if tensor.shape[axis] != other.shape[axis]
        }
    return axes


AXIS_NAMES = {
    ("input_ids", 1): "sequence_length",
    ("attention_mask", 1): "sequence_length",
    ("token_type_ids", 1): "sequence_length",
    ("decoder_input_ids", 1): "decoder_sequence_length",
    ("input_values", 1): "num_samples",
}


__all__ = [
    "CHECK",
    "TRACE",
    "Shape",
    "example_inputs",
    "has_placeholders",
    "varying_axes",
]
