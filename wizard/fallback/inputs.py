"""Example inputs for any model, built from its config alone: no tokenizer, processor or Hub.

The torch.onnx routes trace on one set of shapes and validation runs on another (more rows,
another length), so a graph that froze a shape fails validation instead of passing silently.
Child-process only: torch is imported inside the functions.
"""

from __future__ import annotations

import inspect
import math
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


def sub_config(config: Any, *names: str) -> Any:
    """The first of ``names`` that holds a config object (not a raw dict), or None."""
    for name in names:
        sub = getattr(config, name, None)
        if sub is not None and not isinstance(sub, dict):
            return sub
    return None


def _sub(config: Any, *names: str) -> Any:
    return sub_config(config, *names) or config


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
    text = _sub(config, "text_config", "decoder", "model_config")  # model_config: FastSpeech2
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
    if "input_ids" in accepts and "input_values" not in accepts and not _embedded_features(config):
        out["input_ids"] = _safe_ids(config, rows, length, seed)
        if "attention_mask" in accepts:
            mask = torch.ones(rows, length, dtype=torch.int64)
            mask[-1, length - 2 :] = 0  # right padding on the last row: the mask really masks
            out["attention_mask"] = mask
        if "token_type_ids" in accepts and (getattr(config, "type_vocab_size", 0) or 0) > 0:
            out["token_type_ids"] = torch.zeros(rows, length, dtype=torch.int64)
        out.update(_text_extras(config, accepts, rows, length, generator))
    if "pixel_values" in accepts:
        out.update(_pixels(model, accepts, rows, generator))
    if "pixel_values_videos" in accepts and not accepts & {"pixel_values", "input_ids"}:
        out["pixel_values_videos"] = _video(config, rows, generator)
    if "input_values" in accepts:
        out["input_values"] = _waveform(config, accepts, rows, length, generator)
    elif "input_features" in accepts:
        out["input_features"] = _features(config, rows, length, generator)
        if "noise_sequence" in accepts:
            out.update(_vocoder(config, rows, generator))
    out.update(_series(config, accepts, rows, generator))
    out.update(_other_sources(config, accepts, rows, length, generator))
    if "decoder_input_ids" in accepts and getattr(config, "is_encoder_decoder", False):
        out["decoder_input_ids"] = _safe_ids(config, rows, shape.decoder, seed + 2)
    # Models that interleave image/audio features with text need matching placeholder tokens.
    from onnx_wizard.fallback.multimodal_inputs import with_placeholders

    return with_placeholders(model, shape, out, seed)


def _embedded_features(config: Any) -> bool:
    """Pop2Piano: its input_features are encoder input embeddings [batch, length, d_model], an
    alternative to input_ids (giving both is an error), not audio features."""
    return getattr(config, "model_type", "") == "pop2piano"


def _text_extras(
    config: Any, accepts: set[str], rows: int, length: int, generator: Any
) -> dict[str, Any]:
    """Inputs that go with input_ids in some text models: layout boxes, visual regions, ..."""
    import torch

    out: dict[str, Any] = {}
    if "bbox" in accepts:
        out["bbox"] = _boxes(config, rows, length, generator)
    if "xpath_tags_seq" in accepts and "xpath_subs_seq" in accepts:
        # MarkupLM: each token's XPath, a tag id and a subscript per depth level.
        depth = int(getattr(config, "max_depth", 50))
        for name, pad, units in (
            ("xpath_tags_seq", "tag_pad_id", "max_xpath_tag_unit_embeddings"),
            ("xpath_subs_seq", "subs_pad_id", "max_xpath_subs_unit_embeddings"),
        ):
            top = min(int(getattr(config, pad, 100)) + 1, int(getattr(config, units, 100)))
            out[name] = torch.randint(0, top, (rows, length, depth), generator=generator)
    if "visual_feats" in accepts and "visual_pos" in accepts:
        # LXMERT: detector regions, [batch, boxes, feature dim] and [batch, boxes, 4].
        boxes = max(2, length - 5)
        feat = int(getattr(config, "visual_feat_dim", 2048))
        pos = int(getattr(config, "visual_pos_dim", 4))
        out["visual_feats"] = torch.randn(rows, boxes, feat, generator=generator)
        out["visual_pos"] = torch.rand(rows, boxes, pos, generator=generator)
    if "lang_ids" in accepts and getattr(config, "languages", None):
        # X-MOD: one language adapter per row; index 0, the first of config.languages.
        out["lang_ids"] = torch.zeros(rows, dtype=torch.int64)
    if "position_ids" in accepts and _needs_positions(config):
        out["position_ids"] = torch.arange(length).expand(rows, length).clone()
    return out


