"""``onnx_wizard.export``: the Python API returns a result that loads and runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import onnx_wizard
from onnx_wizard.result import ExportResult

pytestmark = pytest.mark.slow


def tokenized(folder: Path, session: object) -> dict[str, np.ndarray]:
    """The model's own tokenizer output, for exactly the inputs the session asks for."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    encoded = tokenizer(["the quick brown fox"], return_tensors="np")
    feeds = {}
    for item in session.get_inputs():  # type: ignore[attr-defined]
        if item.name in encoded:
            feeds[item.name] = encoded[item.name].astype(np.int64)
        elif item.name.startswith("past_key_values"):
            # An empty cache (no past tokens): batch 1, 0 past positions, the model's sizes.
            shape = [d if isinstance(d, int) else 0 for d in item.shape]
            shape[0] = 1
            feeds[item.name] = np.zeros(shape, dtype=np.float32)
        elif item.name == "position_ids":
            length = encoded["input_ids"].shape[1]
            feeds[item.name] = np.arange(length, dtype=np.int64)[None, :]
    return feeds


@pytest.mark.parametrize("sample", ["bert-classifier", "gpt2", "t5"])
def test_export_returns_a_result_that_runs(sample: str, tmp_path: Path) -> None:
    from onnx_wizard.inspection.samples import ensure_sample

    output = tmp_path / "out"
    result = onnx_wizard.export(f"sample:{sample}", output)
    assert isinstance(result, ExportResult) and result.passed
    assert result.output == output and all(size > 0 for _, size in result.files)
    assert result.onnx_files and result.validation_rows()
    assert "optimum-cli export onnx" in result.command and str(output) in result.command
    assert Path(result.log).exists()
    assert str(output) in repr(result) and "<table>" in result._repr_html_()

    folder = ensure_sample(sample)
    session = result.session("encoder_model.onnx") if sample == "t5" else result.session()
    feeds = tokenized(folder, session)
    assert feeds.keys() == {i.name for i in session.get_inputs()}
    outputs = session.run(None, feeds)
    assert outputs and np.isfinite(outputs[0]).all()
    model = result.ort_model()
    assert type(model).__name__.startswith("ORTModelFor")
    if sample == "gpt2":
        from transformers import AutoTokenizer

        tokens = AutoTokenizer.from_pretrained(folder)("hello", return_tensors="pt")
        generated = model.generate(**tokens, max_new_tokens=3, do_sample=False)
        assert generated.shape[1] == tokens["input_ids"].shape[1] + 3


def test_unknown_option_is_refused_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="unknown option 'opsett'"):
        onnx_wizard.export("sample:bert-classifier", tmp_path / "out", opsett=14)
    assert not (tmp_path / "out").exists()


def test_failed_export_raises_with_the_diagnosis(tmp_path: Path) -> None:
    with pytest.raises(onnx_wizard.ExportFailed) as raised:
        onnx_wizard.export("sample:bert-classifier", tmp_path / "out", opset=13)
    assert "opset" in str(raised.value).lower()
    assert not (tmp_path / "out").exists()
