"""Child process that builds one tiny sample model with a real, generated tokenizer.

Usage: ``python -m onnx_wizard.inspection.sample_build NAME FOLDER``. Imports torch and
transformers, so it is never imported by the engine itself; ``onnx_wizard.inspection.samples`` runs
it as a child process.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

# A small everyday corpus so the trained tokenizers split real sentences sensibly.
CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "I love this movie, it was wonderful and moving.",
    "This was the worst meal I have ever had.",
    "translate English to German: The house is wonderful.",
    "summarize: The weather today is sunny with a light breeze in the afternoon.",
    "Hello world! How are you doing today?",
    "ONNX makes models portable across runtimes and devices.",
    "She sells sea shells by the sea shore.",
    "Numbers like 1, 2, 3 and 42 appear in text too.",
    "A journey of a thousand miles begins with a single step.",
]

README = """# {name} (onnx-wizard built-in sample)

A tiny {description} with RANDOM weights, built locally by onnx-wizard so that every step of the
wizard can be tried offline. Its outputs are meaningless; do not use it for anything real.
"""


def _word_piece_vocab() -> list[str]:
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = sorted({c for line in CORPUS for c in line.lower() if not c.isspace()})
    words = sorted({w.strip(".,!?:").lower() for line in CORPUS for w in line.split()} - {""})
    pieces = [f"##{c}" for c in chars]
    return special + chars + pieces + words


def build_bert_classifier(folder: Path) -> None:
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    vocab_file = folder / "vocab.txt"
    vocab_file.write_text("\n".join(_word_piece_vocab()) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab_file), do_lower_case=True)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        id2label={0: "NEGATIVE", 1: "POSITIVE"},
        label2id={"NEGATIVE": 0, "POSITIVE": 1},
        architectures=["BertForSequenceClassification"],
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def _train_bpe(special: list[str]) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=special,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(CORPUS, trainer=trainer)
    return tokenizer


def build_gpt2(folder: Path) -> None:
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast

    tokenizer = GPT2TokenizerFast(tokenizer_object=_train_bpe(["<|endoftext|>"]))
    tokenizer.eos_token = tokenizer.bos_token = tokenizer.unk_token = "<|endoftext|>"
    eos_id = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_embd=32,
        n_layer=2,
        n_head=2,
        n_positions=128,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        architectures=["GPT2LMHeadModel"],
    )
    model = GPT2LMHeadModel(config)
    if model.generation_config is not None:  # generators always have one; mypy can't know
        model.generation_config.pad_token_id = eos_id
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def build_t5(folder: Path) -> None:
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration

    special = ["<pad>", "</s>", "<unk>"]
    raw = Tokenizer(models.Unigram())
    raw.normalizer = normalizers.NFKC()
    raw.pre_tokenizer = pre_tokenizers.Metaspace()
    raw.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=300, special_tokens=special, unk_token="<unk>", show_progress=False
    )
    raw.train_from_iterator(CORPUS, trainer=trainer)
    from tokenizers.processors import TemplateProcessing

    raw.post_processor = TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=32,
        d_ff=64,
        d_kv=16,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=2,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
        architectures=["T5ForConditionalGeneration"],
    )
    T5ForConditionalGeneration(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def build_ernie(folder: Path) -> None:
    """ERNIE 4.5: a Llama-like decoder optimum has no ONNX config for (the fallback routes)."""
    from transformers import PreTrainedTokenizerFast
    from transformers.models.ernie4_5 import Ernie4_5Config, Ernie4_5ForCausalLM

    special = ["<unk>", "<s>", "</s>"]
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_train_bpe(special), unk_token="<unk>", bos_token="<s>", eos_token="</s>"
    )
    config = Ernie4_5Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=128,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.eos_token_id,
        architectures=["Ernie4_5ForCausalLM"],
    )
    Ernie4_5ForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


BUILDERS = {
    "bert-classifier": build_bert_classifier,
    "gpt2": build_gpt2,
    "t5": build_t5,
    "ernie": build_ernie,
}


def main(argv: list[str]) -> int:
    from onnx_wizard.lifeline import tie_to_parent

    tie_to_parent()  # a sample build ends when the wizard that asked for it ends
    name, folder = argv[0], Path(argv[1])
    import torch

    from onnx_wizard.inspection.samples import SAMPLES

    torch.manual_seed(0)  # the same sample on every machine
    folder.mkdir(parents=True, exist_ok=True)
    BUILDERS[name](folder)
    sample = SAMPLES[name]
    (folder / "README.md").write_text(
        README.format(name=name, description=sample.description), encoding="utf-8"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
