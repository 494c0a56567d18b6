"""Model size without loading weights: safetensors headers, index files, or the config alone."""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GIB = 1024**3
# Bytes per element of each safetensors dtype, and the torch-style name the report shows.
SAFETENSORS_DTYPES = {
    "F64": (8, "float64"), "F32": (4, "float32"), "F16": (2, "float16"), "BF16": (2, "bfloat16"),
    "I64": (8, "int64"), "I32": (4, "int32"), "I16": (2, "int16"), "I8": (1, "int8"),
    "U8": (1, "uint8"), "BOOL": (1, "bool"), "F8_E4M3": (1, "float8_e4m3fn"),
    "F8_E5M2": (1, "float8_e5m2"),
}  # fmt: skip
DTYPE_BYTES = {name: size for size, name in SAFETENSORS_DTYPES.values()}
MAX_HEADER = 100 * 1024 * 1024  # a real header is kilobytes; more means a corrupt file
# Interpreter + torch + onnxruntime + optimum loaded in the export process, before any weights.
RUNTIME_OVERHEAD = GIB // 2
PROTOBUF_LIMIT = 2 * GIB


@dataclass(frozen=True)
class WeightInfo:
    parameters: int | None
    source: str  # "safetensors", "safetensors index", "estimate from config" or "unknown"
    weight_bytes: int | None
    dtype: str | None
    files: tuple[str, ...]


