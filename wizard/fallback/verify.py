"""Validate an export of any model against PyTorch on config-built inputs at untraced shapes.

Covers the three layouts the routes write: one graph (model.onnx), a decoder with its KV cache
(model.onnx with past_key_values inputs: an empty-cache step, then one token with the cache),
and the encoder-decoder split (encoder_model.onnx, then decoder_model(_merged) and
decoder_with_past_model the same two steps). Inputs come from ``inputs.CHECK``, never the traced
shapes. Comparisons reuse the wizard's ``Validation`` (tolerances, report). Child-process only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from onnx_wizard.fallback.inputs import CHECK, example_inputs
from onnx_wizard.validation.compare import SINGLE, STEP1, STEP2, Arrays, Validation
from onnx_wizard.validation.report import ValidationReport

DECODERS = ("decoder_model_merged.onnx", "decoder_model.onnx")


def _numpy(tensors: dict[str, Any]) -> Arrays:
    return {k: v.numpy() for k, v in tensors.items()}


def _torch(arrays: Arrays) -> dict[str, Any]:
    import torch

    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}


def _refs(model: Any, **kwargs: Any) -> tuple[Arrays, Any]:
    import torch

    from onnx_wizard.fallback.inputs import forward_parameters
    from onnx_wizard.validation.reference import torch_refs

    accepts = forward_parameters(model)
    kwargs = {k: v for k, v in kwargs.items() if k in accepts or k == "return_dict"}
    with torch.no_grad():
        out = model(**kwargs)
    try:
        return torch_refs(out), out
    except (AttributeError, TypeError, ValueError):
        # A cache layout torch_refs does not know (GPT-BigCode fuses key and value): compare
        # the other outputs; the cache outputs are then listed as not validated.
        return {k: v.detach().float().numpy() for k, v in out.items() if hasattr(v, "detach")}, out


def _present_as_past(got: Arrays) -> Arrays:
    return {
        k.replace("present", "past_key_values", 1): v
        for k, v in got.items()
        if k.startswith("present.")
    }


def verify_export(model: Any, folder: str | Path, task: str) -> ValidationReport:
    """Compare every file in ``folder`` with ``model`` (fp32, eval) at untraced shapes."""
    folder = Path(folder)
    val = Validation(folder, model.config, task, None)
    files = {p.name for p in folder.glob("*.onnx")}
    check = _numpy(example_inputs(model, CHECK, seed=7))
    description = "config-built inputs at untraced shapes: " + ", ".join(
        f"{k} {list(v.shape)}" for k, v in check.items()
    )
    if "encoder_model.onnx" in files:
        _seq2seq(val, model, files, check)
    elif "model.onnx" in files:
        session = val.open("model.onnx")
        if session is not None:
            names = {i.name for i in session.get_inputs()}
            if any(n.startswith("past_key_values") for n in names):
                _decoder_with_cache(val, model, session, check)
            else:
                if "position_ids" in names and "input_ids" in check:
                    ids = check["input_ids"]
                    check["position_ids"] = np.broadcast_to(
                        np.arange(ids.shape[1]), ids.shape
                    ).copy()
                got = val.run("model.onnx", session, check)
                feeds = {k: v for k, v in check.items() if k in names}
                refs, _ = _refs(model, **_torch(feeds), **_plain(model))
                if got is not None:
                    val.compare("model", SINGLE, got, refs)
    else:
        val.errors.append(f"no model.onnx or encoder_model.onnx in {folder}")
    if not val.checks and not val.errors:
        val.errors.append("no ONNX output has a PyTorch output of the same name to compare")
    return val.report(description)


def _plain(model: Any) -> dict[str, Any]:
    from onnx_wizard.fallback.generic import call_extras

    return call_extras(model)


def _decoder_with_cache(val: Validation, model: Any, session: Any, check: Arrays) -> None:
    """Step 1 on an empty cache, step 2 with one new token and each side's own cache."""
    ids = check["input_ids"]
    rows, length = ids.shape
    mask = np.ones_like(ids)  # no padding: positions then agree whatever computes them
    positions = np.broadcast_to(np.arange(length), ids.shape).copy()
    step1 = {"input_ids": ids, "attention_mask": mask, "position_ids": positions}
    got1 = val.run("model.onnx", session, step1)
    refs1, out1 = _refs(model, **_torch(step1), use_cache=True, return_dict=True)
    if got1 is None:
        return
    val.compare("model", STEP1, got1, refs1)
    token = np.argmax(refs1["logits"][:, -1:, :], axis=-1).astype(np.int64)
    step2 = {
        "input_ids": token,
        "attention_mask": np.ones((rows, length + 1), np.int64),
        "position_ids": np.full_like(token, length),
    }
    got2 = val.run("model.onnx", session, {**step2, **_present_as_past(got1)})
    refs2, _ = _refs(
        model, **_torch(step2), past_key_values=out1.past_key_values, use_cache=True,
        return_dict=True,
    )  # fmt: skip
    if got2 is not None:
        val.compare("model", STEP2, got2, refs2)