def _needs_positions(config: Any) -> bool:
    """Models whose forward() cannot work out the positions itself here: ESM derives them from
    the pad id (a config without one fails); ImageGPT (transformers 4.57) adds a past length
    that is None when called without a cache."""
    kind = getattr(config, "model_type", "")
    return kind == "imagegpt" or (kind == "esm" and getattr(config, "pad_token_id", None) is None)


def _boxes(config: Any, rows: int, length: int, generator: Any) -> Any:
    """Word boxes: LayoutLM-style integer corners below max_2d_position_embeddings, or BROS-style
    normalised floats (dim_bbox 8: four corner points)."""
    import torch

    dims = int(getattr(config, "dim_bbox", 4) or 4)
    limit = getattr(config, "max_2d_position_embeddings", None)
    corners = torch.rand(rows, length, 2, 2, generator=generator).sort(dim=2).values
    if dims == 8:  # x0 y0 x1 y0 x1 y1 x0 y1
        (x0, y0), (x1, y1) = corners[..., 0, :].unbind(-1), corners[..., 1, :].unbind(-1)
        boxes = torch.stack([x0, y0, x1, y0, x1, y1, x0, y1], dim=-1)
    else:
        boxes = corners.reshape(rows, length, 4)  # x0 y0 x1 y1
    if isinstance(limit, int) and limit > 1:
        return (boxes * (min(limit, 1001) - 1)).long()
    return boxes


def _pixels(model: Any, accepts: set[str], rows: int, generator: Any) -> dict[str, Any]:
    import torch

    config = model.config
    channels = int(_value(config, ("num_channels", "in_channels", "in_chans"), 3))
    height, width = image_size(config)
    patch = getattr(config, "patch_size", None)
    ratios = getattr(config, "scaled_images_ratios", None)
    if isinstance(patch, int) and ratios:
        # DepthPro: the smallest scaled copy of the image must still hold one patch.
        height = width = max(height, math.ceil(patch / min(ratios)))
    if "prompt_pixel_values" in accepts:
        height //= 2  # SegGPT: config.image_size is the prompt and the input stacked vertically
    if "spatial_shapes" in accepts and "pixel_attention_mask" in accepts:
        return _native_patches(config, rows, generator)
    frames = _value(config, ("num_frames",), None)
    out: dict[str, Any] = {}
    if getattr(config, "model_type", "") in PAIRED_IMAGES:
        lead: tuple[int, ...] = (rows, 2, channels)
    elif isinstance(frames, int):
        # Video models (VideoMAE, ViViT, TimeSformer, TVLT) take [batch, frames, channels, h, w].
        lead = (rows, int(frames), channels)
    else:
        lead = (rows, channels)
    out["pixel_values"] = torch.randn(*lead, height, width, generator=generator)
    if "noise" in accepts and isinstance(patch, int) and patch > 0:
        # ViTMAE masks patches at random, from torch.rand unless given this noise: without it
        # no export could match PyTorch. One value per patch.
        patches = (height // patch) * (width // patch)
        out["noise"] = torch.rand(rows, patches, generator=generator)
    if "prompt_pixel_values" in accepts and "prompt_masks" in accepts:
        # SegGPT: an example image and its mask, the same size as the input image.
        out["prompt_pixel_values"] = torch.randn(*lead, height, width, generator=generator)
        out["prompt_masks"] = torch.randn(*lead, height, width, generator=generator)
    if "audio_values" in accepts:
        # TVLT: a spectrogram next to the frames, [batch, channels, time, frequency bins].
        bins = int(getattr(config, "frequency_length", 128))
        audio_channels = int(getattr(config, "num_audio_channels", 1))
        time = 4 * int(_pair(getattr(config, "audio_patch_size", 16))[0])
        out["audio_values"] = torch.randn(rows, audio_channels, time, bins, generator=generator)
    if "task_inputs" in accepts:
        # OneFormer: the tokenized task prompt ("the task is semantic"), a fixed-length id row.
        task_length = int(getattr(config, "task_seq_len", 77))
        vocab = int(getattr(config, "text_encoder_vocab_size", 1000))
        out["task_inputs"] = torch.randint(
            1, min(vocab, 1000), (rows, task_length), generator=generator
        )
    return out


# Keypoint matchers take an image pair: [batch, 2, channels, height, width].
PAIRED_IMAGES = ("lightglue", "superglue", "efficientloftr")


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, (list, tuple)):
        return int(value[0]), int(value[-1])
    return int(value), int(value)


