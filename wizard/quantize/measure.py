"""Run ONNX files on real tokenizer inputs and compare a variant with fp32 (child side only).

Imports numpy and onnxruntime: used by ``onnx_wizard.quantize.child`` only. The measures:
``cosine`` (minimum cosine of mean-pooled features over the sentences, feature extraction),
``top1_agreement`` (classifiers), ``token_agreement`` (generators: the fp32 model's greedy
continuation, N new tokens per prompt; the share of those steps where the variant, fed the same
prefix, picks the same token; encoder-decoders run the variant's encoder too).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from onnx_wizard.quantize.targets import read_json as _json

NEW_TOKENS = 8
LATENCY_RUNS = 5
PROMPTS = 4  # generators: greedy continuations of the first few sentences
NUMPY_TYPES = {
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
}


def open_session(path: Path, threads: int = 1) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class Texts:
    """Token ids for the check sentences, from the export folder's own tokenizer."""

    def __init__(self, folder: Path, sentences: list[str]) -> None:
        self.sentences = sentences
        self.source = "generated ids (no tokenizer in the folder)"
        config = _json(folder / "config.json")
        self.pad_id = int(config.get("pad_token_id") or 0)
        self.start_id = int(config.get("decoder_start_token_id") or self.pad_id)
        vocab = int(config.get("vocab_size") or 0)
        # A tokenizer may know more ids than the embedding table (tiny samples do): clip.
        self.ids = [
            [min(i, vocab - 1) if vocab else i for i in ids]
            for ids in self._tokenize(folder, sentences)
        ]

    def _tokenize(self, folder: Path, sentences: list[str]) -> list[list[int]]:
        if (folder / "tokenizer.json").is_file():
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
            tokenizer.no_padding()
            tokenizer.no_truncation()
            self.source = "the model's tokenizer"
            return [tokenizer.encode(s).ids[:128] or [0] for s in sentences]
        try:
            from transformers import AutoTokenizer

            slow = AutoTokenizer.from_pretrained(str(folder))
            self.source = "the model's tokenizer"
            return [list(slow(s)["input_ids"])[:128] or [0] for s in sentences]
        except Exception:
            rng = np.random.default_rng(0)
            return [list(rng.integers(5, 100, size=8 + i)) for i in range(len(sentences))]

    def batch(self) -> tuple[np.ndarray, np.ndarray]:
        """All sentences, right-padded: (input_ids, attention_mask)."""
        width = max(len(ids) for ids in self.ids)
        ids = np.full((len(self.ids), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(self.ids), width), dtype=np.int64)
        for row, tokens in enumerate(self.ids):
            ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1
        return ids, mask