def read_safetensors_header(path: Path) -> dict[str, Any]:
    """The JSON header of a safetensors file: 8-byte little-endian length, then that much JSON."""
    with path.open("rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        if length > MAX_HEADER:
            raise ValueError(f"{path.name}: header of {length} bytes is not plausible")
        header: dict[str, Any] = json.loads(handle.read(length))
    return header


def _first_int(config: dict[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = config.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def estimate_parameters(config: dict[str, Any]) -> int | None:
    """Rough parameter count of a transformer from its sizes (None when they are missing).

    Per layer: attention (q and o are h x h; k and v are h x kv_heads*head_dim) plus an MLP of
    two h x intermediate matrices (three when gated), plus norms; decoders of encoder-decoders add
    cross-attention. Plus token/position embeddings, and an LM head unless tied to the embeddings.
    """
    parts = [
        config[k]
        for k in ("text_config", "vision_config", "audio_config", "encoder", "decoder")
        if isinstance(config.get(k), dict)
    ]
    if parts:
        counts = [estimate_parameters(part) for part in parts]
        return None if None in counts else sum(c for c in counts if c is not None)
    if isinstance(config.get("depths"), list):
        return None  # staged vision models (swin, convnext) change width per stage
    h = _first_int(config, "hidden_size", "d_model", "n_embd", "dim", "embed_dim")
    enc_layers = _first_int(
        config, "encoder_layers", "num_layers", "num_hidden_layers", "n_layer", "n_layers"
    )
    if h is None or enc_layers is None:
        return None
    heads = _first_int(
        config, "num_attention_heads", "encoder_attention_heads", "n_head", "n_heads", "num_heads"
    ) or max(1, h // 64)
    head_dim = _first_int(config, "head_dim", "d_kv") or h // heads
    kv_heads = _first_int(config, "num_key_value_heads") or (
        1 if config.get("multi_query") else heads
    )
    inner = (
        _first_int(
            config,
            "intermediate_size",
            "d_ff",
            "n_inner",
            "ffn_dim",
            "hidden_dim",
            "encoder_ffn_dim",
        )
        or 4 * h
    )
    act = "".join(
        str(config.get(k, "")) for k in ("hidden_act", "hidden_activation", "feed_forward_proj")
    )
    # llama-style (SwiGLU) and gemma MLPs are gated: gate, up and down, three matrices, not two.
    gated = "silu" in act or "gated" in act or str(config.get("model_type")).startswith("gemma")
    attention = 2 * h * heads * head_dim + 2 * h * kv_heads * head_dim
    layer = attention + (3 if gated else 2) * h * inner + 4 * h
    total = enc_layers * layer
    dec_layers = _first_int(config, "decoder_layers", "num_decoder_layers")
    if config.get("is_encoder_decoder") and dec_layers is None:
        dec_layers = enc_layers  # t5 writes num_decoder_layers only when it differs
    if config.get("is_encoder_decoder") and dec_layers:
        dec_inner = _first_int(config, "decoder_ffn_dim") or inner
        total += dec_layers * (2 * attention + (3 if gated else 2) * h * dec_inner + 6 * h)
    vocab = _first_int(config, "vocab_size") or 0
    total += vocab * h + (_first_int(config, "type_vocab_size") or 0) * h
    rotary = any(k in config for k in ("rope_theta", "rotary_dim", "rotary_pct", "rope_scaling"))
    positions = _first_int(config, "max_position_embeddings", "n_positions")
    if positions and not rotary and config.get("relative_attention_num_buckets") is None:
        total += positions * h
    if vocab and not config.get("tie_word_embeddings", True):
        total += vocab * h
    image, patch = _first_int(config, "image_size"), _first_int(config, "patch_size")
    if image and patch:
        total += (_first_int(config, "num_channels") or 3) * patch * patch * h
        total += (image // patch) ** 2 * h
    mels = _first_int(config, "num_mel_bins")
    if mels:  # whisper's two input convolutions and its audio/text position tables
        total += 3 * mels * h + 3 * h * h
        total += (
            (_first_int(config, "max_source_positions") or 0)
            + (_first_int(config, "max_target_positions") or 0)
        ) * h
    return total


def config_dtype(config: dict[str, Any]) -> str | None:
    value = config.get("torch_dtype") or config.get("dtype")  # transformers >= 4.56 writes dtype
    return value if isinstance(value, str) and value in DTYPE_BYTES else None


def read_weights(folder: Path, config: dict[str, Any], recursive: bool = False) -> WeightInfo:
    """Parameters, bytes and dtype from safetensors headers, else index files, else the config."""
    pattern = "**/*.safetensors" if recursive else "*.safetensors"
    shards = sorted(folder.glob(pattern))
    if shards:
        count = size = 0
        by_dtype: dict[str, int] = {}
        for shard in shards:
            for name, entry in read_safetensors_header(shard).items():
                if name == "__metadata__":
                    continue
                count += math.prod(entry["shape"])
                start, end = entry["data_offsets"]
                size += end - start
                by_dtype[entry["dtype"]] = by_dtype.get(entry["dtype"], 0) + end - start
        main = max(by_dtype, key=by_dtype.__getitem__) if by_dtype else None
        dtype = SAFETENSORS_DTYPES.get(main, (0, main))[1] if main else None
        files = tuple(str(s.relative_to(folder)) for s in shards)
        return WeightInfo(count, "safetensors", size, dtype, files)
    dtype = config_dtype(config)
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        meta = json.loads(index.read_text(encoding="utf-8")).get("metadata", {})
        total = meta.get("total_size")
        params: int | None = meta.get("total_parameters")
        if params is None and isinstance(total, int):
            params = total // DTYPE_BYTES.get(dtype or "float32", 4)
        return WeightInfo(params, "safetensors index", total, dtype, (index.name,))
    bins = sorted(folder.glob("*.bin"))
    params = estimate_parameters(config)
    source = "estimate from config" if params is not None else "unknown"
    bin_bytes = sum(b.stat().st_size for b in bins) if bins else None
    return WeightInfo(params, source, bin_bytes, dtype, tuple(b.name for b in bins))


def ram_estimate(fp32_bytes: int | None, merges_decoders: bool) -> int | None:
    """Rough peak RAM of ``main_export`` for a model whose fp32 weights take ``fp32_bytes``.

    The export loads the weights in fp32 (1x) and torch.onnx keeps a second copy while it builds
    the graph (2x in total); validation then opens the ONNX file in ONNX Runtime while the PyTorch
    model is still alive (+1x); an encoder-decoder exported with past merges decoder and
    decoder-with-past, holding both graphs and the merged one (+2x); plus the runtime itself.
    """
    if fp32_bytes is None:
        return None
    return RUNTIME_OVERHEAD + fp32_bytes * (2 + 1 + (2 if merges_decoders else 0))