def _native_patches(config: Any, rows: int, generator: Any) -> dict[str, Any]:
    """SigLIP2 (NaFlex): images already cut into patches, with their grid and a patch mask.

    Every row gets the same square grid of config.num_patches, so the grid (used to resize the
    position embeddings, a shape the graph keeps) is the same at trace and check time."""
    import torch

    vision = _sub(config, "vision_config")  # SigLIP2 alone, or inside a VLM (LFM2-VL)
    patches = int(getattr(vision, "num_patches", 256))
    side = max(1, int(patches**0.5))
    patch = int(getattr(vision, "patch_size", 16))
    channels = int(getattr(vision, "num_channels", 3))
    count = side * side
    return {
        "pixel_values": torch.randn(rows, count, channels * patch * patch, generator=generator),
        "pixel_attention_mask": torch.ones(rows, count, dtype=torch.int64),
        "spatial_shapes": torch.tensor([[side, side]] * rows, dtype=torch.int64),
    }


def _video(config: Any, rows: int, generator: Any) -> Any:
    """V-JEPA 2: [batch, frames, channels, h, w]; two tubelets of frames keep it small."""
    import torch

    tubelet = int(getattr(config, "tubelet_size", 2) or 2)
    size = int(_value(config, ("crop_size", "image_size"), 64))
    channels = int(_value(config, ("in_chans", "num_channels"), 3))
    return torch.randn(rows, 2 * tubelet, channels, size, size, generator=generator)


def _waveform(config: Any, accepts: set[str], rows: int, length: int, generator: Any) -> Any:
    import torch

    if getattr(config, "time_stride", None) and getattr(config, "num_mel_bins", None):
        # Audio Spectrogram Transformer: a filterbank padded to max_length frames, always.
        frames = int(getattr(config, "max_length", 1024))
        return torch.randn(rows, frames, int(config.num_mel_bins), generator=generator)
    if "audio_codes" in accepts:
        # Neural codecs (EnCodec, Mimi, X-codec): [batch, audio channels, samples].
        channels = int(getattr(config, "audio_channels", 1) or 1)
        return torch.randn(rows, channels, 400 * length, generator=generator)
    return torch.randn(rows, 400 * length, generator=generator)


def _vocoder(config: Any, rows: int, generator: Any) -> dict[str, Any]:
    """UniVNet: a spectrogram and the noise it shapes. Without a noise input the model draws its
    own with torch.randn, which no export can match. Its location-variable convolutions unfold
    the time axis with a size the TorchScript exporter needs static: the frame count is the
    same at every shape, only the batch varies."""
    import torch

    frames = 16
    bins = int(getattr(config, "num_mel_bins", 100) or 100)
    noise = int(getattr(config, "model_in_channels", 64) or 64)
    return {
        "input_features": torch.randn(rows, frames, bins, generator=generator),
        "noise_sequence": torch.randn(rows, frames, noise, generator=generator),
    }


