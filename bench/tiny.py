"""Build a tiny random-weight model of any transformers model type, offline, from its config class.

Used by the coverage benchmark (bench/coverage.py) and by tests. The config's sizes are shrunk by
name (layers, hidden sizes, heads, vocab, conv widths) through the config class's own __init__, so
derived values (head_dim, layer_types, ...) are recomputed; when a config rejects that, a gentler
shrink and then the default config are tried. Heavy imports happen inside the functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Main task per model type: the first auto-class mapping that lists the type, in this order.
# (mapping name in transformers.models.auto.modeling_auto, optimum task, modality hint)
TASK_MAPPINGS = (
    ("MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES", "text2text-generation-with-past", "text"),
    ("MODEL_FOR_SPEECH_SEQ_2_SEQ_MAPPING_NAMES", "automatic-speech-recognition-with-past", "audio"),
    ("MODEL_FOR_MASKED_LM_MAPPING_NAMES", "fill-mask", "text"),
    ("MODEL_FOR_CAUSAL_LM_MAPPING_NAMES", "text-generation-with-past", "text"),
    ("MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES", "image-classification", "vision"),
    ("MODEL_FOR_CTC_MAPPING_NAMES", "automatic-speech-recognition", "audio"),
    ("MODEL_FOR_AUDIO_CLASSIFICATION_MAPPING_NAMES", "audio-classification", "audio"),
    ("MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES", "text-classification", "text"),
    ("MODEL_FOR_OBJECT_DETECTION_MAPPING_NAMES", "object-detection", "vision"),
    ("MODEL_FOR_SEMANTIC_SEGMENTATION_MAPPING_NAMES", "semantic-segmentation", "vision"),
    ("MODEL_FOR_DEPTH_ESTIMATION_MAPPING_NAMES", "depth-estimation", "vision"),
    ("MODEL_MAPPING_NAMES", "feature-extraction", "text"),
    # Last: for types no mapping above lists (VisionEncoderDecoder, Pix2Struct, MusicGen), and
    # for those whose only optimum task they are (VITS: text-to-audio).
    ("MODEL_FOR_VISION_2_SEQ_MAPPING_NAMES", "image-to-text-with-past", "vision"),
    ("MODEL_FOR_TEXT_TO_WAVEFORM_MAPPING_NAMES", "text-to-audio", "audio"),
)
MAX_PARAMETERS = 60_000_000  # beyond this a "tiny" model would cost minutes on 2 cores

LAYER_KEYS = (
    "num_hidden_layers", "num_layers", "n_layer", "n_layers", "encoder_layers", "decoder_layers",
    "num_decoder_layers", "num_encoder_layers", "text_layers", "vision_layers",
)  # fmt: skip
WIDTH_KEYS = {
    "hidden_size": 64, "d_model": 64, "n_embd": 64, "embed_dim": 32, "dim": 64,
    "intermediate_size": 128, "encoder_ffn_dim": 128, "decoder_ffn_dim": 128, "d_ff": 128,
    "ffn_dim": 128, "n_inner": 128, "hidden_dim": 128, "d_inner": 128,
    "num_attention_heads": 4, "encoder_attention_heads": 4, "decoder_attention_heads": 4,
    "n_head": 4, "num_heads": 4, "n_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
    "d_kv": 16, "d_head": 16, "projection_dim": 32, "moe_intermediate_size": 64,
    "shared_expert_intermediate_size": 64, "num_experts": 4, "num_local_experts": 4,
    "n_routed_experts": 4, "num_experts_per_tok": 2, "kv_lora_rank": 16, "q_lora_rank": 32,
    "qk_rope_head_dim": 8, "qk_nope_head_dim": 8, "v_head_dim": 16,
    # Widths under other names (XLM's emb_dim, Transfo-XL's d_embed, Perceiver's latents, Mamba
    # state sizes, MCTCT's per-head width, Mllama/Llama4 vision projector widths, ...).
    "emb_dim": 64, "d_embed": 64, "d_latents": 64, "num_latents": 16, "hidden_size_global": 64,
    "attention_head_dim": 16, "rotary_dim": 8, "mamba_d_state": 16, "mamba_d_ssm": 128,
    "mamba_n_heads": 8, "mamba_d_head": 16, "time_step_rank": 8, "state_size": 16,
    "shared_intermediate_size": 128, "intermediate_size_mlp": 128, "auxiliary_channels": 32,
    "vision_output_dim": 64, "projector_input_dim": 64, "projector_output_dim": 64,
    "decoder_hidden_size": 64,
    # Widths that must equal a (shrunk, 64-wide) hidden size elsewhere in the config: Mimi's
    # depthwise upsampling groups, CSM's depth decoder input, Janus's image token embedding.
    "upsample_groups": 64, "backbone_hidden_size": 64, "image_token_embed_dim": 64,
    # Phi-4-multimodal's audio conformer: conv widths equal to its hidden size.
    "ext_pw_out_channel": 64, "depthwise_separable_out_channel": 64, "nemo_conv_channels": 64,
    "num_queries": 16,  # RT-DETR, D-FINE: top-k over the anchors of a small image
    "mlp_dim": 128,  # SAM's and SegGPT's MLP width
    "bottleneck_features": 64,  # ZoeDepth: the fusion width it is added to
    "embedding_size": 64,  # ALBERT-style factorised embeddings, Qwen-Omni's talker
    "upsample_initial_channel": 128,  # HiFi-GAN/BigVGAN vocoders: halved at each upsampling
    "projection_size": 64,  # SigLIP's text head: compared with the (64-wide) image embeddings
}  # fmt: skip
# Keys a config leaves None to derive them from others; the shrunk sizes fill them in.
NONE_FILLED = ("num_key_value_heads", "head_dim")
TOKEN_KEY_MARKS = ("token_id", "token_index")
# Types made of other types, with no default config: (encoder or vision, decoder or text).
COMPOSITES = {
    "encoder-decoder": ("bert", "gpt2"),
    "speech-encoder-decoder": ("wav2vec2", "gpt2"),
    "vision-encoder-decoder": ("vit", "gpt2"),
    "vision-text-dual-encoder": ("vit", "bert"),
    # MusicGen: a T5 text encoder, an EnCodec audio codec, and the type's own decoder.
    "musicgen": ("t5", "encodec"),
    "musicgen_melody": ("t5", "encodec"),
}
# Text configs whose rotary embedding is split over time, height and width (mrope_section).
MROPE_FAMILIES = (
    "qwen2_vl", "qwen2_5_vl", "qwen3_vl", "qwen3_vl_moe", "glm4v", "glm4v_moe", "glm4vmoe",
)  # fmt: skip
# Which layers (or stages) a head reads feature maps from.
OUT_INDEX_KEYS = ("out_indices", "backbone_out_indices")
# Derived from the layer count or the stages: dropped so that __init__ computes them afresh.
DERIVED_KEYS = ("layer_types", "out_features", "out_indices", "stage_names", "_name_or_path")


@dataclass
class Tiny:
    model_type: str
    task: str  # optimum's task name for the model's main head
    modality: str  # text / vision / audio / multimodal
    auto_class: str
    model: Any = None
    config: Any = None
    shrink: str = ""  # full / gentle / default
    parameters: int = 0
    error: str = ""


def main_task(
    model_type: str, optimum_tasks: frozenset[str] = frozenset()
) -> tuple[str, str, str] | None:
    """(task, modality hint, auto class name) for the type's main head, or None.

    For a type optimum registers, its first task optimum supports wins (a fair comparison);
    otherwise the first mapping in TASK_MAPPINGS that lists the type."""
    from transformers.models.auto import modeling_auto

    listed = [
        (mapping, task, modality)
        for mapping, task, modality in TASK_MAPPINGS
        if model_type in getattr(modeling_auto, mapping, {})
        and _takes_config(getattr(modeling_auto, mapping)[model_type], model_type)
    ]
    preferred = [entry for entry in listed if entry[1] in optimum_tasks]
    for mapping, task, modality in preferred or listed:
        return task, modality, _auto_class_name(mapping)
    return None


def _takes_config(class_name: str | tuple[str, ...], model_type: str) -> bool:
    """False where the mapped class wants another config: Emu3's, Llama4's and Mllama's causal
    LM heads take the text sub-config, so the type's own config cannot build them."""
    import transformers
    from transformers import CONFIG_MAPPING

    name = class_name[0] if isinstance(class_name, (tuple, list)) else class_name
    try:
        wanted = getattr(transformers, name).config_class
        return issubclass(CONFIG_MAPPING[model_type], wanted)
    except Exception:
        return True  # cannot tell here; build() reports what goes wrong


