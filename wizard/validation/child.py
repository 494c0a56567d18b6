"""Child process that compares an ONNX export with its PyTorch model on real tokenizer inputs.

Usage: ``python -m onnx_wizard.validation.child --model DIR --onnx-dir DIR --task TASK [--atol X]
[--library transformers|sentence_transformers]``.
The engine only runs it as a child process (``onnx_wizard.validation.report.validate_export``); the
export child calls ``validate`` in-process with the model it just exported as the reference.
Logs go to stderr; the last stdout line is the report as one JSON object. The work is split:
``validation_compare`` (onnxruntime side), ``validation_reference`` (PyTorch side) and
``validation_st`` (sentence-transformers pipelines).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from onnx_wizard.validation.compare import SINGLE, STEP1, STEP2, Arrays, Validation, first_line
from onnx_wizard.validation.generated import (
    generated_inputs,
    generated_targets,
    has_tokenizer_files,
)
from onnx_wizard.validation.reference import (
    AUTO_CLASSES,
    to_torch,
    torch_refs,
    transformers_model,
)
from onnx_wizard.validation.report import LIBRARIES, ValidationReport
from onnx_wizard.validation.sentence_transformers import (
    ST_MARKERS,
    ST_OUTPUTS,
    ST_TASKS,
    validate_sentence_transformers,
)

# Everyday text, two sentences of different lengths so padding and the attention mask matter.
SENTENCES = (
    "The weather is lovely today, so we are taking the dog for a long walk in the park.",
    "I love this movie!",
)
QUESTIONS = ("Where are we walking the dog?", "What do I love?")
TARGETS = ("The weather is nice.", "I love it.")  # decoder side of encoder-decoder models
DECODER_TOKENS = 4  # decoder_start_token_id + 3 target tokens in step 1
STEP_FILES = ("model.onnx", "decoder_model_merged.onnx", "decoder_model.onnx")
KNOWN_FILES = {*STEP_FILES, "encoder_model.onnx", "decoder_with_past_model.onnx"}


def validate(
    model_path: str,
    onnx_dir: str,
    task: str,
    atol: float | None,
    library: str | None = None,
    *,
    reference: Any = None,
    tokenizer: str | None = None,
) -> ValidationReport:
    """Compare every file of the export in ``onnx_dir`` with PyTorch on real inputs.

    ``tokenizer`` names a tokenizer (Hub id or folder) to use instead of the model folder's own.
    A model folder without tokenizer files (a training checkpoint) is validated on generated
    inputs instead (:mod:`onnx_wizard.validation.generated`), and the report says so.

    ``reference`` is an already-loaded transformers model or SentenceTransformer to compare
    against instead of loading ``model_path`` again; it is used only when it is an fp32 model on
    the CPU of the kind this export needs, else the model is loaded from disk. It is put in eval
    mode and otherwise left as it is."""
    import transformers

    base = task.removesuffix("-with-past")
    library = library.replace("-", "_") if library else None  # inspection says "sentence-..."
    folder = Path(onnx_dir)
    if not any(folder.glob("*.onnx")) and (folder / "onnx").is_dir():
        folder = folder / "onnx"  # the onnx-community layout keeps the files in onnx/
    files = sorted(p.name for p in folder.glob("*.onnx"))
    val = Validation(folder, None, task, atol)
    val.not_validated += [
        f"{f}: not a file of optimum's export layout" for f in files if f not in KNOWN_FILES
    ]
    # Detected as optimum does (from the folder's files) unless the caller names the library.
    st_model = library == "sentence_transformers" or (
        library is None and any((Path(model_path) / m).is_file() for m in ST_MARKERS)
    )
    st_model = st_model and base in ST_TASKS and "model.onnx" in files
    if library not in (None, *LIBRARIES):  # timm or diffusers exports
        val.not_validated += [f"{f}: library {library!r} not covered" for f in files]
        val.errors.append(
            f"Validation on real inputs does not cover library {library!r} yet (only "
            f"{', '.join(LIBRARIES)}), so nothing was compared."
        )
        return val.report("none")
    if base not in AUTO_CLASSES and not st_model:
        val.not_validated += [f"{f}: task {task!r} not covered" for f in files]
        val.errors.append(
            f"Validation on real inputs does not cover task {task!r} yet (text "
            "tasks only), so nothing was compared."
        )
        return val.report("none")

    val.config = transformers.AutoConfig.from_pretrained(model_path)
    text_tokenizer = None
    if tokenizer is not None or has_tokenizer_files(Path(model_path)):
        text_tokenizer = transformers.AutoTokenizer.from_pretrained(tokenizer or model_path)
        inputs, description = _encode(text_tokenizer, base)
    else:
        inputs, description = generated_inputs(val.config, base)
        val.not_validated.append(
            "real text: the model folder has no tokenizer files, so the export was compared on "
            "generated token ids (name one with --tokenizer ID_OR_PATH)"
        )
    if st_model:
        session = val.open("model.onnx")
        outputs = {o.name for o in session.get_outputs()} if session is not None else set()
        # A folder exported with library_name="transformers" has last_hidden_state instead.
        if session is None or library or outputs & set(ST_OUTPUTS):
            if session is not None:
                description += validate_sentence_transformers(
                    val, model_path, session, inputs, reference
                )
            return val.report(description)

    model = transformers_model(model_path, base, reference)
    seq2seq = base == "text2text-generation" or "encoder_model.onnx" in files
    if not (seq2seq or base == "text-generation" or task.endswith("-with-past")):
        _single_pass(val, model, files, inputs)
        return val.report(description)
    return _two_steps(val, model, text_tokenizer, files, inputs, description, seq2seq)


def _encode(tokenizer: Any, base: str) -> tuple[Arrays, str]:
    """The real sentences (or question/context pairs) as model inputs, and how they were made."""
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    # Right padding: no query row is fully masked, so padded positions stay finite on both sides.
    tokenizer.padding_side = "right"
    texts = list(SENTENCES)
    if base == "fill-mask" and tokenizer.mask_token:
        texts = [
            t.replace("lovely", tokenizer.mask_token).replace("love", tokenizer.mask_token)
            for t in texts
        ]
    pairs = (list(QUESTIONS),) if base == "question-answering" else ()
    encoded = tokenizer(
        *pairs, texts, padding=True, truncation=True, max_length=64, return_tensors="np"
    )
    inputs: Arrays = {k: np.asarray(v, np.int64) for k, v in encoded.items()}
    inputs.setdefault("token_type_ids", np.zeros_like(inputs["input_ids"]))
    batch, length = inputs["input_ids"].shape
    description = (
        f"{batch} real {'question/context pairs' if pairs else 'sentences'} tokenized with the "
        f"model's own tokenizer ({type(tokenizer).__name__}), padded on the right to {length} "
        f"tokens, batch {batch}"
    )
    return inputs, description


def _caller(model: Any) -> Any:
    """Run ``model`` without grad on the keywords its forward accepts; (refs, raw output)."""
    import torch

    accepts = set(inspect.signature(model.forward).parameters)

    def call(**kwargs: Any) -> tuple[Arrays, Any]:
        with torch.no_grad():
            out = model(**{k: v for k, v in kwargs.items() if k in accepts}, return_dict=True)
        return torch_refs(out), out

    return call


def _single_pass(val: Validation, model: Any, files: list[str], inputs: Arrays) -> None:
    if "model.onnx" not in files:
        val.errors.append(f"model.onnx is missing in {val.folder}.")
        return
    session = val.open("model.onnx")
    if session is None:
        return
    names = {i.name for i in session.get_inputs()}
    got = val.run("model.onnx", session, inputs)
    refs, _ = _caller(model)(**{k: to_torch(v) for k, v in inputs.items() if k in names})
    if got is not None:
        val.compare("model", SINGLE, got, refs)


def _two_steps(
    val: Validation,
    model: Any,
    tokenizer: Any,
    files: list[str],
    inputs: Arrays,
    description: str,
    seq2seq: bool,
) -> ValidationReport:
    """Generative exports: step 1 on an empty cache, step 2 on one new token with the cache."""
    import torch

    torch_call, config = _caller(model), val.config
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    length = ids.shape[1]
    step1: Arrays = {"input_ids": ids, "use_cache_branch": np.array([False])}
    step2: Arrays = {"use_cache_branch": np.array([True])}
    if seq2seq:
        session = val.open("encoder_model.onnx") if "encoder_model.onnx" in files else None
        enc = val.run("encoder_model.onnx", session, inputs) if session is not None else None
        if enc is None:
            val.errors.append(
                f"encoder_model.onnx is missing or broken in {val.folder}: the "
                "decoder cannot be validated without it."
            )
            return val.report(description)
        with torch.no_grad():
            torch_enc = model.get_encoder()(input_ids=to_torch(ids), attention_mask=to_torch(mask))
        val.compare(
            "encoder_model", SINGLE, enc, {"last_hidden_state": torch_enc.last_hidden_state.numpy()}
        )
        start = config.decoder_start_token_id
        start = start if start is not None else config.pad_token_id
        pad = config.pad_token_id if config.pad_token_id is not None else start
        target = (
            tokenizer(list(TARGETS), add_special_tokens=False)["input_ids"]
            if tokenizer is not None
            else generated_targets(config, len(ids), DECODER_TOKENS)
        )
        rows = [([start, *row] + [pad] * DECODER_TOKENS)[:DECODER_TOKENS] for row in target]
        step1["input_ids"] = np.array(rows, np.int64)
        # The ONNX decoder reads the ONNX encoder's output, as it will at inference.
        step1["encoder_hidden_states"] = step2["encoder_hidden_states"] = enc["last_hidden_state"]
        step1["encoder_attention_mask"] = step2["encoder_attention_mask"] = mask
        extra = {"encoder_outputs": torch_enc, "attention_mask": to_torch(mask), "use_cache": True}
        refs1, out1 = torch_call(decoder_input_ids=to_torch(step1["input_ids"]), **extra)
        description += (
            f"; decoder starts from decoder_start_token_id {start} with "
            f"{DECODER_TOKENS} tokens and reads the ONNX encoder's output"
        )
    else:
        step1["attention_mask"] = mask
        # Right padding: real tokens sit at 0..n-1 either way, and arange is torch's default.
        step1["position_ids"] = np.broadcast_to(np.arange(length), ids.shape).copy()
        refs1, out1 = torch_call(
            input_ids=to_torch(ids),
            attention_mask=to_torch(mask),
            position_ids=to_torch(step1["position_ids"]),
            use_cache=True,
        )
    last = step1["input_ids"][:, -1:]
    token = np.argmax(refs1["logits"][:, -1:, :], axis=-1) if "logits" in refs1 else last
    step2["input_ids"] = token = token.astype(np.int64)
    if seq2seq:
        refs2, _ = torch_call(
            decoder_input_ids=to_torch(token), past_key_values=out1.past_key_values, **extra
        )
    else:
        step2["attention_mask"] = np.concatenate([mask, np.ones_like(token)], axis=1)
        step2["position_ids"] = np.full_like(token, length)
        refs2, _ = torch_call(
            input_ids=to_torch(token),
            attention_mask=to_torch(step2["attention_mask"]),
            position_ids=to_torch(step2["position_ids"]),
            past_key_values=out1.past_key_values,
            use_cache=True,
        )
    _run_decoders(val, files, (step1, refs1), (step2, refs2), seq2seq)
    if any(c.stage == STEP2 for c in val.checks):
        description += "; step 2 feeds 1 new token per row back with each side's own cache"
    return val.report(description)


def _run_decoders(
    val: Validation,
    files: list[str],
    first: tuple[Arrays, Arrays],
    second: tuple[Arrays, Arrays],
    seq2seq: bool,
) -> None:
    """Step 1 on every decoder file, step 2 on those that take a cache; caches are chained."""
    caches: dict[str, Arrays] = {}
    steppers = [f for f in STEP_FILES if f in files and not (seq2seq and f == "model.onnx")]
    if not steppers:
        val.errors.append(f"No decoder file ({', '.join(STEP_FILES)}) in {val.folder}.")
    for name in steppers:
        session = val.open(name)
        got = val.run(name, session, first[0]) if session is not None else None
        if session is None or got is None:
            continue
        val.compare(name.removesuffix(".onnx"), STEP1, got, first[1])
        caches[name] = {
            k.replace("present", "past_key_values", 1): v
            for k, v in got.items()
            if k.startswith("present.")
        }
        inputs = {i.name for i in session.get_inputs()}
        if any(i.startswith("past_key_values") for i in inputs):
            got = val.run(name, session, {**second[0], **caches[name]})
            # With use_cache_branch=True a merged decoder returns dummy cross-attention presents.
            skip = ".encoder." if "use_cache_branch" in inputs else ""
            if got is not None:
                val.compare(name.removesuffix(".onnx"), STEP2, got, second[1], skip=skip)
    name = "decoder_with_past_model.onnx"
    if name in files:
        cache = next((caches[f] for f in ("decoder_model.onnx", *STEP_FILES) if f in caches), None)
        if cache is None:
            val.not_validated.append(f"{name}: no step-1 file gave it a cache to start from")
            return
        session = val.open(name)
        got = val.run(name, session, {**second[0], **cache}) if session is not None else None
        if got is not None:
            val.compare(name.removesuffix(".onnx"), STEP2, got, second[1])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m onnx_wizard.validation.child")
    parser.add_argument("--model", required=True)
    parser.add_argument("--onnx-dir", required=True)
    parser.add_argument("--task", required=True)
    parser.add_argument("--atol", type=float, default=None)
    parser.add_argument("--library", choices=("transformers", "sentence_transformers"))
    parser.add_argument("--tokenizer", default=None)
    args = parser.parse_args(argv)
    from onnx_wizard.lifeline import tie_to_parent

    tie_to_parent()  # validation ends when the process that started it ends
    # Libraries print to stdout, some from C++: point fd 1 at stderr while working so that the
    # report is the only line on the real stdout.
    sys.stdout.flush()
    real_stdout = os.dup(1)
    os.dup2(2, 1)
    try:
        report = validate(
            args.model, args.onnx_dir, args.task, args.atol, args.library, tokenizer=args.tokenizer
        )
    except Exception as exc:  # any failure becomes a failed report, never a bare traceback
        traceback.print_exc()
        fallback = Validation(Path(args.onnx_dir), None, args.task, args.atol)
        fallback.errors.append(first_line(exc))
        report = fallback.report("none")
    finally:
        sys.stdout.flush()
        os.dup2(real_stdout, 1)
        os.close(real_stdout)
    sys.stdout.write(json.dumps(report.to_dict()) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