def _series(config: Any, accepts: set[str], rows: int, generator: Any) -> dict[str, Any]:
    """Time series: the context length is fixed by the model, so only the batch varies."""
    import torch

    context = getattr(config, "context_length", None)
    if "past_values" not in accepts or not isinstance(context, int):
        return {}
    if "past_time_features" in accepts:
        return _forecaster(config, rows, generator)
    if "past_values_padding" in accepts:
        # TimesFM: [batch, context] values, a 0/1 padding flag per value, a frequency class.
        values = torch.randn(rows, context, generator=generator)
        return {
            "past_values": values,
            "past_values_padding": torch.zeros(rows, context),
            "freq": torch.zeros(rows, 1, dtype=torch.int64),
        }
    # Patch-based forecasters (PatchTST, PatchTSMixer): the series alone, fixed length.
    channels = int(getattr(config, "num_input_channels", 1) or 1)
    return {"past_values": torch.randn(rows, context, channels, generator=generator)}


def _forecaster(config: Any, rows: int, generator: Any) -> dict[str, Any]:
    """Time Series Transformer, Informer, Autoformer: the history is context_length plus the
    largest lag long; time features per step; the future window is prediction_length long."""
    import torch

    context, horizon = int(config.context_length), int(config.prediction_length)
    history = context + max(getattr(config, "lags_sequence", None) or [7])
    size = int(getattr(config, "input_size", 1) or 1)
    variables = (size,) if size > 1 else ()
    features = int(getattr(config, "num_time_features", 0) or 0) + int(
        getattr(config, "num_dynamic_real_features", 0) or 0
    )
    out = {
        "past_values": torch.randn(rows, history, *variables, generator=generator),
        "past_time_features": torch.randn(rows, history, features, generator=generator),
        "past_observed_mask": torch.ones(rows, history, *variables),
        "future_values": torch.randn(rows, horizon, *variables, generator=generator),
        "future_time_features": torch.randn(rows, horizon, features, generator=generator),
    }
    categorical = int(getattr(config, "num_static_categorical_features", 0) or 0)
    if categorical:
        cardinality = list(getattr(config, "cardinality", None) or [1] * categorical)
        out["static_categorical_features"] = torch.stack(
            [torch.randint(0, max(1, int(c)), (rows,), generator=generator) for c in cardinality],
            dim=1,
        )
    real = int(getattr(config, "num_static_real_features", 0) or 0)
    if real:
        out["static_real_features"] = torch.randn(rows, real, generator=generator)
    return out