def _seq2seq(val: Validation, model: Any, files: set[str], check: Arrays) -> None:
    import torch

    decoder_ids = check.pop("decoder_input_ids", None)
    check.pop("decoder_attention_mask", None)
    session = val.open("encoder_model.onnx")
    if session is None:
        return
    enc_names = {i.name for i in session.get_inputs()}
    enc_inputs = {k: v for k, v in check.items() if k in enc_names}
    got_enc = val.run("encoder_model.onnx", session, enc_inputs)
    with torch.no_grad():
        torch_enc = model.get_encoder()(**_torch(enc_inputs), return_dict=True)
    if got_enc is None:
        return
    val.compare("encoder_model", SINGLE, got_enc, {"last_hidden_state": torch_enc[0].numpy()})
    if decoder_ids is None:
        start = getattr(model.config, "decoder_start_token_id", None) or 0
        decoder_ids = np.full((len(next(iter(check.values()))), 3), start, np.int64)
    mask = check.get("attention_mask")
    step1: Arrays = {
        "input_ids": decoder_ids,
        "encoder_hidden_states": got_enc["last_hidden_state"],
        "use_cache_branch": np.array([False]),
    }
    step2: Arrays = {"encoder_hidden_states": got_enc["last_hidden_state"]}
    step2["use_cache_branch"] = np.array([True])
    if mask is not None:
        step1["encoder_attention_mask"] = step2["encoder_attention_mask"] = mask
    extra = {"encoder_outputs": torch_enc, "use_cache": True, "return_dict": True}
    if mask is not None:
        extra["attention_mask"] = _torch({"m": mask})["m"]
    refs1, out1 = _refs(model, decoder_input_ids=_torch({"d": decoder_ids})["d"], **extra)
    token = np.argmax(refs1["logits"][:, -1:, :], axis=-1).astype(np.int64)
    step2["input_ids"] = token
    refs2, _ = _refs(
        model, decoder_input_ids=_torch({"t": token})["t"],
        past_key_values=out1.past_key_values, **extra,
    )  # fmt: skip
    cache: Arrays | None = None
    for name in (f for f in DECODERS if f in files):
        session = val.open(name)
        got = val.run(name, session, step1) if session is not None else None
        if session is None or got is None:
            continue
        val.compare(name.removesuffix(".onnx"), STEP1, got, refs1)
        cache = cache or _present_as_past(got)
        if any(i.name.startswith("past_key_values") for i in session.get_inputs()):
            got2 = val.run(name, session, {**step2, **_present_as_past(got)})
            if got2 is not None:  # the merged decoder's cross-attention presents are dummies
                val.compare(name.removesuffix(".onnx"), STEP2, got2, refs2, skip=".encoder.")
    name = "decoder_with_past_model.onnx"
    if name in files and cache is not None:
        session = val.open(name)
        got2 = val.run(name, session, {**step2, **cache}) if session is not None else None
        if got2 is not None:
            val.compare(name.removesuffix(".onnx"), STEP2, got2, refs2)


def generate_with_cache(folder: str | Path, input_ids: Any, new_tokens: int) -> list[list[int]]:
    """Greedy decoding with the exported decoder's KV cache: one token in per step after the
    prompt. Raises when the graph has no cache inputs (it would not generate fast)."""
    import onnxruntime as ort

    session = ort.InferenceSession(
        str(Path(folder) / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    specs = {i.name: i for i in session.get_inputs()}
    pasts = [n for n in specs if n.startswith("past_key_values")]
    if not pasts:
        raise ValueError("model.onnx has no past_key_values inputs: it has no KV cache")
    ids = np.asarray(input_ids, np.int64)
    rows, length = ids.shape
    feeds: Arrays = {}
    for name in pasts:
        shape = [d if isinstance(d, int) else 0 for d in specs[name].shape]
        shape[0] = rows
        feeds[name] = np.zeros(shape, np.float32)
    tokens, step_ids, done = ids, ids, 0
    outputs = [o.name for o in session.get_outputs()]
    while done < new_tokens:
        total = tokens.shape[1]
        feeds["input_ids"] = step_ids
        feeds["attention_mask"] = np.ones((rows, total), np.int64)
        if "position_ids" in specs:
            feeds["position_ids"] = np.broadcast_to(
                np.arange(total - step_ids.shape[1], total), step_ids.shape
            ).copy()
        result = dict(
            zip(
                outputs,
                session.run(outputs, {k: v for k, v in feeds.items() if k in specs}),
                strict=True,
            )
        )
        step_ids = np.argmax(result["logits"][:, -1:, :], axis=-1).astype(np.int64)
        tokens = np.concatenate([tokens, step_ids], axis=1)
        feeds.update(_present_as_past(result))
        done += 1
    return tokens[:, length:].tolist()


__all__ = ["generate_with_cache", "verify_export"]
