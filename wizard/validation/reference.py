"""The PyTorch side of validation: which fp32 reference model to run, and its outputs as arrays.

A reference model handed in (the one optimum just exported, kept by the export child) is used
as it is when it can stand in for a fresh fp32 CPU load; otherwise the model is loaded from disk.
Child-process only; torch, transformers and sentence-transformers are imported inside functions.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

Arrays = dict[str, np.ndarray]

AUTO_CLASSES = {
    "text-classification": "AutoModelForSequenceClassification",
    "feature-extraction": "AutoModel",
    "fill-mask": "AutoModelForMaskedLM",
    "token-classification": "AutoModelForTokenClassification",
    "question-answering": "AutoModelForQuestionAnswering",
    "text-generation": "AutoModelForCausalLM",
    "text2text-generation": "AutoModelForSeq2SeqLM",
}


def reusable(reference: Any, kind: type) -> bool:
    """Whether ``reference`` gives the same outputs as loading the model from disk in fp32 on
    the CPU: a ``kind`` module whose weights all sit on the CPU in float32. An fp16/bf16 load is
    never upcast in place: that would compare against rounded weights, not the saved ones."""
    import torch

    if not isinstance(reference, kind) or not isinstance(reference, torch.nn.Module):
        return False
    return all(
        tensor.device.type == "cpu"
        and (not tensor.is_floating_point() or tensor.dtype == torch.float32)
        for tensor in (*reference.parameters(), *reference.buffers())
    )


def _note(text: str) -> None:
    print(f"validation: {text}", file=sys.stderr)  # the export log says which reference ran


def transformers_model(model_path: str, base_task: str, reference: Any = None) -> Any:
    """The fp32 transformers model for ``base_task``, in eval mode: ``reference`` when usable."""
    import torch
    import transformers

    if reusable(reference, transformers.PreTrainedModel):
        _note(f"reusing the {type(reference).__name__} already in memory as the reference")
        return reference.eval()  # eval() only turns dropout off, as from_pretrained leaves it
    if reference is not None:
        _note("the model in memory is not an fp32 CPU transformers model; loading it again")
    auto_class = getattr(transformers, AUTO_CLASSES[base_task])
    return auto_class.from_pretrained(model_path, dtype=torch.float32).eval()


def sentence_transformer(model_path: str, reference: Any = None) -> Any:
    """The fp32 SentenceTransformer pipeline in eval mode: ``reference`` when usable."""
    from sentence_transformers import SentenceTransformer

    if reusable(reference, SentenceTransformer):
        _note("reusing the SentenceTransformer already in memory as the reference")
        return reference.eval()
    if reference is not None:
        _note("the model in memory is not an fp32 CPU SentenceTransformer; loading it again")
    # The model is run in fp32 as the reference, whatever dtype its weights were saved in.
    return SentenceTransformer(model_path, device="cpu").float().eval()


def torch_refs(output: Any) -> Arrays:
    """PyTorch's outputs under the names optimum gives them in ONNX (cache as present.N.*)."""
    refs: Arrays = {}
    for key, value in output.items():
        if key == "past_key_values" and value is not None:
            layers = value.to_legacy_cache() if hasattr(value, "to_legacy_cache") else value
            for i, layer in enumerate(layers):
                parts = ["key", "value"]
                if len(layer) == 4:  # encoder-decoder: self-attention, then cross-attention
                    parts = ["decoder.key", "decoder.value", "encoder.key", "encoder.value"]
                for part, tensor in zip(parts, layer, strict=True):
                    refs[f"present.{i}.{part}"] = tensor.detach().float().numpy().copy()
        elif hasattr(value, "detach"):
            refs[key] = value.detach().float().numpy().copy()
    return refs


def to_torch(array: np.ndarray) -> Any:
    import torch

    return torch.from_numpy(np.ascontiguousarray(array))