def _auto_class_name(mapping: str) -> str:
    names = {
        "MODEL_MAPPING_NAMES": "AutoModel",
        "MODEL_FOR_CAUSAL_LM_MAPPING_NAMES": "AutoModelForCausalLM",
        "MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES": "AutoModelForSeq2SeqLM",
        "MODEL_FOR_SPEECH_SEQ_2_SEQ_MAPPING_NAMES": "AutoModelForSpeechSeq2Seq",
        "MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES": "AutoModelForImageClassification",
        "MODEL_FOR_CTC_MAPPING_NAMES": "AutoModelForCTC",
        "MODEL_FOR_AUDIO_CLASSIFICATION_MAPPING_NAMES": "AutoModelForAudioClassification",
        "MODEL_FOR_MASKED_LM_MAPPING_NAMES": "AutoModelForMaskedLM",
        "MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES": "AutoModelForSequenceClassification",
        "MODEL_FOR_OBJECT_DETECTION_MAPPING_NAMES": "AutoModelForObjectDetection",
        "MODEL_FOR_SEMANTIC_SEGMENTATION_MAPPING_NAMES": "AutoModelForSemanticSegmentation",
        "MODEL_FOR_DEPTH_ESTIMATION_MAPPING_NAMES": "AutoModelForDepthEstimation",
        "MODEL_FOR_VISION_2_SEQ_MAPPING_NAMES": "AutoModelForVision2Seq",
        "MODEL_FOR_TEXT_TO_WAVEFORM_MAPPING_NAMES": "AutoModelForTextToWaveform",
    }
    return names[mapping]


