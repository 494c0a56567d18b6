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
}  # fmt: skip
TOKEN_KEY_MARKS = ("token_id", "token_index")
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
    ]
    preferred = [entry for entry in listed if entry[1] in optimum_tasks]
    for mapping, task, modality in preferred or listed:
        return task, modality, _auto_class_name(mapping)
    return None


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
    }
    return names[mapping]


def _shrunk(values: dict[str, Any], gentle: bool) -> dict[str, Any]:
    """Overrides for one config's to_dict(), recursing into sub-configs."""
    out: dict[str, Any] = {}
    max_token = max(
        (v for k, v in values.items() if any(m in k for m in TOKEN_KEY_MARKS) and type(v) is int),
        default=0,
    )
    for key, value in values.items():
        if isinstance(value, dict) and key.endswith("config") and "model_type" in value:
            # Keys every config has, left at PretrainedConfig's defaults, are noise to strict
            # sub-config classes (DBRX's refuses unknown kwargs).
            base = _base_defaults()
            kept = {
                k: v
                for k, v in value.items()
                if k not in DERIVED_KEYS and not (k in base and base[k] == v)
            }
            out[key] = {**kept, **_shrunk(value, gentle)}
        elif type(value) is int and key in LAYER_KEYS:
            out[key] = min(value, 2)
        elif gentle:
            continue
        elif type(value) is int and key in WIDTH_KEYS:
            out[key] = min(value, WIDTH_KEYS[key])
        elif key == "vocab_size" and type(value) is int:
            out[key] = min(value, max(1024, max_token + 1))
        elif key in ("depths", "encoder_layers_per_stage") and _int_list(value):
            out[key] = [1] * len(value)
        elif key in ("hidden_sizes", "embed_dims", "conv_dim") and _int_list(value):
            out[key] = [min(v, 16 * 2 ** min(i, 3)) for i, v in enumerate(value)]
        elif key in ("num_heads", "num_attention_heads") and _int_list(value):
            out[key] = [1] * len(value)
    return out


def _required(defaults: dict[str, Any]) -> dict[str, Any]:
    """Values some configs leave None or tie to the default layer count."""
    out: dict[str, Any] = {}
    if "vocab_size" in defaults and defaults["vocab_size"] is None:
        out["vocab_size"] = 64  # CTC heads and ESM need one; their configs leave it None
    if "prediction_length" in defaults and defaults["prediction_length"] is None:
        out["prediction_length"] = 8  # time-series models refuse to build without it
    if isinstance(defaults.get("attention_types"), list):
        out["attention_types"] = [[["global", "local"], 1]]  # GPT-Neo: one pair = 2 layers
    return out


def _base_defaults() -> dict[str, Any]:
    from transformers import PretrainedConfig

    return PretrainedConfig().to_dict()


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
    try:
        defaults = config_class().to_dict()
    except Exception as error:
        tiny.error = f"default config: {_first(error)}"
        return tiny
    auto_class = getattr(transformers, auto_name)
    errors = []
    for shrink in ("full", "gentle", "default"):
        try:
            overrides = {} if shrink == "default" else _shrunk(defaults, shrink == "gentle")
            if shrink != "default":
                overrides.update(_required(defaults))
            config = config_class(**overrides)
            model_class = auto_class._model_mapping[config_class]
            if isinstance(model_class, (tuple, list)):  # DeiT: plain head first, then teacher
                model_class = model_class[0]
            count = _count_parameters(model_class, config)
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