def feeds_for(
    session: ort.InferenceSession,
    ids: np.ndarray,
    mask: np.ndarray,
    extra: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Inputs for any text graph: ids and mask, zero-length past, the cache branch off."""
    batch, length = ids.shape
    feeds: dict[str, np.ndarray] = {}
    for item in session.get_inputs():
        name, dtype = item.name, NUMPY_TYPES.get(item.type, np.float32)
        if extra and name in extra:
            feeds[name] = extra[name].astype(dtype)
        elif name in ("input_ids", "decoder_input_ids"):
            feeds[name] = ids.astype(dtype)
        elif name in ("attention_mask", "decoder_attention_mask"):
            feeds[name] = mask.astype(dtype)
        elif name == "position_ids":
            feeds[name] = np.clip(np.cumsum(mask, axis=1) - 1, 0, None).astype(dtype)
        elif name == "cache_position":
            feeds[name] = np.arange(length, dtype=dtype)
        elif name == "use_cache_branch":
            feeds[name] = np.zeros((1,), dtype=np.bool_)
        else:
            shape = [_dimension(d, name, batch, length) for d in item.shape]
            feeds[name] = np.zeros(shape, dtype=dtype)
    return feeds


def _dimension(dim: Any, name: str, batch: int, length: int) -> int:
    if isinstance(dim, int):
        return dim
    text = str(dim).lower()
    if "batch" in text:
        return batch
    if "past" in name or "past" in text:
        return 0
    return length


@dataclass
class Measure:
    metric: str
    value: float
    max_abs_diff: float
    detail: str = ""


class Checker:
    """Runs one model (a set of files) on the check inputs; compares variants with fp32."""

    def __init__(self, folder: Path, files: list[str], kind: str, texts: Texts) -> None:
        self.folder, self.kind, self.texts = folder, kind, texts
        self.files = files
        self.main = _main_files(files)
        self.reference = self.outputs(folder, files)

    def metric(self) -> str:
        return {"features": "cosine", "classifier": "top1_agreement"}.get(
            self.kind, "token_agreement"
        )

    def outputs(self, root: Path, names: list[str], reference: dict | None = None) -> dict:
        """What the measure compares, for the model whose files (parallel to ``self.files``)
        are ``names`` under ``root``; a variant follows the fp32 continuation ``reference``."""
        sessions = {
            f: open_session(root / n)
            for f, n in zip(self.files, names, strict=True)
            if f in self.main
        }
        if self.kind == "seq2seq":
            return self._seq2seq(sessions, reference)
        session = sessions[self.main[0]]
        if self.kind == "generator":
            return self._generate(session, reference)
        ids, mask = self.texts.batch()
        first = session.run(None, feeds_for(session, ids, mask))[0].astype(np.float32)
        if self.kind == "classifier":
            return {"logits": first.reshape(first.shape[0], -1)}
        if first.ndim == 3:  # token features: mean-pool over the real tokens
            weights = mask[..., None].astype(np.float32)
            first = (first * weights).sum(1) / np.maximum(weights.sum(1), 1)
        return {"features": first}

    def _generate(self, session: ort.InferenceSession, reference: dict | None) -> dict:
        """fp32: greedy continuation; variant: its logits along the fp32 continuation."""
        tokens, logits = [], []
        for row, prompt in enumerate(self.texts.ids[:PROMPTS]):
            if reference:
                sequence = reference["tokens"][row]
            else:
                sequence = list(prompt)
                for _ in range(NEW_TOKENS):
                    sequence = [*sequence, int(_last_logits(session, sequence).argmax())]
            ids = np.array([sequence], dtype=np.int64)
            out = session.run(None, feeds_for(session, ids, np.ones_like(ids)))[0][0]
            tokens.append(sequence)
            logits.append(out[len(prompt) - 1 : len(sequence) - 1].astype(np.float32))
        return {"tokens": tokens, "logits": logits}

    def _seq2seq(self, sessions: dict[str, ort.InferenceSession], reference: dict | None) -> dict:
        encoder = next(s for f, s in sessions.items() if Path(f).name.startswith("encoder"))
        decoder = next(s for f, s in sessions.items() if "decoder" in Path(f).name)
        tokens, logits = [], []
        for row, prompt in enumerate(self.texts.ids[:PROMPTS]):
            ids = np.array([prompt], dtype=np.int64)
            hidden = encoder.run(None, feeds_for(encoder, ids, np.ones_like(ids)))[0]
            extra = {"encoder_hidden_states": hidden, "encoder_attention_mask": np.ones_like(ids)}

            def run(sequence: list[int], extra: dict = extra) -> np.ndarray:
                step = np.array([sequence], dtype=np.int64)
                return decoder.run(None, feeds_for(decoder, step, np.ones_like(step), extra))[0]

            if reference:
                sequence = reference["tokens"][row]
            else:
                sequence = [self.texts.start_id]
                for _ in range(NEW_TOKENS):
                    sequence = [*sequence, int(run(sequence)[0, -1].argmax())]
            tokens.append(sequence)
            logits.append(run(sequence)[0, : len(sequence) - 1].astype(np.float32))
        return {"tokens": tokens, "logits": logits}

    def compare(self, variant_root: Path, variant_files: list[str]) -> Measure:
        """The task-aware figure for a variant whose files mirror ``self.files``."""
        got = self.outputs(variant_root, variant_files, self.reference)
        ref = self.reference
        if self.kind == "features":
            a, b = ref["features"], got["features"]
            cosine = (a * b).sum(1) / np.maximum(
                np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12
            )
            return Measure(
                "cosine",
                float(cosine.min()),
                float(np.abs(a - b).max()),
                f"min over {len(a)} sentences, mean-pooled",
            )
        if self.kind == "classifier":
            a, b = ref["logits"], got["logits"]
            agree = float((a.argmax(1) == b.argmax(1)).mean())
            return Measure(
                "top1_agreement", agree, float(np.abs(a - b).max()), f"{len(a)} sentences"
            )
        matches = total = 0
        worst = 0.0
        for a, b in zip(ref["logits"], got["logits"], strict=True):
            steps = slice(-NEW_TOKENS, None)
            matches += int((a[steps].argmax(-1) == b[steps].argmax(-1)).sum())
            total += len(a[steps])
            worst = max(worst, float(np.abs(a[steps] - b[steps]).max()))
        return Measure(
            "token_agreement",
            matches / max(total, 1),
            worst,
            f"{len(ref['logits'])} prompts x {NEW_TOKENS} greedy tokens",
        )

    def latency_ms(self, root: Path, names: list[str]) -> float:
        """Median of several forward passes of the main files on the same inputs, one thread."""
        ids, mask = self.texts.batch()
        if self.kind in ("generator", "seq2seq"):
            ids, mask = ids[:1, : mask[0].sum()], mask[:1, : mask[0].sum()]
        sessions = [
            open_session(root / n) for f, n in zip(self.files, names, strict=True) if f in self.main
        ]
        extra: dict[str, np.ndarray] = {}
        runs: list[tuple[ort.InferenceSession, dict[str, np.ndarray]]] = []
        for session in sessions:
            names_in = {i.name for i in session.get_inputs()}
            if "encoder_hidden_states" in names_in and not extra:
                width = next(o for o in session.get_inputs() if o.name == "encoder_hidden_states")
                size = width.shape[-1] if isinstance(width.shape[-1], int) else 32
                extra = {
                    "encoder_hidden_states": np.zeros((*ids.shape, size), np.float32),
                    "encoder_attention_mask": mask,
                }
            runs.append((session, feeds_for(session, ids, mask, extra)))
        timings = []
        for attempt in range(LATENCY_RUNS + 1):
            start = time.perf_counter()
            for session, feeds in runs:
                session.run(None, feeds)
            if attempt:  # the first run warms up
                timings.append((time.perf_counter() - start) * 1000)
        return round(statistics.median(timings), 3)


def _last_logits(session: ort.InferenceSession, sequence: list[int]) -> np.ndarray:
    ids = np.array([sequence], dtype=np.int64)
    return session.run(None, feeds_for(session, ids, np.ones_like(ids)))[0][0, -1]


def _main_files(files: list[str]) -> list[str]:
    """The files a runtime loads: without a merged decoder's two unmerged halves."""
    merged = any(Path(f).name.startswith("decoder_model_merged") for f in files)
    skip = ("decoder_model.", "decoder_with_past_model.") if merged else ()
    main = [f for f in files if not Path(f).name.startswith(skip)]
    return sorted(main, key=lambda f: (not Path(f).name.startswith(("model", "encoder")), f))


def smoke_run(path: Path, texts: Texts) -> None:
    """Load one file and run it once on real inputs (raises if it cannot)."""
    session = open_session(path)
    ids = np.array([texts.ids[0]], dtype=np.int64)
    extra = {}
    for item in session.get_inputs():
        if item.name == "encoder_hidden_states":
            size = item.shape[-1] if isinstance(item.shape[-1], int) else 32
            extra = {
                "encoder_hidden_states": np.zeros((*ids.shape, size), np.float32),
                "encoder_attention_mask": np.ones_like(ids),
            }
    session.run(None, feeds_for(session, ids, np.ones_like(ids), extra))
