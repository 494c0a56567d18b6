"""Config-built inputs for models that take more than ids, pixels or a waveform.

Tiny models built offline from transformers' config classes: a forecaster with static and time
features, the Audio Spectrogram Transformer, EnCodec, BROS (layout boxes) and the Decision
Transformer. Each must run on the inputs at the trace shapes and at the check shapes, with only
the axes the model lets vary changing; one goes through the fallback ladder end to end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from onnx_wizard.fallback.inputs import CHECK, TRACE, example_inputs, varying_axes

pytestmark = pytest.mark.slow

LAYERS = {"num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32}


def _runs(model: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The inputs at both shapes, after checking the model runs on each."""
    import torch

    from onnx_wizard.fallback.generic import call_extras

    model.eval()
    trace, check = example_inputs(model, TRACE), example_inputs(model, CHECK)
    with torch.no_grad():
        for inputs in (trace, check):
            model(**inputs, **call_extras(model))
    return trace, check


def _bros() -> Any:
    from transformers import BrosConfig, BrosModel

    # BrosConfig derives its box embedding sizes from hidden_size: 64 is the least that works.
    return BrosModel(BrosConfig(hidden_size=64, vocab_size=100, **LAYERS))


def test_forecaster_gets_its_history_features_and_future_window() -> None:
    import torch
    from transformers import TimeSeriesTransformerConfig, TimeSeriesTransformerModel

    config = TimeSeriesTransformerConfig(
        prediction_length=4, context_length=6, lags_sequence=[1, 2, 3], num_time_features=2,
        num_static_categorical_features=1, cardinality=[5], embedding_dimension=[2],
        num_static_real_features=1, d_model=16, encoder_layers=1, decoder_layers=1,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=16,
        decoder_ffn_dim=16,
    )  # fmt: skip
    trace, check = _runs(TimeSeriesTransformerModel(config))
    assert trace["past_values"].shape == (2, 6 + 3)  # context plus the largest lag
    assert trace["past_time_features"].shape == (2, 9, 2)
    assert trace["future_time_features"].shape == (2, 4, 2)
    assert trace["static_categorical_features"].dtype == torch.int64
    assert int(trace["static_categorical_features"].max()) < 5
    # The window lengths are the model's own: only the batch may become dynamic.
    assert all(axes == {0: "batch_size"} for axes in varying_axes(trace, check).values())


def test_spectrogram_transformer_gets_a_fixed_length_filterbank() -> None:
    from transformers import ASTConfig, ASTForAudioClassification

    config = ASTConfig(hidden_size=16, max_length=32, num_mel_bins=16, **LAYERS)
    trace, check = _runs(ASTForAudioClassification(config))
    assert trace["input_values"].shape == (2, 32, 16) and check["input_values"].shape[0] == 3
    assert varying_axes(trace, check)["input_values"] == {0: "batch_size"}


def test_codec_gets_channels_first_audio() -> None:
    from transformers import EncodecConfig, EncodecModel

    config = EncodecConfig(
        hidden_size=8, num_filters=4, upsampling_ratios=[2, 2], codebook_size=16,
        codebook_dim=8, num_lstm_layers=1, target_bandwidths=[1.5], sampling_rate=400,
    )  # fmt: skip
    trace, check = _runs(EncodecModel(config))
    assert trace["input_values"].shape[:2] == (2, 1)  # mono: [batch, channels, samples]
    assert set(varying_axes(trace, check)["input_values"]) == {0, 2}


def test_layout_model_gets_ordered_boxes() -> None:
    trace, check = _runs(_bros())
    boxes = trace["bbox"]
    assert boxes.shape == (2, 9, 8)  # BROS: four corner points per token
    assert bool((boxes[..., 2] >= boxes[..., 0]).all()) and bool(
        (boxes[..., 5] >= boxes[..., 1]).all()
    )
    assert varying_axes(trace, check)["bbox"] == {0: "batch_size", 1: "sequence_length"}


def test_layoutlm_gets_integer_boxes_its_embeddings_hold() -> None:
    import torch
    from transformers import LayoutLMConfig, LayoutLMModel

    config = LayoutLMConfig(hidden_size=16, vocab_size=100, **LAYERS)
    trace, _ = _runs(LayoutLMModel(config))
    boxes = trace["bbox"]  # x0 y0 x1 y1, widths and heights are embedded too
    assert boxes.dtype == torch.int64 and int(boxes.max()) < config.max_2d_position_embeddings
    assert bool((boxes[..., 2] >= boxes[..., 0]).all()) and bool(
        (boxes[..., 3] >= boxes[..., 1]).all()
    )


def test_decision_transformer_gets_a_trajectory() -> None:
    from transformers import DecisionTransformerConfig, DecisionTransformerModel

    config = DecisionTransformerConfig(
        state_dim=5, act_dim=3, hidden_size=16, n_layer=1, n_head=2, n_inner=32, max_ep_len=50
    )
    trace, check = _runs(DecisionTransformerModel(config))
    assert varying_axes(trace, check)["states"] == {0: "batch_size", 1: "sequence_length"}
    assert trace["states"].shape == (2, 9, 5) and trace["actions"].shape == (2, 9, 3)
    assert int(trace["timesteps"].max()) < 50


def test_layout_model_exports_and_validates_end_to_end(tmp_path: Path) -> None:
    from onnx_wizard.fallback.ladder import first_validated
    from onnx_wizard.fallback.routes import TORCHSCRIPT

    winner, tries = first_validated(_bros().eval(), "feature-extraction", tmp_path, (TORCHSCRIPT,))
    assert winner is not None, tries
    assert winner["validation"]["passed"] and winner["validation"]["checks"]
    assert winner["dynamic_axes"]["bbox"] == {"0": "batch_size", "1": "sequence_length"}
    # Validation fed 3 rows of 13 tokens and their boxes; the trace saw 2 rows of 9.
    assert "bbox [3, 13, 8]" in winner["validation"]["inputs_description"]


def test_graph_model_gets_nodes_edges_and_distances() -> None:
    from transformers import GraphormerConfig, GraphormerModel

    config = GraphormerConfig(
        hidden_size=16, embedding_dim=16, ffn_embedding_dim=16, num_attention_heads=2,
        num_hidden_layers=1,
    )  # fmt: skip
    trace, check = _runs(GraphormerModel(config))
    assert trace["input_edges"].shape == (2, 9, 9, config.multi_hop_max_dist, 3)
    assert trace["attn_bias"].shape == (2, 10, 10)  # the graph token comes first
    assert int(trace["spatial_pos"].min()) >= 1  # 0 marks padding
    assert varying_axes(trace, check)["spatial_pos"] == {
        0: "batch_size", 1: "num_nodes", 2: "num_nodes",
    }  # fmt: skip
