"""torch.onnx export of a decoder *with* its KV cache: past_key_values in, present out.

Without a cache each generated token reruns the whole sequence; with one, a step feeds one
token and the cache. The graph takes optimum's names (input_ids, attention_mask, position_ids,
past_key_values.N.key/value; logits, present.N.key/value), so the validation's cache steps and
runtimes that know optimum's decoders run it unchanged. Traced with a non-empty cache and a
prompt of another length; validated from an empty cache. Child-process only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from onnx_wizard.errors import WizardError, first_line

PAST, STEP, BATCH = 3, 4, 2  # traced cache length, new tokens and rows: all dynamic


def _legacy(cache: Any) -> list[tuple[Any, Any]]:
    layers = cache.to_legacy_cache() if hasattr(cache, "to_legacy_cache") else cache
    return [(layer[0], layer[1]) for layer in layers]


def export_decoder_with_cache(model: Any, output_dir: str | Path, *, opset: int = 18) -> dict:
    """Export a causal LM with its KV cache to output_dir/model.onnx; raises WizardError."""
    import torch
    from transformers import DynamicCache

    from onnx_wizard.fallback.child import _traceable_masks
    from onnx_wizard.fallback.inputs import TRACE, example_inputs

    ids = example_inputs(model, TRACE)["input_ids"][:BATCH, : PAST + STEP]
    try:
        with torch.no_grad():
            first = model(input_ids=ids[:, :PAST], use_cache=True, return_dict=True)
        past = _legacy(first.past_key_values)
    except Exception as error:
        raise WizardError(
            f"{type(model).__name__} gives no key/value cache to export: {first_line(error)}",
            "Export without the cache (task text-generation).",
        ) from error
    layers = len(past)
    input_names = ["input_ids", "attention_mask", "position_ids"]
    past_names = [f"past_key_values.{i}.{kind}" for i in range(layers) for kind in ("key", "value")]
    output_names = ["logits"] + [n.replace("past_key_values", "present") for n in past_names]

    class WithCache(torch.nn.Module):
        """forward(ids, mask, positions, *past) -> (logits, *present), flat for the exporter."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, position_ids: Any, *flat: Any):
            pairs = [(flat[2 * i], flat[2 * i + 1]) for i in range(layers)]
            out = self.model(
                input_ids=input_ids,
                attention_mask=attention_mask,
                position_ids=position_ids,
                # transformers hints a one-layer tuple; it takes one pair per layer.
                past_key_values=DynamicCache.from_legacy_cache(tuple(pairs)),  # type: ignore[arg-type]
                use_cache=True,
                return_dict=True,
            )
            return (out.logits, *(t for pair in _legacy(out.past_key_values) for t in pair))

    step = ids[:, PAST:]
    mask = torch.ones(BATCH, PAST + STEP, dtype=torch.int64)
    positions = torch.arange(PAST, PAST + STEP).expand(BATCH, STEP).contiguous()
    args = (step, mask, positions, *(t for pair in past for t in pair))
    axes: dict[str, dict[int, str]] = {
        "input_ids": {0: "batch_size", 1: "sequence_length"},
        "attention_mask": {0: "batch_size", 1: "past_sequence_length + sequence_length"},
        "position_ids": {0: "batch_size", 1: "sequence_length"},
        "logits": {0: "batch_size", 1: "sequence_length"},
    }
    axes.update({n: {0: "batch_size", 2: "past_sequence_length"} for n in past_names})
    axes.update({n: {0: "batch_size", 2: "total_sequence_length"} for n in output_names[1:]})
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    try:
        with _traceable_masks():
            torch.onnx.export(
                WithCache().eval(),
                args,
                str(out / "model.onnx"),
                input_names=input_names + past_names,
                output_names=output_names,
                dynamic_axes=axes,
                opset_version=opset,
                dynamo=False,
            )
    except Exception as error:
        raise WizardError(
            f"torch.onnx.export (TorchScript) could not export {type(model).__name__} with its "
            f"KV cache: {first_line(error)}",
            "Export without the cache (task text-generation), or with a related ONNX config.",
        ) from error
    model.config.save_pretrained(out)
    return {"inputs": input_names + past_names, "outputs": output_names, "layers": layers}


__all__ = ["export_decoder_with_cache"]