def _other_sources(
    config: Any, accepts: set[str], rows: int, length: int, generator: Any
) -> dict[str, Any]:
    """Models fed neither text, images nor audio: query embeddings, RL trajectories."""
    import torch

    out: dict[str, Any] = {}
    hidden = int(getattr(config, "hidden_size", 64) or 64)
    if "query_embeds" in accepts:
        # BLIP-2's Q-Former alone: learned queries attending to image features.
        out["query_embeds"] = torch.randn(rows, length, hidden, generator=generator)
        encoder = getattr(config, "encoder_hidden_size", None)
        if "encoder_hidden_states" in accepts and encoder:
            out["encoder_hidden_states"] = torch.randn(
                rows, length + 4, int(encoder), generator=generator
            )
    if {"states", "actions", "returns_to_go", "timesteps"} <= accepts:
        # Decision Transformer: per step a state, an action, a reward-to-go and a time step.
        state, action = int(config.state_dim), int(config.act_dim)
        out["states"] = torch.randn(rows, length, state, generator=generator)
        out["actions"] = torch.randn(rows, length, action, generator=generator)
        out["rewards"] = torch.randn(rows, length, 1, generator=generator)
        out["returns_to_go"] = torch.randn(rows, length, 1, generator=generator)
        steps = int(getattr(config, "max_ep_len", 1000))
        out["timesteps"] = torch.randint(0, steps, (rows, length), generator=generator)
        out["attention_mask"] = torch.ones(rows, length, dtype=torch.int64)
        out = {k: v for k, v in out.items() if k in accepts}
    if "audio_mel" in accepts and "audio_mel_mask" in accepts:
        # Gemma 3n's audio encoder alone: mel frames and a padding mask (True = padded).
        bins = int(getattr(config, "input_feat_size", 128))
        out["audio_mel"] = torch.randn(rows, 8 * length, bins, generator=generator)
        out["audio_mel_mask"] = torch.zeros(rows, 8 * length, dtype=torch.bool)
    if {"input_nodes", "input_edges", "attn_bias", "spatial_pos"} <= accepts:
        out.update(_graph(config, rows, length, generator))
    if "trajectories" in accepts:
        # Trajectory Transformer: discretised transitions; whole transitions only (the model
        # pads to a multiple of transition_dim with Python arithmetic, a traced constant).
        step = int(getattr(config, "transition_dim", 1) or 1)
        block = int(getattr(config, "block_size", 2 * step))
        steps = max(1, min(2, block // step))
        vocab = int(getattr(config, "vocab_size", 100))
        out["trajectories"] = torch.randint(0, vocab, (rows, steps * step), generator=generator)
    return out


def _graph(config: Any, rows: int, nodes: int, generator: Any) -> dict[str, Any]:
    """Graphormer: a batch of graphs of ``nodes`` nodes, 3 features per node and per edge, ids
    from 1 (0 is padding) below each embedding table's size."""
    import torch

    def ids(limit: str, *shape: int) -> Any:
        top = max(2, min(int(getattr(config, limit, 64)), 64))
        return torch.randint(1, top, (rows, *shape), generator=generator)

    hops = max(1, int(getattr(config, "multi_hop_max_dist", 5) or 5))
    return {
        "input_nodes": ids("num_atoms", nodes, 3),
        "input_edges": ids("num_edges", nodes, nodes, hops, 3),
        "attn_bias": torch.zeros(rows, nodes + 1, nodes + 1),
        "in_degree": ids("num_in_degree", nodes),
        "out_degree": ids("num_out_degree", nodes),
        "spatial_pos": ids("num_spatial", nodes, nodes),
        "attn_edge_type": ids("num_edges", nodes, nodes, 3),
    }


def _features(config: Any, rows: int, length: int, generator: Any) -> Any:
    import torch

    if _embedded_features(config):
        hidden = int(getattr(config, "d_model", 64))
        return torch.randn(rows, length, hidden, generator=generator)
    projected = getattr(config, "feature_projection_input_dim", None)
    if projected:  # Wav2Vec2-BERT: stacked filterbank frames, feature_size * stride wide
        return torch.randn(rows, 8 * length, int(projected), generator=generator)
    if getattr(config, "model_type", "") == "clvp":
        # CLVP's conditioning encoder is a Conv1d over mel bins: [batch, bins, frames].
        bins = int(getattr(_sub(config, "decoder_config"), "feature_size", 80))
        return torch.randn(rows, bins, 8 * length, generator=generator)
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
    ("position_ids", 1): "sequence_length",
    ("bbox", 1): "sequence_length",
    ("xpath_tags_seq", 1): "sequence_length",
    ("xpath_subs_seq", 1): "sequence_length",
    ("visual_feats", 1): "num_boxes",
    ("visual_pos", 1): "num_boxes",
    ("query_embeds", 1): "num_queries",
    ("audio_mel", 1): "num_frames",
    **{
        (name, axis): "num_nodes"
        for name in ("input_nodes", "input_edges", "spatial_pos", "attn_edge_type")
        for axis in (1, 2)
        if (name, axis) != ("input_nodes", 2)
    },
    ("in_degree", 1): "num_nodes",
    ("out_degree", 1): "num_nodes",
    ("audio_mel_mask", 1): "num_frames",
    **{
        (name, 1): "sequence_length"
        for name in ("states", "actions", "rewards", "returns_to_go", "timesteps")
    },
}


__all__ = [
    "CHECK",
    "TRACE",
    "Shape",
    "example_inputs",
    "has_placeholders",
    "varying_axes",
]
