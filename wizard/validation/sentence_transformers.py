"""Validation of a sentence-transformers export against its whole SentenceTransformer pipeline.

optimum exports such a model as the pipeline (Transformer, Pooling, Normalize, ...) with the
outputs below, so the PyTorch reference must be that pipeline too, not the bare transformer.
Child-process only; torch and sentence-transformers are imported inside functions.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from onnx_wizard.validation.compare import SINGLE, Arrays, Validation
from onnx_wizard.validation.reference import sentence_transformer, to_torch

ST_MARKERS = ("modules.json", "config_sentence_transformers.json")
ST_TASKS = ("feature-extraction", "sentence-similarity")
ST_OUTPUTS = ("token_embeddings", "sentence_embedding")


def validate_sentence_transformers(
    val: Validation, model_path: str, session: Any, inputs: Arrays, reference: Any = None
) -> str:
    """Compare model.onnx with the SentenceTransformer pipeline; returns the reference's words."""
    import torch

    try:
        import sentence_transformers  # noqa: F401  (only to tell a missing install apart)
    except ImportError:
        val.errors.append(
            "sentence-transformers is not installed, so the PyTorch reference for this "
            "sentence-transformers export cannot be built: pip install sentence-transformers"
        )
        return ""
    model = sentence_transformer(model_path, reference)
    # optimum traces forward({"input_ids", "attention_mask"}): feed exactly the graph's inputs.
    names = [i.name for i in session.get_inputs()]
    got = val.run("model.onnx", session, inputs)
    if got is None:
        return ""
    with torch.no_grad():
        out = model({n: to_torch(inputs[n]) for n in names if n in inputs})
    refs = {k: out[k].detach().float().numpy().copy() for k in ST_OUTPUTS if k in out}
    val.compare("model", SINGLE, got, refs)
    ours, theirs = got.get("sentence_embedding"), refs.get("sentence_embedding")
    if ours is not None and theirs is not None and ours.shape == theirs.shape and ours.ndim == 2:
        # How embeddings get used: the angle to PyTorch's, for the worst sentence of the batch.
        a, b = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
        cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
        worst = float(np.min(cos))
        note = f"cosine similarity min {worst:.8f} over the batch (1 - cos {1 - worst:.1e})"
        val.checks = [
            dataclasses.replace(c, detail="; ".join(filter(None, (c.detail, note))))
            if c.output == "sentence_embedding"
            else c
            for c in val.checks
        ]
    modules = ", ".join(type(m).__name__ for m in model)
    return (
        f"; PyTorch reference: the SentenceTransformer pipeline ({modules}) run on the same "
        f"{', '.join(names)}"
    )
