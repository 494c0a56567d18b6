"""torch.onnx export of any single-graph model from config-built inputs: text, image, audio, both.

The model is traced (TorchScript) or captured (dynamo) on ``inputs.TRACE`` shapes; every axis
that differs at ``inputs.CHECK`` shapes is exported dynamic, and ``verify`` later runs the graph
at those other shapes. Outputs keep the model's own output names (logits, last_hidden_state,
...), which are optimum's names too. Child-process only: torch is imported inside functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from onnx_wizard.errors import WizardError, first_line
from onnx_wizard.fallback.inputs import CHECK, TRACE, example_inputs, varying_axes

TWO_GB = 2 * 1024**3
# Outputs that only echo internals or are None unless asked for.
SKIPPED_OUTPUTS = ("past_key_values", "hidden_states", "attentions", "cross_attentions")


def _tensor_outputs(output: Any) -> list[str]:
    import torch

    return [
        name
        for name, value in output.items()
        if isinstance(value, torch.Tensor) and not name.startswith(SKIPPED_OUTPUTS)
    ]


def _wrapper(model: Any, input_names: list[str], output_names: list[str], extra: dict) -> Any:
    import torch

    class Positional(torch.nn.Module):
        """forward(*tensors) -> tuple: what torch.onnx.export wants, in a fixed order."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: Any) -> tuple[Any, ...]:
            out = self.model(**dict(zip(input_names, tensors, strict=True)), **extra)
            return tuple(out[name] for name in output_names)

    return Positional().eval()  # eval: the exporter restores the mode it finds


def call_extras(model: Any) -> dict[str, Any]:
    """Keywords that make forward() return a dict of tensors without a cache."""
    from onnx_wizard.fallback.inputs import forward_parameters

    accepts = forward_parameters(model)
    extra: dict[str, Any] = {"return_dict": True} if "return_dict" in accepts else {}
    if "use_cache" in accepts:
        extra["use_cache"] = False
    # An earlier borrowed-config try ran optimum's ModelPatcher, which sets use_cache on every
    # submodule's config (to the borrowed config's use_past) and never restores it. forward()
    # passes use_cache to the decoder stack only, so an encoder stack then reads True from its
    # own config and refuses (UMT5, SwitchTransformers: "`use_cache` can only be set to True if
    # ... is used as a decoder"). Encoder stacks have no cache: switch it back off there.
    for module in model.modules():
        own = getattr(module, "config", None)
        if (
            own is not None
            and own is not model.config
            and getattr(module, "is_decoder", None) is False
            and getattr(own, "use_cache", False) is True
        ):
            own.use_cache = False
    return extra


def export_model(model: Any, output_dir: str | Path, *, dynamo: bool, opset: int = 18) -> dict:
    """Export ``model`` (a loaded transformers model in eval mode) to output_dir/model.onnx.

    Returns inputs, outputs, dynamic axes and the traced shapes; raises WizardError when the
    model cannot be called on config-built inputs or the exporter fails."""
    import torch

    trace, check = example_inputs(model, TRACE), example_inputs(model, CHECK)
    if not trace:
        raise WizardError(
            f"{type(model).__name__}.forward() takes none of the inputs the wizard can build "
            "from a config (input_ids, pixel_values, input_values, input_features, "
            "past_values).",
            "Write an ONNX config for this model (custom_onnx_configs).",
        )
    extra = call_extras(model)
    try:
        with torch.no_grad():
            probe = model(**trace, **extra)
    except Exception as error:
        raise WizardError(
            f"{type(model).__name__} does not run on inputs built from its config "
            f"({', '.join(trace)}): {first_line(error)}",
            "It needs inputs the wizard cannot build (processor output, placeholders).",
        ) from error
    output_names = [n for n in _tensor_outputs(probe) if n not in trace]  # no input renamed
    if not output_names:
        raise WizardError(f"{type(model).__name__} returns no tensors.", "Pick another task.")
    input_names = list(trace)
    axes = varying_axes(trace, check)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    args = tuple(trace[name] for name in input_names)
    # Outputs: batch always dynamic; other axes follow the check run's output shapes.
    with torch.no_grad():
        probe_check = model(**check, **extra)
    out_axes = {
        name: {
            axis: "batch_size" if axis == 0 else f"{name}_dim{axis}"
            for axis in range(probe[name].dim())
            if probe[name].shape[axis] != probe_check[name].shape[axis]
        }
        for name in output_names
    }
    size = sum(p.numel() * p.element_size() for p in model.parameters())
    options: dict[str, Any]
    if dynamo:
        dims: dict[str, Any] = {}
        specs = []
        for name in input_names:
            spec = {}
            for axis, label in axes[name].items():
                dims.setdefault(label, torch.export.Dim.AUTO)
                spec[axis] = dims[label]
            specs.append(spec)
        options = {"dynamic_shapes": (tuple(specs),), "external_data": size > TWO_GB * 0.9}
    else:
        options = {"dynamic_axes": {**axes, **out_axes}}
    from onnx_wizard.fallback.child import export_graph

    wrapper = _wrapper(model, input_names, output_names, extra)
    path = out / "model.onnx"
    try:
        export_graph(wrapper, args, path, input_names, output_names, opset, dynamo, options)
    except Exception as error:
        kind = "dynamo" if dynamo else "TorchScript"
        raise WizardError(
            f"torch.onnx.export ({kind}) could not export {type(model).__name__}: "
            f"{first_line(error)}",
            "Try the other torch.onnx route or a related ONNX config; the log has the error.",
        ) from error
    model.config.save_pretrained(out)
    return {
        "inputs": input_names,
        "outputs": output_names,
        "dynamic_axes": {k: {str(a): v for a, v in d.items()} for k, d in axes.items()},
        "traced_shapes": {k: list(v.shape) for k, v in trace.items()},
    }


__all__ = ["call_extras", "export_model"]
