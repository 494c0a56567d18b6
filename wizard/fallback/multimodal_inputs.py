"""Inputs for models that splice image or audio features into a text sequence.

Such models (LLaVA, PaliGemma, Qwen2-VL, BLIP-2, ...) expect placeholder tokens in input_ids that
match the features their vision or audio tower produces, and sometimes extra inputs (image sizes,
grid shapes, Q-Former ids). Child-process only: torch is imported inside functions.
"""

from __future__ import annotations

from typing import Any


def with_placeholders(model: Any, shape: Any, inputs: dict[str, Any], seed: int) -> dict[str, Any]:
    """``inputs`` completed for a multimodal model; unchanged for any other model."""
    return inputs
