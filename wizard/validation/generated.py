"""Generated inputs for validating a model folder that has no tokenizer (a training checkpoint,
a model whose tokenizer lives elsewhere): optimum's ONNX config's dummy inputs, at shapes other
than the ones the export was traced with, so dynamic axes are really exercised.

Used by the validation child only; imports optimum and numpy when called.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# optimum traces with batch 2 and sequence length 16 (DEFAULT_DUMMY_SHAPES); validating at the
# same shapes would hide an axis that was frozen during tracing.
BATCH, LENGTH = 3, 11
PADDED = 4  # the last row ends in this many padding positions, so the attention mask matters
SEED = 0
TEXT_KEYS = ("input_ids", "attention_mask", "token_type_ids")
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "vocab.json",
    "spiece.model",
    "sentencepiece.bpe.model",
    "tokenizer.model",
)


def has_tokenizer_files(folder: Path) -> bool:
    """Whether ``folder`` holds any file a transformers tokenizer is loaded from."""
    return any((folder / name).is_file() for name in TOKENIZER_FILES)


def _vocab_size(config: Any) -> int:
    size = getattr(config, "vocab_size", None)
    if not isinstance(size, int):
        size = getattr(getattr(config, "text_config", None), "vocab_size", None)
    return size if isinstance(size, int) and size > 0 else 100


def generated_inputs(config: Any, task: str) -> tuple[dict[str, Any], str]:
    """Token ids, attention mask (and token types) for ``task``, and how they were made."""
    import numpy as np

    dummy: dict[str, Any] = {}
    source = "random token ids"
    try:
        import optimum.exporters.onnx.model_configs  # noqa: F401  (registers the configs)
        from optimum.exporters.tasks import TasksManager

        constructor = TasksManager.get_exporter_config_constructor(
            "onnx", model_type=config.model_type, task=task, library_name="transformers"
        )
        onnx_config = constructor(config, task=task)
        dummy = onnx_config.generate_dummy_inputs(
            framework="np", batch_size=BATCH, sequence_length=LENGTH
        )
        source = "the ONNX config's dummy inputs"
    except Exception:  # a model type optimum has no config for: plain random ids
        dummy = {}
    inputs: dict[str, Any] = {
        key: np.asarray(dummy[key], np.int64) for key in TEXT_KEYS if key in dummy
    }
    if "input_ids" not in inputs or inputs["input_ids"].shape != (BATCH, LENGTH):
        rng = np.random.default_rng(SEED)
        inputs = {"input_ids": rng.integers(0, _vocab_size(config), (BATCH, LENGTH))}
    inputs["input_ids"] = inputs["input_ids"].astype(np.int64)
    mask = np.ones((BATCH, LENGTH), np.int64)
    mask[-1, LENGTH - PADDED :] = 0  # right padding, as on the real-text path
    inputs["attention_mask"] = mask
    inputs.setdefault("token_type_ids", np.zeros_like(inputs["input_ids"]))
    description = (
        f"generated inputs: {source} at batch {BATCH} x {LENGTH} tokens (the export was traced "
        f"at 2 x 16), the last row padded on the right by {PADDED}; the model folder has no "
        "tokenizer, so no real text was used"
    )
    return inputs, description


def generated_targets(config: Any, rows: int, length: int) -> list[list[int]]:
    """Decoder-side token ids for an encoder-decoder when there is no tokenizer to encode text."""
    import numpy as np

    rng = np.random.default_rng(SEED + 1)
    return [[int(t) for t in row] for row in rng.integers(0, _vocab_size(config), (rows, length))]
