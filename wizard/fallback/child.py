"""The heavy half of the fallback routes: export a model optimum has no ONNX config for.

Two routes: ``export_with_torch_onnx`` (``torch.onnx.export``, TorchScript or dynamo, inputs from
the model's own tokenizer, optimum's input/output names) and ``export_with_related_config``
(optimum's ``main_export`` with the ONNX config of a related supported type). Both run inside
the export child process (``run_job`` is its entry point); torch, transformers and optimum are
imported inside the functions so that importing this module stays light.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from onnx_wizard.errors import WizardError, first_line
from onnx_wizard.fallback.routes import AUTO, DYNAMO, RELATED, TORCH_TASKS, TORCHSCRIPT, route_name

DEFAULT_OPSET = 18  # optimum's default; scaled_dot_product_attention needs at least 14
# Two sentences of different lengths: the batch is padded, so the attention mask really masks,
# and the example's length differs from validation's sentences, which then test other shapes.
EXAMPLE_TEXTS = ("The quick brown fox jumps over the lazy dog.", "Hello world!")
EXAMPLE_QUESTIONS = ("What jumps over the dog?", "Who is greeted?")
AUTO_CLASSES = {
    "feature-extraction": "AutoModel",
    "text-classification": "AutoModelForSequenceClassification",
    "fill-mask": "AutoModelForMaskedLM",
    "token-classification": "AutoModelForTokenClassification",
    "question-answering": "AutoModelForQuestionAnswering",
    "text-generation": "AutoModelForCausalLM",
}
OUTPUTS = {  # optimum's output names per task
    "feature-extraction": ("last_hidden_state",),
    "question-answering": ("start_logits", "end_logits"),
}
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
BATCH, SEQUENCE = "batch_size", "sequence_length"
TWO_GB = 2 * 1024**3


def _stage(events: Any, stage: str, label: str) -> None:
    if events is not None:
        events.stage(stage, label)


def export_graph(
    wrapper: Any,
    args: tuple[Any, ...],
    path: Path,
    input_names: list[str],
    output_names: list[str],
    opset: int,
    dynamo: bool,
    options: dict[str, Any],
) -> None:
    """``torch.onnx.export`` of one graph, with masks TorchScript can trace; errors propagate
    (each route words its own message)."""
    import torch

    with contextlib.nullcontext() if dynamo else _traceable_masks():
        torch.onnx.export(
            wrapper,
            args,
            str(path),
            input_names=input_names,
            output_names=output_names,
            opset_version=opset,
            dynamo=dynamo,
            **options,
        )


def _result(
    route: str, related: str | None, task: str, out: Path, example: list[int] | None
) -> dict[str, Any]:
    """What a route returns, read back from the model.onnx it wrote (opset, names, axes)."""
    import onnx

    model = onnx.load(str(out / "model.onnx"), load_external_data=False)
    shapes = {
        i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
        for i in model.graph.input
    }
    return {
        "route": route_name(route, related),
        "route_id": route,
        "related_model_type": related,
        "opset": next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0),
        "task": task,
        "inputs": list(shapes),
        "shapes": shapes,  # input name -> dims, a name where the axis is dynamic
        "outputs": [o.name for o in model.graph.output],
        "example_shape": example,  # the traced example's [batch, sequence] (torch.onnx only)
        "files": sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()),
        "notes": [],
    }


def _check_task(task: str) -> str:
    if task.endswith("-with-past"):
        raise WizardError(
            f"The torch.onnx route exports {task.removesuffix('-with-past')} without the KV "
            f"cache; it cannot export {task!r}.",
            f"Export with task {task.removesuffix('-with-past')!r} (slower generation), or use "
            "optimum with a related architecture's ONNX config for a cached export.",
        )
    if task not in AUTO_CLASSES:
        raise WizardError(
            f"The torch.onnx route handles text tasks only ({', '.join(TORCH_TASKS)}), not "
            f"{task!r}.",
            "Export with optimum and a related architecture's ONNX config "
            "(custom_onnx_configs), or write an ONNX config for this model.",
        )
    return task


def _load(model_path: str, task: str, opset: int, trust_remote_code: bool) -> tuple[Any, Any]:
    import torch
    import transformers

    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(
            model_path, trust_remote_code=trust_remote_code
        )
    except (OSError, ValueError, KeyError) as error:
        raise WizardError(
            f"The model at {model_path} has no tokenizer to build example inputs from "
            f"({first_line(error)}).",
            "Save its tokenizer into the folder (tokenizer.save_pretrained(folder)).",
        ) from error
    if tokenizer.pad_token is None:  # decoders often have none; batch 2 needs padding
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    tokenizer.padding_side = "right"
    kwargs: dict[str, Any] = {"dtype": torch.float32, "trust_remote_code": trust_remote_code}
    if task == "text-generation":
        kwargs["use_cache"] = False
    if opset < 14:  # SDPA has no ONNX form before opset 14; eager attention exports anywhere
        kwargs["attn_implementation"] = "eager"
    auto_class = getattr(transformers, AUTO_CLASSES[task])
    try:
        model = auto_class.from_pretrained(model_path, **kwargs)
    except ValueError as error:
        raise WizardError(
            f"transformers has no {AUTO_CLASSES[task]} for this model, so it cannot be "
            f"exported for {task!r} ({first_line(error)}).",
            "Pick a task whose head the model has (see `onnx-wizard inspect`).",
        ) from error
    return model.eval(), tokenizer


def _example(tokenizer: Any, task: str, accepts: set[str]) -> dict[str, Any]:
    pairs = (list(EXAMPLE_QUESTIONS),) if task == "question-answering" else ()
    encoded = tokenizer(*pairs, list(EXAMPLE_TEXTS), padding=True, return_tensors="pt")
    # optimum's names, and only the inputs both the tokenizer gives and forward() takes.
    return {name: encoded[name] for name in INPUTS if name in encoded and name in accepts}


def _wrapper(
    model: Any, input_names: list[str], output_names: list[str], extra: dict[str, Any]
) -> Any:
    """A module taking the inputs positionally and returning the outputs as a tuple, in order."""
    import torch

    class Wrapper(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: Any) -> tuple[Any, ...]:
            out = self.model(**dict(zip(input_names, tensors, strict=True)), **extra)
            return tuple(out[name] for name in output_names)

    # A fresh module is in training mode, and the exporter restores that mode recursively
    # afterwards: without eval() the wrapped model would be left with dropout switched on.
    return Wrapper().eval()


@contextlib.contextmanager
def _traceable_masks() -> Iterator[None]:
    """Swap in optimum's vmap-free attention-mask builders while tracing, then restore.

    transformers >= 4.53 builds causal masks with torch.vmap, which TorchScript cannot trace
    ("RuntimeError: unordered_map::at" on GPT-2); optimum patches the same registry for its own
    decoder exports. Encoders do not use this registry, so for them it changes nothing."""
    try:
        from optimum.exporters.onnx import model_patcher as patcher
        from transformers import masking_utils
    except ImportError:  # without optimum, trace as is; a decoder then fails with a clear error
        yield
        return
    registry = masking_utils.ALL_MASK_ATTENTION_FUNCTIONS
    saved = {name: registry[name] for name in ("sdpa", "eager")}
    packed = masking_utils.find_packed_sequence_indices
    registry.register("sdpa", patcher.sdpa_mask_without_vmap)
    registry.register("eager", patcher.eager_mask_without_vmap)
    # It uses torch.diff, untraceable too; with right padding there are no packed sequences.
    masking_utils.find_packed_sequence_indices = patcher.find_packed_sequence_indices_patched
    try:
        yield
    finally:
        for name, function in saved.items():
            registry.register(name, function)
        masking_utils.find_packed_sequence_indices = packed


def export_with_torch_onnx(
    model_path: str,
    output_dir: str,
    task: str,
    *,
    opset: int | None = None,
    dynamo: bool = False,
    events: Any = None,
    trust_remote_code: bool = False,
) -> dict[str, Any]:
    """Export ``model_path`` for ``task`` with ``torch.onnx.export`` into ``output_dir``.

    Writes model.onnx (optimum's input and output names, batch and sequence axes dynamic),
    config.json and the tokenizer files. Returns route, opset, task, inputs, outputs,
    example_shape, files and notes. Raises WizardError for what the user can change."""
    import torch

    task, opset = _check_task(task), opset or DEFAULT_OPSET
    route = DYNAMO if dynamo else TORCHSCRIPT
    if dynamo:
        try:
            import onnxscript  # noqa: F401  (the dynamo exporter's converter)
        except ImportError as error:
            raise WizardError(
                "The dynamo route of torch.onnx.export needs the onnxscript package, which "
                "is not installed.",
                "pip install onnxscript   (or take the TorchScript route)",
            ) from error
    _stage(events, "load", "loading the model and its tokenizer for torch.onnx.export")
    model, tokenizer = _load(model_path, task, opset, trust_remote_code)
    if getattr(model.config, "is_encoder_decoder", False):
        raise WizardError(
            "The torch.onnx route exports one graph from the tokenizer's inputs; an "
            "encoder-decoder needs decoder inputs and a split into several files.",
            "Export it with optimum and ONNX configs for the encoder and the decoder "
            "(custom_onnx_configs and fn_get_submodels).",
        )
    accepts = set(inspect.signature(model.forward).parameters)
    example = _example(tokenizer, task, accepts)
    input_names = list(example)
    output_names = list(OUTPUTS.get(task, ("logits",)))
    extra: dict[str, Any] = {"return_dict": True}
    if "use_cache" in accepts and task == "text-generation":
        extra["use_cache"] = False
    with torch.no_grad():
        probe = model(**example, **extra)
    missing = [name for name in output_names if name not in probe]
    if missing:
        raise WizardError(
            f"{type(model).__name__} returns {', '.join(probe.keys())}, not "
            f"{', '.join(missing)}, so it cannot be exported under optimum's names for {task!r}.",
            "Pick the task that matches the model's head.",
        )
    wrapper = _wrapper(model, input_names, output_names, extra)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "model.onnx"
    args = tuple(example[name] for name in input_names)
    # Classification logits are [batch, labels]; every other output here is [batch, seq, ...].
    out_axes = {0: BATCH} if task == "text-classification" else {0: BATCH, 1: SEQUENCE}
    size = sum(p.numel() * p.element_size() for p in model.parameters())
    _stage(events, "export", f"exporting with {route_name(route)}, opset {opset}")
    if dynamo:
        batch, seq = torch.export.Dim(BATCH), torch.export.Dim(SEQUENCE)
        options: dict[str, Any] = {
            # forward(*tensors) is one structured argument: one spec per tensor inside it
            "dynamic_shapes": (tuple({0: batch, 1: seq} for _ in input_names),),
            "external_data": size > TWO_GB * 0.9,
        }
    else:
        axes = {name: {0: BATCH, 1: SEQUENCE} for name in input_names}
        options = {"dynamic_axes": {**axes, **dict.fromkeys(output_names, out_axes)}}
    try:
        export_graph(wrapper, args, path, input_names, output_names, opset, dynamo, options)
    except Exception as error:
        other = "the TorchScript route" if dynamo else "the dynamo route (needs onnxscript)"
        raise WizardError(
            f"{route_name(route)} could not export {type(model).__name__} at opset {opset}: "
            f"{first_line(error)}",
            f"Try {other}, a newer --opset, or optimum with a related architecture's ONNX "
            "config; the full error is in the log.",
        ) from error
    _stage(events, "post_process", "saving config.json and the tokenizer next to model.onnx")
    model.config.save_pretrained(out)
    tokenizer.save_pretrained(out)
    if task == "text-generation" and getattr(model, "generation_config", None) is not None:
        model.generation_config.save_pretrained(out)
    result = _result(route, None, task, out, list(args[0].shape))
    dropped = [name for name in input_names if name not in result["inputs"]]
    if dropped:  # the trace found them unused: the model ignores them, or a branch hid them
        result["notes"].append(f"the exported graph has no {', '.join(dropped)} input")
    fixed = [n for n, dims in result["shapes"].items() if any(isinstance(d, int) for d in dims[:2])]
    if fixed:
        result["notes"].append(f"batch or sequence axis is fixed, not dynamic: {', '.join(fixed)}")
    return result


def _float_dtype(main_export_kwargs: dict[str, Any]) -> str:
    return {"fp16": "fp16", "bf16": "bf16"}.get(str(main_export_kwargs.get("dtype")), "fp32")


def export_with_related_config(
    model_path: str,
    output_dir: str,
    task: str,
    related_model_type: str,
    *,
    opset: int | None = None,
    events: Any = None,
    trust_remote_code: bool = False,
    main_export_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Export with optimum's ``main_export``, describing the model with the ONNX config of
    ``related_model_type`` (``custom_onnx_configs={"model": ...}``). ``main_export_kwargs`` are
    passed on (dtype, device, optimize, ...); the path, output, task and opset given here win.
    Returns the same kind of dict as ``export_with_torch_onnx``."""
    import transformers
    from optimum.exporters.onnx import main_export
    from optimum.exporters.onnx import model_configs as _registers  # noqa: F401
    from optimum.exporters.tasks import TasksManager

    related = related_model_type
    _stage(events, "load", f"loading the model and the ONNX config of {related}")
    try:
        constructor = TasksManager.get_exporter_config_constructor(
            exporter="onnx", model_type=related, task=task, library_name="transformers"
        )
    except (ValueError, KeyError) as error:
        raise WizardError(
            f"optimum has no ONNX config of {related!r} for task {task!r}: {first_line(error)}",
            "Pick another related type, or the torch.onnx route.",
        ) from error
    config = transformers.AutoConfig.from_pretrained(
        model_path, trust_remote_code=trust_remote_code
    )
    if getattr(config, "is_encoder_decoder", False):
        raise WizardError(
            "An encoder-decoder exports as several files, each needing its own ONNX config, so "
            "one related config cannot describe it.",
            "Write ONNX configs for the encoder and the decoder (custom_onnx_configs and "
            "fn_get_submodels).",
        )
    kwargs = dict(main_export_kwargs or {})
    onnx_config = constructor(config, int_dtype="int64", float_dtype=_float_dtype(kwargs))
    try:  # reads the settings the config's dummy inputs need (hidden size, heads, vocab, ...)
        onnx_config.generate_dummy_inputs(framework="pt")
    except (AttributeError, KeyError, ValueError, TypeError) as error:
        raise WizardError(
            f"The ONNX config of {related} cannot describe this {config.model_type} model: "
            f"{first_line(error)}",
            "Pick another related type, or the torch.onnx route.",
        ) from error
    kwargs.update(
        model_name_or_path=model_path,
        output=output_dir,
        task=task,
        custom_onnx_configs={"model": onnx_config},
        library_name="transformers",
        do_validation=False,  # the wizard validates on real inputs afterwards
        trust_remote_code=trust_remote_code,
    )
    if opset is not None:
        kwargs["opset"] = opset
    _stage(events, "export", f"exporting with optimum and the ONNX config of {related}")
    try:
        main_export(**kwargs)
    except ValueError as error:  # optimum's clear refusals, e.g. inputs the model lacks
        raise WizardError(
            f"optimum could not export this {config.model_type} model with the ONNX config of "
            f"{related}: {first_line(error)}",
            "Pick another related type, or the torch.onnx route.",
        ) from error
    return _result(RELATED, related, task, Path(output_dir), None)


def run_job(job: dict[str, Any], events: Any = None) -> dict[str, Any]:
    """Run the route in ``job["fallback"]`` (see ``fallback.fallback_job``) for the export child.

    The model, output and options come from ``job["main_export"]``, as for the optimum route.
    Validate the result with its ``task``: the torch.onnx route drops ``-with-past``."""
    spec, kwargs = job["fallback"], dict(job["main_export"])
    model_path = str(job.get("model_path") or kwargs["model_name_or_path"])
    output = str(kwargs.pop("output"))
    task = str(spec.get("task") or kwargs["task"])
    opset = spec.get("opset") or kwargs.get("opset")
    remote = bool(kwargs.get("trust_remote_code", False))
    for key in ("model_name_or_path", "task", "opset", "trust_remote_code"):
        kwargs.pop(key, None)
    if spec["route"] == RELATED:
        return export_with_related_config(
            model_path,
            output,
            task,
            str(spec["related_model_type"]),
            opset=opset,
            events=events,
            trust_remote_code=remote,
            main_export_kwargs=kwargs,
        )
    if spec["route"] == AUTO:
        from onnx_wizard.fallback.ladder import run_ladder

        order = tuple(spec.get("order") or ()) or None
        return run_ladder(
            model_path, output, task, order=order, events=events, trust_remote_code=remote,
            opset=opset,
        )  # fmt: skip
    if spec["route"] in (TORCHSCRIPT, DYNAMO) and task.endswith("-with-past"):
        # One torch.onnx route, with the KV cache when that validates: the ladder on one rung.
        from onnx_wizard.fallback.ladder import run_ladder

        return run_ladder(
            model_path, output, task, order=(spec["route"],), events=events,
            trust_remote_code=remote, opset=opset,
        )  # fmt: skip
    if spec["route"] not in (TORCHSCRIPT, DYNAMO):
        raise WizardError(
            f"Unknown fallback route {spec['route']!r}.",
            f"Use one of {RELATED}, {TORCHSCRIPT}, {DYNAMO}.",
        )
    result = export_with_torch_onnx(
        model_path,
        output,
        task,
        opset=opset,
        dynamo=spec["route"] == DYNAMO,
        events=events,
        trust_remote_code=remote,
    )
    # optimum's options (dtype, device, optimize, shapes, ...) mean nothing to torch.onnx here.
    ignored = sorted(k for k in kwargs if k not in ("do_validation", "library_name"))
    if ignored:
        result["notes"].append(f"options not applied by this route: {', '.join(ignored)}")
    return result


__all__ = ["export_with_related_config", "export_with_torch_onnx", "run_job"]
