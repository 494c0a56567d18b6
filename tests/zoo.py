"""A zoo of tiny model folders built locally from real transformers config classes.

Each ``ZooCase`` names a config class, tiny sizes, the ``architectures`` a real Hub checkpoint
lists, and the answers ``inspect`` must give. ``build`` writes config.json (and, for cases with
``weights``, real random weights as safetensors) with ``save_pretrained``. Importing transformers
here is fine: this is the test process, not the engine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ONE = ("model.onnx",)
SEQ2SEQ = (
    "encoder_model.onnx",
    "decoder_model.onnx",
    "decoder_with_past_model.onnx",
    "decoder_model_merged.onnx",
)
TJS_ONE = ("onnx/model.onnx",)
TJS_SEQ2SEQ = ("onnx/encoder_model.onnx", "onnx/decoder_model_merged.onnx")

TEXT = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
        "intermediate_size": 64, "vocab_size": 100}  # fmt: skip
LLAMA_LIKE = {**TEXT, "num_attention_heads": 4, "num_key_value_heads": 2}
SEQ = {"d_model": 32, "encoder_layers": 2, "decoder_layers": 2, "encoder_attention_heads": 2,
       "decoder_attention_heads": 2, "encoder_ffn_dim": 64, "decoder_ffn_dim": 64,
       "vocab_size": 100}  # fmt: skip
T5 = {"d_model": 32, "d_ff": 64, "num_layers": 2, "num_heads": 2, "d_kv": 16, "vocab_size": 100}
VIT = {**TEXT, "image_size": 32, "patch_size": 8}
CNN = {"hidden_sizes": [8, 16], "depths": [1, 1]}
AUDIO = {**TEXT, "conv_dim": [8, 8], "conv_stride": [5, 2], "conv_kernel": [10, 3],
         "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 2}  # fmt: skip
LABELS = {"id2label": {0: "negative", 1: "positive"}, "label2id": {"negative": 0, "positive": 1}}


@dataclass(frozen=True)
class ZooCase:
    name: str
    config_class: str
    kwargs: dict[str, Any]
    architecture: str
    model_type: str
    task: str
    with_past: bool
    is_encoder_decoder: bool
    files: tuple[str, ...]
    tjs_files: tuple[str, ...]
    modality: str
    weights: str | None = None  # the auto class that builds real weights, if any
    # optimum's own class -> task answer where it differs from the wizard's: it takes the first
    # task in its table whose auto-class lists the class, so CLIPModel gets feature-extraction
    # (AutoModel comes first; the Hub tags CLIP zero-shot-image-classification) and BART gets
    # fill-mask, which it cannot even export for bart. "raises": optimum cannot tell at all.
    optimum_infers: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _case(
    name: str, cls: str, kw: dict[str, Any], arch: str, mt: str, task: str, **more: Any
) -> ZooCase:
    seq2seq = more.pop("seq2seq", False)
    past = task.endswith("-with-past")
    return ZooCase(
        name, cls, kw, arch, mt, task,
        with_past=more.pop("with_past", past),
        is_encoder_decoder=more.pop("encdec", seq2seq),
        files=more.pop("files", SEQ2SEQ if seq2seq else ONE),
        tjs_files=more.pop("tjs", TJS_SEQ2SEQ if seq2seq else TJS_ONE),
        modality=more.pop("modality", "text"),
        **more,
    )  # fmt: skip


GEN = "text-generation-with-past"
S2S = "text2text-generation-with-past"
ZOO: tuple[ZooCase, ...] = (
    # encoders
    _case("bert-classifier", "BertConfig", {**TEXT, **LABELS}, "BertForSequenceClassification",
          "bert", "text-classification"),
    _case("bert-base", "BertConfig", TEXT, "BertModel", "bert", "feature-extraction",
          weights="AutoModel"),
    _case("distilbert", "DistilBertConfig", {"dim": 32, "n_layers": 2, "n_heads": 2,
          "hidden_dim": 64, "vocab_size": 100}, "DistilBertForMaskedLM", "distilbert", "fill-mask"),
    _case("roberta", "RobertaConfig", TEXT, "RobertaForTokenClassification", "roberta",
          "token-classification"),
    _case("xlm-roberta", "XLMRobertaConfig", TEXT, "XLMRobertaModel", "xlm-roberta",
          "feature-extraction"),
    _case("deberta-v2", "DebertaV2Config", TEXT, "DebertaV2ForQuestionAnswering", "deberta-v2",
          "question-answering"),
    _case("electra", "ElectraConfig", {**TEXT, "embedding_size": 16},
          "ElectraForSequenceClassification", "electra", "text-classification"),
    _case("albert", "AlbertConfig", {**TEXT, "embedding_size": 16}, "AlbertForMaskedLM", "albert",
          "fill-mask"),
    _case("mpnet", "MPNetConfig", TEXT, "MPNetForMultipleChoice", "mpnet", "multiple-choice"),
    # decoders
    _case("gpt2", "GPT2Config", {"n_embd": 32, "n_layer": 2, "n_head": 2, "vocab_size": 100},
          "GPT2LMHeadModel", "gpt2", GEN, weights="AutoModelForCausalLM"),
    _case("gpt2-classifier", "GPT2Config", {"n_embd": 32, "n_layer": 2, "n_head": 2,
          "vocab_size": 100, **LABELS}, "GPT2ForSequenceClassification", "gpt2",
          "text-classification"),
    _case("llama", "LlamaConfig", LLAMA_LIKE, "LlamaForCausalLM", "llama", GEN,
          weights="AutoModelForCausalLM"),
    _case("mistral", "MistralConfig", LLAMA_LIKE, "MistralForCausalLM", "mistral", GEN),
    _case("qwen2", "Qwen2Config", LLAMA_LIKE, "Qwen2ForCausalLM", "qwen2", GEN,
          weights="AutoModelForCausalLM"),
    _case("phi", "PhiConfig", TEXT, "PhiForCausalLM", "phi", GEN),
    _case("gemma", "GemmaConfig", {**LLAMA_LIKE, "head_dim": 8}, "GemmaForCausalLM", "gemma", GEN),
    _case("gpt-neox", "GPTNeoXConfig", TEXT, "GPTNeoXForCausalLM", "gpt_neox", GEN),
    _case("opt", "OPTConfig", {**TEXT, "ffn_dim": 64, "word_embed_proj_dim": 32},
          "OPTForCausalLM", "opt", GEN),
    _case("bloom", "BloomConfig", {"hidden_size": 32, "n_layer": 2, "n_head": 2,
          "vocab_size": 100}, "BloomForCausalLM", "bloom", GEN),
    _case("falcon", "FalconConfig", TEXT, "FalconForCausalLM", "falcon", GEN),
    # encoder-decoders
    _case("t5", "T5Config", T5, "T5ForConditionalGeneration", "t5", S2S, seq2seq=True,
          weights="AutoModelForSeq2SeqLM"),
    _case("mt5", "MT5Config", T5, "MT5ForConditionalGeneration", "mt5", S2S, seq2seq=True),
    _case("bart", "BartConfig", SEQ, "BartForConditionalGeneration", "bart", S2S, seq2seq=True,
          optimum_infers="fill-mask"),
    _case("mbart", "MBartConfig", SEQ, "MBartForConditionalGeneration", "mbart", S2S,
          seq2seq=True, optimum_infers="fill-mask"),
    _case("marian", "MarianConfig", SEQ, "MarianMTModel", "marian", S2S, seq2seq=True),
    _case("pegasus", "PegasusConfig", SEQ, "PegasusForConditionalGeneration", "pegasus", S2S,
          seq2seq=True),
    _case("m2m-100", "M2M100Config", SEQ, "M2M100ForConditionalGeneration", "m2m_100", S2S,
          seq2seq=True),
    # vision
    _case("vit", "ViTConfig", {**VIT, **LABELS}, "ViTForImageClassification", "vit",
          "image-classification", modality="vision", weights="AutoModelForImageClassification"),
    # transformers maps deit to a tuple of two classes; optimum compares names to the tuple.
    _case("deit", "DeiTConfig", VIT, "DeiTForImageClassificationWithTeacher", "deit",
          "image-classification", modality="vision", optimum_infers="raises"),
    _case("convnext", "ConvNextConfig", CNN, "ConvNextForImageClassification", "convnext",
          "image-classification", modality="vision"),
    _case("resnet", "ResNetConfig", {**CNN, "embedding_size": 8}, "ResNetForImageClassification",
          "resnet", "image-classification", modality="vision"),
    _case("swin", "SwinConfig", {"embed_dim": 16, "depths": [1, 1], "num_heads": [1, 2],
          "image_size": 32, "patch_size": 4, "window_size": 2}, "SwinForImageClassification",
          "swin", "image-classification", modality="vision"),
    # DETR's config is an encoder-decoder, yet optimum exports object detection as one file.
    _case("detr", "DetrConfig", {"d_model": 32, "encoder_layers": 1, "decoder_layers": 1,
          "use_timm_backbone": False, "use_pretrained_backbone": False,
          "backbone_config": {"model_type": "resnet", **CNN}}, "DetrForObjectDetection", "detr",
          "object-detection", encdec=True, modality="vision"),
    _case("yolos", "YolosConfig", VIT, "YolosForObjectDetection", "yolos", "object-detection",
          modality="vision"),
    # optimum lists image-segmentation before semantic-segmentation; both load this class.
    _case("segformer", "SegformerConfig", {"hidden_sizes": [8, 16], "depths": [1, 1],
          "num_encoder_blocks": 2, "sr_ratios": [2, 1], "num_attention_heads": [1, 1]},
          "SegformerForSemanticSegmentation", "segformer", "image-segmentation", modality="vision"),
    # audio
    _case("whisper", "WhisperConfig", {**SEQ, "pad_token_id": 1, "bos_token_id": 2,
          "eos_token_id": 2, "decoder_start_token_id": 3, "suppress_tokens": [],
          "begin_suppress_tokens": []}, "WhisperForConditionalGeneration", "whisper",
          "automatic-speech-recognition-with-past", seq2seq=True, modality="audio",
          weights="AutoModelForSpeechSeq2Seq"),
    _case("wav2vec2", "Wav2Vec2Config", AUDIO, "Wav2Vec2ForCTC", "wav2vec2",
          "automatic-speech-recognition", modality="audio"),
    _case("hubert", "HubertConfig", {**AUDIO, **LABELS}, "HubertForSequenceClassification",
          "hubert", "audio-classification", modality="audio"),
    # multimodal
    _case("clip", "CLIPConfig", {"text_config": TEXT, "vision_config": VIT}, "CLIPModel", "clip",
          "zero-shot-image-classification", modality="multimodal",
          optimum_infers="feature-extraction"),
    _case("siglip", "SiglipConfig", {"text_config": TEXT, "vision_config": VIT}, "SiglipModel",
          "siglip", "zero-shot-image-classification", modality="multimodal",
          optimum_infers="feature-extraction"),
    _case("vision-encoder-decoder", "VisionEncoderDecoderConfig", {},
          "VisionEncoderDecoderModel", "vision-encoder-decoder", "image-to-text-with-past",
          seq2seq=True, modality="multimodal"),
)  # fmt: skip


def make_config(case: ZooCase) -> Any:
    import transformers

    if case.config_class == "VisionEncoderDecoderConfig":
        encoder = transformers.ViTConfig(**VIT)
        decoder = transformers.GPT2Config(n_embd=32, n_layer=2, n_head=2, vocab_size=100,
                                          add_cross_attention=True, is_decoder=True)  # fmt: skip
        config = transformers.VisionEncoderDecoderConfig.from_encoder_decoder_configs(
            encoder, decoder
        )
        config.architectures = [case.architecture]
        return config
    config_class = getattr(transformers, case.config_class)
    return config_class(**case.kwargs, architectures=[case.architecture])


def build(case: ZooCase, root: Path) -> Path:
    """Write the case's folder under ``root``: config.json, plus weights when asked."""
    folder = root / case.name
    config = make_config(case)
    if case.weights:
        import transformers

        model = getattr(transformers, case.weights).from_config(config)
        model.save_pretrained(folder)  # safetensors by default
    else:
        config.save_pretrained(folder)
    return folder


def parameter_count(case: ZooCase, folder: Path) -> int:
    """sum(p.numel()) of the saved model, loaded back the ordinary way."""
    import transformers

    model = getattr(transformers, case.weights or "AutoModel").from_pretrained(folder)
    return sum(p.numel() for p in model.parameters())


def build_sentence_transformers(root: Path) -> Path:
    """A sentence-transformers folder as its save() writes it: a BERT plus pooling modules."""
    import transformers

    folder = root / "st-minilm"
    transformers.BertConfig(**TEXT, architectures=["BertModel"]).save_pretrained(folder)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling",
         "type": "sentence_transformers.models.Pooling"},
    ]  # fmt: skip
    (folder / "modules.json").write_text(json.dumps(modules), encoding="utf-8")
    (folder / "config_sentence_transformers.json").write_text(
        json.dumps({"__version__": {"sentence_transformers": "3.0.1"}}), encoding="utf-8"
    )
    (folder / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": 128, "do_lower_case": False}), encoding="utf-8"
    )
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": 32, "pooling_mode_mean_tokens": True}),
        encoding="utf-8",
    )
    return folder