def _shrunk(values: dict[str, Any], gentle: bool, parent_token: int = 0) -> dict[str, Any]:
    """Overrides for one config's to_dict(), recursing into sub-configs.

    parent_token: the highest special id of the enclosing config, which a text sub-config's
    vocab must hold too (Janus's image token id lives on the outer config)."""
    out: dict[str, Any] = {}
    max_token = max(
        (v for k, v in values.items() if any(m in k for m in TOKEN_KEY_MARKS) and type(v) is int),
        default=0,
    )
    # Ids the vocab must hold even where the default vocab does not (SmolVLM's pad id 128002
    # over 32000 tokens is an embedding's padding index; Janus's outer image token id).
    pad = values.get("pad_token_id")
    must_hold = max(parent_token, pad if type(pad) is int else 0)
    layers = max((v for k, v in values.items() if k in LAYER_KEYS and type(v) is int), default=0)
    # Feature maps a head reads from a transformer backbone (DPT's four, Depth Anything's):
    # as many layers as maps, so that the head keeps its shape. Stage-based backbones (depths)
    # keep their stage count, so their indices stay valid as they are.
    picked = next((k for k in OUT_INDEX_KEYS if _int_list(values.get(k))), None)
    kept_layers = 2
    if picked and layers and "depths" not in values and not gentle:
        original = values[picked]
        kept_layers = min(layers, max(2, len(original)))
        offset = layers - max(original)  # 1 where indices count from 0, 0 from the stem
        first = kept_layers - offset - len(original) + 1
        out[picked] = list(range(first, first + len(original)))
    for key, value in values.items():
        if isinstance(value, dict) and "model_type" in value:  # text_config, encoder, ...
            # Keys every config has, left at PretrainedConfig's defaults, are noise to strict
            # sub-config classes (DBRX's refuses unknown kwargs).
            base = _base_defaults()
            kept = {
                k: v
                for k, v in value.items()
                if k not in DERIVED_KEYS and not (k in base and base[k] == v)
            }
            if "depths" in value:  # stages keep their count: the head's choice stays valid
                kept.update({k: value[k] for k in ("out_features", "out_indices") if k in value})
            inherited = max_token if key == "text_config" else 0
            out[key] = {**kept, **_shrunk(value, gentle, inherited)}
        elif type(value) is int and key in LAYER_KEYS:
            out[key] = min(value, kept_layers)
        elif key in OUT_INDEX_KEYS:
            continue  # set above, or left to __init__
        elif gentle:
            continue
        elif type(value) is int and key in WIDTH_KEYS:
            out[key] = min(value, WIDTH_KEYS[key])
        elif type(value) is int and key.endswith(("_hidden_size", "_intermediate_size")):
            # Other towers' widths under prefixed names (X-CLIP's mit_hidden_size, projector
            # and cross-attention inputs): as wide as the shrunk hidden sizes they meet.
            out[key] = min(value, 64 if key.endswith("hidden_size") else 128)
        elif "vocab" in key and type(value) is int:  # BLT's hash vocab, Gemma3n's per layer
            out[key] = min(value, max(1024, max_token + 1))
            if key == "vocab_size" and must_hold:
                out[key] = max(out[key], must_hold + 1)
        elif key in ("depths", "encoder_layers_per_stage", "num_block_repeats") and _int_list(
            value
        ):
            if _per_block(values, value):
                continue  # TextNet lists each block's kernels: the depths stay
            out[key] = [1] * len(value)
        elif key in ("hidden_sizes", "embed_dims", "conv_dim", "neck_hidden_sizes") and _int_list(
            value
        ):
            out[key] = [min(v, 16 * 2 ** min(i, 3)) for i, v in enumerate(value)]
        elif key in ("num_heads", "num_attention_heads") and _int_list(value):
            out[key] = [1] * len(value)
        elif key == "cutoffs" and _int_list(value) and type(values.get("vocab_size")) is int:
            # Transfo-XL's adaptive softmax clusters: cut points inside the shrunk vocab.
            vocab = min(values["vocab_size"], max(1024, max_token + 1))
            out[key] = [vocab * (i + 1) // (len(value) + 1) for i in range(len(value))]
        elif key == "use_mamba_kernels" and value is True:
            out[key] = False  # the fused kernels are CUDA-only; the torch path runs anywhere
        elif key == "num_groups" and type(value) is int and "hidden_sizes" in values:
            out[key] = min(value, 8)  # BiT's group norms: must divide the shrunk stage widths
        elif key in ("base_channels", "latent_channels") and type(value) is int:
            out[key] = min(value, 32)  # VQ-VAE image tokenizers (Janus, Emu3, Chameleon)
        elif isinstance(value, list) and layers >= 6 and len(value) == layers:
            # One entry per layer (Gemma3n's intermediate sizes, Llama4's no_rope_layers and
            # moe_layers): the kept layers' entries, widths shrunk like the scalar.
            cap = WIDTH_KEYS.get(key)
            out[key] = [min(v, cap) if cap and type(v) is int else v for v in value[:kept_layers]]
    if not gentle:
        _consistent(values, out)
    return out


def _consistent(values: dict[str, Any], out: dict[str, Any]) -> None:
    """Keys that must agree with the shrunk widths (rules between keys, not per type)."""
    now = {**values, **out}
    hidden = now.get("hidden_size") or now.get("d_model") or now.get("n_embd")
    heads = now.get("num_attention_heads") or now.get("n_head")
    head = None
    if type(hidden) is int and type(heads) is int and heads:
        head = hidden // heads
        filled = {"num_key_value_heads": heads, "head_dim": head}
        for key in NONE_FILLED:  # None: derived in __init__ from the default sizes
            if key in values and values[key] is None:
                out[key] = filled[key]
        # Multi-head attention stays multi-head (DeepSeek-V2's latent attention has no groups).
        if values.get("num_key_value_heads") == values.get("num_attention_heads") is not None:
            out["num_key_value_heads"] = heads
        # Rotary part of a head (CodeGen, GPT-J): at most the head's own width.
        if type(now.get("rotary_dim")) is int:
            out["rotary_dim"] = min(now["rotary_dim"], head // 2)
    # SAM's vision neck feeds the prompt encoder and mask decoder (64 wide once shrunk), and
    # its positional features are half that width.
    if type(now.get("num_pos_feats")) is int and type(now.get("output_channels")) is int:
        out.update(output_channels=64, num_pos_feats=32)
    # Stage widths and the widths that follow them (EfficientFormer's dim is its last stage,
    # TextNet's stem feeds its first, HGNet-V2's stage output channels are its hidden sizes).
    stages, new_stages = values.get("hidden_sizes"), out.get("hidden_sizes")
    if _int_list(values.get("stage_out_channels")) and _int_list(stages):
        for key, value in values.items():
            if key.startswith("stage_") and key.endswith("_channels") and _int_list(value):
                out[key] = [max(v // 4, 4) for v in value]
        if _int_list(values.get("stem_channels")):
            stem = values["stem_channels"]
            out["stem_channels"] = stem[:1] + [max(v // 4, 4) for v in stem[1:]]
        out["hidden_sizes"] = new_stages = out["stage_out_channels"]
    if _int_list(stages) and _int_list(new_stages):
        for key in ("dim", "stem_out_channels", "embedding_size"):
            if type(values.get(key)) is int and values[key] in (stages[-1], stages[0]):
                out[key] = new_stages[-1] if values[key] == stages[-1] else new_stages[0]
    # A timm backbone by name (DETR and kin, the timm library absent here): transformers' own
    # ResNet as the backbone instead, a supported setting of the same configs, tiny and with no
    # pretrained weights; as many feature maps as the model reads (up to three).
    if values.get("use_timm_backbone") is True and values.get("backbone_config") is None:
        levels = now.get("num_feature_levels")
        maps = min(3, levels) if type(levels) is int and levels > 1 else 1
        resnet = {"model_type": "resnet", "depths": [1, 1, 1, 1], "hidden_sizes": [16, 32, 64, 128]}
        resnet["out_features"] = [f"stage{i}" for i in range(5 - maps, 5)]
        out.update(
            use_timm_backbone=False, backbone=None, backbone_config=resnet, backbone_kwargs=None
        )
        out["use_pretrained_backbone"] = False
    # Hiera (SAM 2): one block per stage but two in the third, whose second block attends
    # globally (the first of a stage pools, and cannot be global); stage widths shrunk like
    # hidden_sizes, the stem as wide as the first stage, and the FPN's channel list (the
    # stage widths, deepest first) to match.
    dims = values.get("embed_dim_per_stage")
    if _int_list(dims) and _int_list(values.get("blocks_per_stage")):
        new_dims = [min(v, 16 * 2 ** min(i, 3)) for i, v in enumerate(dims)]
        out.update(embed_dim_per_stage=new_dims, hidden_size=new_dims[0])
        out["blocks_per_stage"] = [2 if i == 2 else 1 for i in range(len(dims))]
        out["num_attention_heads_per_stage"] = [1] * len(dims)
        out["global_attention_blocks"] = [3] if len(dims) > 2 else []
    if _int_list(values.get("backbone_channel_list")) and "backbone_config" in out:
        stage_dims = out["backbone_config"].get("embed_dim_per_stage")
        if stage_dims:
            out["backbone_channel_list"] = stage_dims[::-1]
    # VQ-VAE attention (Emu3) runs at the deepest level's width, base_channels * last multiplier.
    base, multipliers = values.get("base_channels"), values.get("channel_multiplier")
    if (
        type(base) is int
        and _int_list(multipliers)
        and values.get("hidden_size") == base * multipliers[-1]
    ):
        out["hidden_size"] = out.get("base_channels", base) * multipliers[-1]
    # LayoutLM-style 2D position embeddings: 4 coordinates and 2 sizes concatenate to hidden.
    if type(hidden) is int and type(now.get("coordinate_size")) is int and "shape_size" in now:
        coordinate = hidden // 6
        out.update(coordinate_size=coordinate, shape_size=(hidden - 4 * coordinate) // 2)
    # MoE sizes a default leaves None (dots.llm1's expert counts, DeepSeek-V2's experts per
    # token): four routed experts, two per token, one shared, like the shrunk MoE widths.
    if "moe_intermediate_size" in values:
        for key, count in (("n_routed_experts", 4), ("num_experts_per_tok", 2)):
            if key in values and values[key] is None:
                out[key] = count
        if "n_shared_experts" in values and values["n_shared_experts"] is None:
            out["n_shared_experts"] = 1
    # Multi-head latent attention (DeepSeek-V2/V3, LongCat-Flash): the rotary tables are as
    # wide as the rope part of a query head, which config.head_dim names.
    if type(now.get("qk_rope_head_dim")) is int and "head_dim" in out:
        out["head_dim"] = now["qk_rope_head_dim"]
    # EfficientNet (and ALIGN's vision tower): the head width is the last conv's, which is
    # 1280 * width_coefficient; 0.1 makes it 128, the shrunk hidden_dim, and every stage thin.
    if type(now.get("width_coefficient")) is float and type(now.get("hidden_dim")) is int:
        out.update(width_coefficient=0.1, depth_coefficient=1.0, hidden_dim=128)
    # Mamba2: hidden_size * expand must equal num_heads * head_dim.
    # Rotary settings a model reads as a dict although its config defaults them to None:
    # multimodal rope splits the rotary half of a 16-wide head over time, height and width.
    family = str(values.get("model_type", "")).lower().removesuffix("_text")
    if "rope_scaling" in values and values["rope_scaling"] is None:
        width = out.get("head_dim") or now.get("head_dim") or head
        if family in MROPE_FAMILIES and type(width) is int:
            rotary = int(width * (now.get("partial_rotary_factor") or 1.0)) // 2
            first = rotary // 4  # Qwen2-VL's 16:24:24 proportions
            section = [first, (rotary - first) // 2, rotary - first - (rotary - first) // 2]
            out["rope_scaling"] = {"rope_type": "default", "mrope_section": section}
        elif family == "mllama_text_model":
            out["rope_scaling"] = {"rope_type": "default"}
    if family == "mllama_text_model" and _int_list(values.get("cross_attention_layers")):
        out["cross_attention_layers"] = [1]  # of the two layers, the second cross-attends
    # Llama4's vision adapter reads pixel-shuffled patches (hidden / ratio**2 wide) with a
    # layer that is intermediate_size wide.
    ratio = now.get("pixel_shuffle_ratio")
    if isinstance(ratio, float) and "projector_input_dim" in now and type(hidden) is int:
        out["intermediate_size"] = int(hidden / ratio**2)
    # Gemma3n shares the KV of earlier layers of each kind with the last ones: with two
    # layers there are none to share, and both kinds of attention keep one layer each.
    if type(now.get("num_kv_shared_layers")) is int and isinstance(values.get("layer_types"), list):
        out["num_kv_shared_layers"] = 0
        out["layer_types"] = list(dict.fromkeys(values["layer_types"]))[: kept_layers_of(now)]
    # Mamba heads of hybrid models (Falcon-H1): the SSM width splits evenly into the heads.
    if all(type(now.get(k)) is int for k in ("mamba_d_ssm", "mamba_n_heads", "mamba_d_head")):
        out["mamba_d_head"] = now["mamba_d_ssm"] // now["mamba_n_heads"]
    mamba2 = ("expand", "num_heads", "head_dim", "hidden_size")
    if all(type(now.get(k)) is int for k in mamba2) and "n_groups" in now:
        out["head_dim"] = now["hidden_size"] * now["expand"] // now["num_heads"]
        if type(now["n_groups"]) is int and now["num_heads"] % now["n_groups"]:
            out["n_groups"] = 1  # groups of heads: must divide the shrunk head count


def _per_type(model_type: str, out: dict[str, Any]) -> None:
    """The few configs no rule between keys covers, each for the reason given."""
    if model_type == "pixtral":
        # 1024-pixel images are 4096 patches: minutes per forward on two cores. 256 keeps the
        # 16-pixel patches and the 2D rotary grid, at 256 patches.
        out["image_size"] = 256
    elif model_type == "clvp" and "decoder_config" in out and "speech_config" in out:
        # The speech encoder reads the decoder's argmax: both keep the decoder's vocab (its
        # start and stop speech tokens sit at its top, so it does not shrink).
        out["speech_config"]["vocab_size"] = out["decoder_config"].get("vocab_size", 8194)
        for tower in ("text_config", "speech_config"):  # rotary width is at least 32 there:
            out[tower]["num_attention_heads"] = 2  # heads of 64 / 2 = 32
    elif model_type == "granitemoehybrid":
        out["layer_types"] = ["mamba", "attention"]  # default None; the model reads one a layer
    elif model_type == "phi4_multimodal":
        # Its default vision_config is None, which the model cannot build: the vision
        # config's own defaults, shrunk like any sub-config.
        from transformers.models.phi4_multimodal import Phi4MultimodalVisionConfig

        vision = Phi4MultimodalVisionConfig().to_dict()
        out["vision_config"] = {**vision, **_shrunk(vision, False)}
    elif model_type in ("chameleon", "emu3"):
        # Their vocabulary_map (image codes to BPE ids, from the tokenizer) defaults to None,
        # which the model cannot build without: a 256-code codebook mapped to ids inside the
        # text vocab, in each model's naming scheme.
        codes, first = 256, (16 if model_type == "chameleon" else 151300)
        if model_type == "chameleon":
            out.setdefault("vq_config", {})["num_embeddings"] = codes
            names = [
                "IMGIMG" + "".join(chr(ord("A") + int(d)) for d in str(i)) + "Z"
                for i in range(codes)
            ]
            special = {"<image>": 8}
        else:
            out.setdefault("vq_config", {})["codebook_size"] = codes
            names = [f"<|visual token {i:06d}|>" for i in range(codes)]
            special = {"<image>": first - 2, "<|extra_200|>": first - 1}
        out["vocabulary_map"] = {**special, **{n: first + i for i, n in enumerate(names)}}
        out["image_token_id"] = special["<image>"]
    elif model_type == "tvp":
        out["type_vocab_size"] = 2  # the text embeddings read it; TvpConfig never sets it
    elif model_type == "retribert":
        out["position_embedding_type"] = "absolute"  # BERT embeddings read it; never set
    elif model_type == "lilt":
        out["hidden_size"] = 96  # six layout embeddings of hidden // 6 concatenate to hidden
    elif model_type == "xclip" and "projection_dim" in out:
        # The multi-frame transformer runs on projected frame embeddings.
        out.setdefault("vision_config", {})["mit_hidden_size"] = out["projection_dim"]


def _required(defaults: dict[str, Any]) -> dict[str, Any]:
    """Values some configs leave None or tie to the default layer count."""
    out: dict[str, Any] = {}
    if "vocab_size" in defaults and defaults["vocab_size"] is None:
        out["vocab_size"] = 64  # CTC heads and ESM need one; their configs leave it None
        if "pad_token_id" in defaults and defaults["pad_token_id"] is None:
            out["pad_token_id"] = 1  # ESM's embeddings mask padding; real checkpoints say 1
    if "prediction_length" in defaults and defaults["prediction_length"] is None:
        out["prediction_length"] = 8  # time-series models refuse to build without it
    if isinstance(defaults.get("attention_types"), list):
        out["attention_types"] = [[["global", "local"], 1]]  # GPT-Neo: one pair = 2 layers
    return out


def _base_defaults() -> dict[str, Any]:
    from transformers import PretrainedConfig

    return PretrainedConfig().to_dict()


def kept_layers_of(values: dict[str, Any]) -> int:
    return max((v for k, v in values.items() if k in LAYER_KEYS and type(v) is int), default=2)


def _per_block(values: dict[str, Any], depths: list[int]) -> bool:
    """True when another key lists one entry per block of every stage (TextNet's kernels)."""
    return any(
        isinstance(v, list) and len(v) == len(depths) and all(isinstance(x, list) for x in v)
        and [len(x) for x in v] == depths
        for v in values.values()
    )  # fmt: skip


def _int_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(type(v) is int for v in value)


def build(model_type: str, seed: int = 0, optimum_tasks: frozenset[str] = frozenset()) -> Tiny:
    """A tiny random model of ``model_type`` for its main task; ``error`` says why not."""
    import torch
    import transformers
    from transformers import CONFIG_MAPPING

    found = main_task(model_type, optimum_tasks)
    if found is None:
        return Tiny(model_type, "", "", "", error="no auto model class for this type")
    task, modality, auto_name = found
    tiny = Tiny(model_type, task, modality, auto_name)
    config_class = CONFIG_MAPPING[model_type]
    composite = None
    try:
        if model_type in COMPOSITES:  # no default config: built from tiny parts
            composite = _composite(model_type)
            defaults = {}
        else:
            defaults = config_class().to_dict()
    except Exception as error:
        tiny.error = f"default config: {_first(error)}"
        return tiny
    auto_class = getattr(transformers, auto_name)
    errors = []
    for shrink in ("full",) if composite else ("full", "gentle", "default"):
        try:
            overrides = {} if shrink == "default" else _shrunk(defaults, shrink == "gentle")
            if shrink != "default":
                overrides.update(_required(defaults))
            if shrink != "default":
                _per_type(model_type, overrides)
            config = composite or config_class(**overrides)
            model_class = auto_class._model_mapping[config_class]
            if isinstance(model_class, (tuple, list)):  # DeiT: plain head first, then teacher
                model_class = model_class[0]
            count = _count_parameters(model_class, config)
            if not count and shrink != "full":
                # Not countable on the meta device: a gently shrunk or default-size model could
                # take gigabytes (Chameleon, Qwen3-VL text); only the fully shrunk one is built.
                errors.append(f"{shrink}: parameters cannot be counted on the meta device")
                continue
            if count > MAX_PARAMETERS:
                errors.append(f"{shrink}: {count / 1e6:.0f}M parameters")
                continue
            torch.manual_seed(seed)
            model = model_class._from_config(config).eval()
            count = count or sum(p.numel() for p in model.parameters())
        except Exception as error:
            errors.append(f"{shrink}: {_first(error)}")
            continue
        tiny.model, tiny.config, tiny.shrink, tiny.parameters = model, config, shrink, count
        tiny.modality = modality_of(model, modality)
        return tiny
    tiny.error = "; ".join(errors)[:600]
    return tiny


def _composite(model_type: str) -> Any:
    """The config of a type that wraps other types (its default config refuses to exist):
    the common pairing of its parts, each shrunk like a model of its own."""
    from transformers import CONFIG_MAPPING

    def part(part_class: Any, **fixed: Any) -> Any:
        defaults = part_class().to_dict()
        return part_class(**{**_shrunk(defaults, False), **_required(defaults), **fixed})

    first, second = (CONFIG_MAPPING[name] for name in COMPOSITES[model_type])
    config_class = CONFIG_MAPPING[model_type]
    if model_type.startswith("musicgen"):
        # The decoder's vocab is the codec's codebook (its pad id, one past it, is no token).
        decoder_class = config_class.sub_configs["decoder"]
        decoder = part(decoder_class, vocab_size=decoder_class().vocab_size)
        codec = part(second, codebook_size=decoder.vocab_size)
        return config_class.from_sub_models_config(part(first), codec, decoder)
    if model_type == "vision-text-dual-encoder":
        return config_class.from_vision_text_configs(part(first), part(second))
    return config_class.from_encoder_decoder_configs(part(first), part(second))


def _count_parameters(model_class: Any, config: Any) -> int:
    """Parameters counted on the meta device (no memory); 0 when a model cannot build there."""
    import torch

    try:
        with torch.device("meta"):
            return sum(p.numel() for p in model_class._from_config(config).parameters())
    except Exception:
        return 0


def modality_of(model: Any, hint: str) -> str:
    """text / vision / audio / multimodal, from the inputs the model's forward() takes."""
    import inspect

    accepts = set(inspect.signature(model.forward).parameters)
    text = bool(accepts & {"input_ids", "decoder_input_ids"})
    vision = bool(accepts & {"pixel_values", "pixel_values_videos"})
    audio = bool(accepts & {"input_values", "input_features"})
    if sum((text and hint != "audio", vision, audio)) > 1:
        return "multimodal"
    return "vision" if vision else "audio" if audio else "text" if text else hint


def _first(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"[:300]
