"""Export a model with a registered type's ONNX config: one graph, a decoder with its KV cache,
or the encoder-decoder split (encoder, decoder, decoder with past, merged by optimum).

The related type is chosen by what the model is (``lineage``); this module checks that the
config can describe the model (its dummy inputs build from the model's config, and forward()
takes every input it feeds) and runs optimum's ``onnx_export_from_model`` on the loaded model.
Child-process only: optimum and transformers are imported inside functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from onnx_wizard.errors import WizardError, first_line

ENCODER_DECODER_PREFIXES = ("text2text-generation", "automatic-speech-recognition")


def borrowed_config(model: Any, task: str, related: str) -> Any:
    """``related``'s ONNX config for ``task``, built on this model's config, if it fits."""
    from optimum.exporters.onnx import model_configs  # noqa: F401  (registers the configs)
    from optimum.exporters.tasks import TasksManager

    from onnx_wizard.fallback.lineage import accepts_inputs

    try:
        constructor = TasksManager.get_exporter_config_constructor(
            exporter="onnx", model_type=related, task=task, library_name="transformers"
        )
        onnx_config = constructor(model.config, int_dtype="int64", float_dtype="fp32")
        onnx_config.generate_dummy_inputs(framework="pt")  # reads hidden size, heads, vocab...
    except Exception as error:
        raise WizardError(
            f"The ONNX config of {related} cannot describe this {model.config.model_type} "
            f"model for {task}: {first_line(error)}",
            "Pick another related type, or a torch.onnx route.",
        ) from error
    missing = accepts_inputs(model, onnx_config)
    if missing:
        raise WizardError(
            f"{type(model).__name__}.forward() does not take {', '.join(missing)}, which the "
            f"ONNX config of {related} feeds.",
            "Pick another related type, or a torch.onnx route.",
        )
    return onnx_config


def submodel_configs(model: Any, onnx_config: Any, task: str) -> dict[str, Any]:
    """optimum's submodel names -> configs: the split layout for an encoder-decoder."""
    if not (task.startswith(ENCODER_DECODER_PREFIXES) and model.config.is_encoder_decoder):
        if not getattr(onnx_config, "use_past", False):
            return {"model": onnx_config}
        # As optimum's own decoders: the cache is both an input and an output of one graph.
        return {
            "model": type(onnx_config)(
                model.config,
                task=onnx_config.task,
                int_dtype=onnx_config.int_dtype,
                float_dtype=onnx_config.float_dtype,
                use_past=True,
                use_past_in_inputs=True,
            )
        }
    past = task.endswith("-with-past")
    configs = {
        "encoder_model": onnx_config.with_behavior("encoder"),
        "decoder_model": onnx_config.with_behavior(
            "decoder", use_past=past, use_past_in_inputs=False
        ),
    }
    if past:
        configs["decoder_with_past_model"] = onnx_config.with_behavior(
            "decoder", use_past=True, use_past_in_inputs=True
        )
    return configs


def export_borrowed(
    model: Any, output_dir: str | Path, task: str, related: str, *, opset: int | None = None
) -> dict[str, Any]:
    """Export ``model`` for ``task`` with the ONNX config of ``related`` into ``output_dir``.

    Decoders with ``-with-past`` get past_key_values inputs and present outputs; encoder-decoders
    the split files, merged into decoder_model_merged.onnx when optimum's merge succeeds."""
    from optimum.exporters.onnx import onnx_export_from_model

    onnx_config = borrowed_config(model, task, related)
    configs = submodel_configs(model, onnx_config, task)
    try:
        onnx_export_from_model(
            model,
            str(output_dir),
            opset=opset,
            task=task,
            custom_onnx_configs=configs,
            do_validation=False,  # verify_export validates at untraced shapes afterwards
        )
    except Exception as error:
        raise WizardError(
            f"optimum could not export this {model.config.model_type} model with the ONNX "
            f"config of {related}: {first_line(error)}",
            "Pick another related type, or a torch.onnx route.",
        ) from error
    merged = _merge_decoders(Path(output_dir)) if "decoder_with_past_model" in configs else None
    files = sorted(p.name for p in Path(output_dir).glob("*.onnx"))
    return {
        "related_model_type": related,
        "submodels": list(configs),
        "files": files,
        "merge_error": merged,
    }


def _merge_decoders(folder: Path) -> str | None:
    """decoder_model + decoder_with_past_model -> decoder_model_merged.onnx (one ``If`` on
    use_cache_branch), as optimum's post-processing does for the types it registers; it skips
    that step for custom configs. Returns why it failed, or None."""
    from optimum.onnx import merge_decoders

    target = folder / "decoder_model_merged.onnx"
    try:
        merge_decoders(
            folder / "decoder_model.onnx",
            folder / "decoder_with_past_model.onnx",
            save_path=str(target),
            strict=False,
        )
    except Exception as error:  # the split files still work; the merge is an optimization
        target.unlink(missing_ok=True)
        return first_line(error)
    return None


__all__ = ["borrowed_config", "export_borrowed", "submodel_configs"]
