"""Offline task detection: which optimum export task fits a model folder, and why.

optimum infers the task only for Hub ids (it asks the Hub for the pipeline tag) and raises
"Cannot infer the task from a local directory yet" for a folder. This module infers it from the
files and ``config.json`` alone (``architectures``, ``model_type``, ``is_encoder_decoder``,
``id2label``), checks the answer against optimum's own table of supported tasks, and explains
each decision in a plain sentence. It reads JSON only: no torch, transformers or optimum.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onnx_wizard.inspection.supported_tasks import TaskTable, load_table

# Library names as users know them -> as optimum's ``library_name`` spells them.
OPTIMUM_LIBRARY = {
    "transformers": "transformers",
    "sentence-transformers": "sentence_transformers",
    "timm": "timm",
    "diffusers": "diffusers",
}

# For classes transformers does not know (remote code, renamed forks): the name's suffix says
# which head it has. Tasks are optimum's names; a test checks each one is in optimum's list.
SUFFIX_TASKS = (
    ("ForCausalLM", "text-generation"),
    ("LMHeadModel", "text-generation"),
    ("ForSequenceClassification", "text-classification"),
    ("ForTokenClassification", "token-classification"),
    ("ForQuestionAnswering", "question-answering"),
    ("ForMaskedLM", "fill-mask"),
    ("ForMultipleChoice", "multiple-choice"),
    ("ForImageClassification", "image-classification"),
    ("ForObjectDetection", "object-detection"),
    ("ForSemanticSegmentation", "semantic-segmentation"),
    ("ForDepthEstimation", "depth-estimation"),
    ("ForCTC", "automatic-speech-recognition"),
    ("ForSpeechSeq2Seq", "automatic-speech-recognition"),
    ("ForAudioClassification", "audio-classification"),
    ("ForConditionalGeneration", "text2text-generation"),
    ("ForPreTraining", "feature-extraction"),
    ("Model", "feature-extraction"),
)

TEXT_TASKS = {
    "text-generation", "text2text-generation", "fill-mask", "text-classification",
    "token-classification", "question-answering", "multiple-choice",
}  # fmt: skip
VISION_TASKS = {
    "image-classification", "object-detection", "image-segmentation", "semantic-segmentation",
    "depth-estimation", "masked-im", "image-to-image", "keypoint-detection", "mask-generation",
    "text-to-image", "inpainting",
}  # fmt: skip
AUDIO_TASKS = {
    "audio-classification", "audio-frame-classification", "audio-xvector",
    "automatic-speech-recognition", "text-to-audio",
}  # fmt: skip


@dataclass(frozen=True)
class TaskDetection:
    """The detected task, why, and what else optimum could export for this model."""

    task: str | None
    reasons: tuple[str, ...]
    candidates: tuple[str, ...]
    supported: bool
    with_past_applies: bool

    @property
    def base_task(self) -> str | None:
        return self.task.removesuffix("-with-past") if self.task else None

    @property
    def with_past(self) -> bool:
        return bool(self.task and self.task.endswith("-with-past"))


def detect_library(folder: Path, config: dict[str, Any]) -> tuple[str, str]:
    """Which library saved the folder (from the files present, as optimum does) and why."""
    names = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    if "model_index.json" in names:
        return "diffusers", "model_index.json is present: a diffusers pipeline."
    st_files = sorted(
        n
        for n in names
        if n in ("modules.json", "config_sentence_transformers.json") or n.startswith("sentence_")
    )
    if st_files:
        return "sentence-transformers", f"{st_files[0]} is present: a sentence-transformers model."
    if "architecture" in config or "pretrained_cfg" in config:
        return "timm", 'config.json has "architecture"/"pretrained_cfg": a timm model.'
    if "_diffusers_version" in config:
        return "diffusers", "config.json carries _diffusers_version: a diffusers component."
    return "transformers", "config.json without library markers: a transformers model."


def _labels_reason(config: dict[str, Any]) -> str | None:
    labels = config.get("id2label")
    if not isinstance(labels, dict) or not labels:
        return None
    names = [str(v) for v in labels.values()]
    shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
    generic = all(n.startswith("LABEL_") for n in names)
    kind = "default names" if generic else "named labels"
    return f"id2label has {len(names)} {kind} ({shown}): the classification head's outputs."


def _has_real_labels(config: dict[str, Any]) -> bool:
    labels = config.get("id2label")
    return isinstance(labels, dict) and any(
        not str(v).startswith("LABEL_") for v in labels.values()
    )


def config_modality(config: dict[str, Any]) -> str:
    """text / vision / audio / multimodal, from which settings a config has."""
    parts = set()
    if "text_config" in config:
        parts.add("text")
    if "vision_config" in config or config.get("model_type") == "vision-encoder-decoder":
        parts.add("vision")
    if "audio_config" in config:
        parts.add("audio")
    if len(parts) > 1 or config.get("model_type") == "vision-encoder-decoder":
        return "multimodal"
    if parts:
        return parts.pop()
    if any(k in config for k in ("num_mel_bins", "conv_dim", "feat_extract_norm")):
        return "audio"
    if any(k in config for k in ("image_size", "num_channels", "patch_size", "hidden_sizes")):
        return "vision"
    return "text"


def task_modality(task: str | None, config: dict[str, Any]) -> str:
    base = (task or "").removesuffix("-with-past")
    if base in TEXT_TASKS:
        return "text"
    if base in VISION_TASKS:
        return "vision"
    if base in AUDIO_TASKS:
        return "audio"
    if base in ("feature-extraction", "sentence-similarity", "time-series-forecasting", ""):
        return config_modality(config)
    return "multimodal"  # image-to-text, zero-shot-*, visual/document question answering


def _order_candidates(first: str | None, supported: tuple[str, ...]) -> tuple[str, ...]:
    """Detected task first, its with/without-past twin next, then the rest alphabetically."""
    rest = [t for t in supported if t != first]
    if first:
        twin = first.removesuffix("-with-past") if first.endswith("-with-past") else None
        twin = twin or f"{first}-with-past"
        rest.sort(key=lambda t: (t != twin, t))
    return ((first,) if first else ()) + tuple(rest)


def _from_architectures(
    architectures: list[str], config: dict[str, Any], table: TaskTable, supported: tuple[str, ...]
) -> tuple[str | None, list[str]]:
    """The task the listed classes imply, checked against what optimum supports."""
    reasons: list[str] = []
    for arch in architectures:
        pairs = table.tasks_for_architecture(arch)
        if pairs:
            for task, loader in pairs:
                task = table.synonyms.get(task, task)
                if not supported or task in supported:
                    how = "optimum's own mapping" if loader == "custom" else loader
                    reasons.append(f"architectures lists {arch}, which {how} loads: task {task}.")
                    return task, reasons
            listed = ", ".join(dict.fromkeys(t for t, _ in pairs))
            reasons.append(
                f"{arch} is a {listed} class, but optimum has no ONNX export for that task "
                f"with model_type {config.get('model_type')!r}."
            )
            continue
        for suffix, task in SUFFIX_TASKS:
            if arch.endswith(suffix):
                if task == "text2text-generation" and not config.get("is_encoder_decoder"):
                    task = "text-generation"
                known = "is known to transformers" if arch in table.architectures else "is custom"
                reasons.append(f"{arch} {known}; its name ends in {suffix}: task {task}.")
                if not supported or task in supported:
                    return task, reasons
                break
    return None, reasons


def _from_config(
    config: dict[str, Any], supported: tuple[str, ...], is_encoder_decoder: bool
) -> tuple[str | None, str]:
    """A task from config fields alone, for configs without a usable ``architectures``."""
    if is_encoder_decoder:
        for task in ("automatic-speech-recognition", "text2text-generation", "image-to-text"):
            if task in supported:
                return task, f"The config is an encoder-decoder and optimum supports {task}."
    if "text-generation" in supported and not is_encoder_decoder:
        return "text-generation", "The model type is a decoder that optimum exports for generation."
    if _has_real_labels(config):
        modality = config_modality(config)
        task = {"vision": "image-classification", "audio": "audio-classification"}.get(
            modality, "text-classification"
        )
        if task in supported:
            return task, f"id2label names real labels: a {modality} classifier ({task})."
    if "feature-extraction" in supported:
        return "feature-extraction", "Nothing names a task head, so the base model's outputs."
    if supported:
        return supported[0], f"{supported[0]} is the first export optimum lists for it."
    return None, "Nothing in the config names a task."


def is_encoder_decoder(config: dict[str, Any], table: TaskTable) -> bool:
    if "is_encoder_decoder" in config:
        return bool(config["is_encoder_decoder"])
    return config.get("model_type") in table.encoder_decoder_types


def detect_task(
    config: dict[str, Any], library: str = "transformers", table: TaskTable | None = None
) -> TaskDetection:
    """Detect the export task for a model from its config (and library), with reasons."""
    table = table or load_table()
    if library == "sentence-transformers":
        return _detect_sentence_transformers(config, table)
    if library == "timm":
        tasks = table.tasks_for("default-timm-config", "timm")
        return TaskDetection(
            "image-classification",
            ("optimum exports every timm model as image-classification.",),
            _order_candidates("image-classification", tasks),
            bool(tasks),
            False,
        )
    if library == "diffusers":
        name = str(config.get("_class_name", ""))
        pipeline_task = "image-to-image" if "Img2Img" in name else "text-to-image"
        pipeline_task = "inpainting" if "Inpaint" in name else pipeline_task
        why = f"model_index.json names {name or 'a pipeline'}: task {pipeline_task}."
        return TaskDetection(pipeline_task, (why,), (pipeline_task,), True, False)

    model_type = config.get("model_type")
    architectures = [a for a in config.get("architectures") or [] if isinstance(a, str)]
    reasons: list[str] = []
    if not model_type:
        model_type = next(filter(None, map(table.model_type_of, architectures)), None)
        if model_type:
            reasons.append(f"config.json has no model_type; its class belongs to {model_type}.")
    supported = table.tasks_for(str(model_type)) if model_type else ()
    encdec = is_encoder_decoder({**config, "model_type": model_type}, table)

    task, arch_reasons = _from_architectures(architectures, config, table, supported)
    reasons += arch_reasons
    if task is None and architectures and "feature-extraction" in supported:
        # The listed head has no ONNX export here; the base model still has. Say what is lost.
        task = "feature-extraction"
        reasons.append(
            f"So the export falls back to feature-extraction: the base {model_type} model's "
            f"hidden states, without the {architectures[0]} head."
        )
    elif task is None:
        task, why = _from_config(config, supported, encdec)
        lead = "No architectures entry gives a task. " if architectures else "No architectures. "
        reasons.append(lead + why)
    if task and task.endswith("classification") and (labels := _labels_reason(config)):
        reasons.append(labels)
    if not supported:
        reasons.append(
            f"optimum has no ONNX config for model_type {model_type!r}, so this task is a guess "
            "it cannot check."
        )
        return TaskDetection(task, tuple(reasons), (task,) if task else (), False, False)
    with_past_applies = f"{task}-with-past" in supported
    if with_past_applies:
        task = f"{task}-with-past"
        reasons.append(
            f"optimum supports {task} for {model_type}: the export takes and returns past "
            "key/values (the KV cache), so each generated token costs one step, not a rerun."
        )
    return TaskDetection(
        task, tuple(reasons), _order_candidates(task, supported), True, with_past_applies
    )


def expected_files(
    model_type: str | None,
    task: str | None,
    encoder_decoder: bool,
    library: str,
    table: TaskTable,
    post_process: bool = True,
) -> tuple[str, ...]:
    """The ONNX files optimum writes for this task (mirrors optimum's submodel split)."""
    if task is None:
        return ()
    with_past = task.endswith("-with-past")
    if library == "diffusers":
        return (
            "text_encoder/model.onnx",
            "unet/model.onnx",
            "vae_encoder/model.onnx",
            "vae_decoder/model.onnx",
        )
    # sam and musicgen: optimum's get_sam/get_musicgen_models_for_export (not in the test zoo).
    if model_type == "sam":
        return ("vision_encoder.onnx", "prompt_encoder_mask_decoder.onnx")
    if model_type == "musicgen":
        return (
            "text_encoder.onnx",
            "encodec_decode.onnx",
            "decoder_model.onnx",
            "decoder_with_past_model.onnx",
            "build_delay_pattern_mask.onnx",
            "decoder_model_merged.onnx",
        )
    if encoder_decoder and task.startswith(table.encoder_decoder_tasks):
        files = ["encoder_model.onnx", "decoder_model.onnx"]
        if with_past:
            files.append("decoder_with_past_model.onnx")
            if post_process:  # optimum merges the two decoders into one with an If node
                files.append("decoder_model_merged.onnx")
        return tuple(files)
    return ("model.onnx",)


def transformersjs_files(files: tuple[str, ...]) -> tuple[str, ...]:
    """Which of ``files`` Transformers.js loads; it looks for them under ``onnx/``."""
    if "model.onnx" in files:
        wanted: tuple[str, ...] = ("model.onnx",)
    elif "vision_encoder.onnx" in files:
        wanted = ("vision_encoder.onnx", "prompt_encoder_mask_decoder.onnx")
    elif "text_encoder.onnx" in files and "decoder_model_merged.onnx" in files:
        wanted = ("text_encoder.onnx", "decoder_model_merged.onnx", "encodec_decode.onnx")
    elif "encoder_model.onnx" in files and "decoder_model_merged.onnx" in files:
        wanted = ("encoder_model.onnx", "decoder_model_merged.onnx")
    else:
        return ()  # e.g. an encoder-decoder without the merged decoder Transformers.js needs
    return tuple(f"onnx/{name}" for name in wanted)


def _detect_sentence_transformers(config: dict[str, Any], table: TaskTable) -> TaskDetection:
    model_type = config.get("model_type")
    # optimum wraps the first module: "clip" for CLIP models, "transformer" for the rest.
    wrapper = "clip" if model_type == "clip" else "transformer"
    tasks = table.tasks_for(wrapper, "sentence_transformers")
    reasons = (
        "A sentence-transformers model: optimum exports it for feature-extraction (embeddings); "
        "sentence-similarity is a synonym.",
        f"optimum wraps its first module as {wrapper!r}, which supports {', '.join(tasks)}."
        if tasks
        else f"optimum has no sentence-transformers config for {wrapper!r}.",
    )
    supported = bool(tasks) and table.is_supported(str(model_type))
    return TaskDetection(
        "feature-extraction",
        reasons,
        _order_candidates("feature-extraction", tasks),
        supported,
        False,
    )


def detect_task_for_folder(folder: str | Path) -> TaskDetection:
    """Detect the task for a local model folder (config.json or model_index.json)."""
    from onnx_wizard.inspection.source import check_model_folder

    folder = Path(folder)
    config = check_model_folder(folder)
    library, _why = detect_library(folder, config)
    return detect_task(config, library)
