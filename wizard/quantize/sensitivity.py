"""Which weight MatMuls lose the most to quantization, measured in one fp32 run (child side)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnx

from onnx_wizard.quantize.recipes import save


def rank_matmuls(source: Path, feeds: dict[str, np.ndarray], bits: int) -> list[str]:
    """Weight MatMuls, most sensitive first, by a one-pass per-node measure.

    One fp32 run exposes every weight MatMul's input; each node's error is then simulated in
    numpy: ``|A W - q(A) q(W)| / |A W|`` with the activations quantized per tensor (uint8, as
    dynamic quantization does) and the weights per output channel (int8) or per block of 32
    along K (4-bit, activations left in float). Cheap: no quantize+run trial per node."""
    import onnxruntime as ort

    model = onnx.load(str(source))
    weights = {t.name: t for t in model.graph.initializer}
    nodes = [
        n
        for n in model.graph.node
        if n.op_type == "MatMul" and n.input[1] in weights and len(weights[n.input[1]].dims) == 2
    ]
    if not nodes:
        return []
    known = {o.name for o in model.graph.output}
    for node in nodes:
        if node.input[0] not in known:
            model.graph.output.append(onnx.helper.make_empty_tensor_value_info(node.input[0]))
            known.add(node.input[0])
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "probe.onnx"
        save(model, path)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        values = dict(zip(names, session.run(None, feeds), strict=True))
    errors: dict[str, float] = {}
    for node in nodes:
        a = np.asarray(values[node.input[0]], dtype=np.float32).reshape(-1, 1)
        a = a.reshape(-1, int(weights[node.input[1]].dims[0]))
        w = onnx.numpy_helper.to_array(weights[node.input[1]]).astype(np.float32)
        exact = a @ w
        approx = (_fake_quant_activations(a) if bits == 8 else a) @ _fake_quant_weights(w, bits)
        errors[node.name] = float(
            np.linalg.norm(exact - approx) / max(float(np.linalg.norm(exact)), 1e-12)
        )
    return sorted(errors, key=errors.__getitem__, reverse=True)


def _fake_quant_activations(a: np.ndarray) -> np.ndarray:
    low, high = min(float(a.min()), 0.0), max(float(a.max()), 0.0)
    scale = (high - low) / 255 or 1.0
    zero = np.round(-low / scale)
    return (np.clip(np.round(a / scale) + zero, 0, 255) - zero) * scale


def _fake_quant_weights(w: np.ndarray, bits: int) -> np.ndarray:
    if bits == 8:
        scale = np.abs(w).max(axis=0, keepdims=True) / 127
        scale[scale == 0] = 1.0
        return np.round(w / scale) * scale
    rows = w.shape[0] - w.shape[0] % 32 or w.shape[0]
    blocks = w[:rows].reshape(-1, min(32, rows), w.shape[1])
    scale = np.abs(blocks).max(axis=1, keepdims=True) / 7
    scale[scale == 0] = 1.0
    out = w.copy()
    out[:rows] = (np.clip(np.round(blocks / scale), -8, 7) * scale).reshape(rows, w.shape[1])
    return out
