"""The onnx-community layout and the card, built from real exports; no Hub involved."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from onnx_wizard.errors import WizardError
from onnx_wizard.publish.api import prepare_publish
from tests.fs_snapshot import snapshot
from tests.publish.support import copy_export

TOKENIZER = ["special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"]


def staged_paths(plan) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(f.path for f in plan.files)


def on_disk(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_bert_layout_keeps_only_proven_transformers_js_variants(bert_q: Path) -> None:
    before = snapshot(bert_q)
    plan = prepare_publish(bert_q, "me/tiny-bert-ONNX", base_model="google-bert/bert-base-uncased")
    expected = sorted(
        [
            "README.md",
            "config.json",
            "onnx/model.onnx",
            "onnx/model_fp16.onnx",
            "onnx/model_quantized.onnx",
            "vocab.txt",
            *TOKENIZER,
        ]
    )
    assert staged_paths(plan) == expected
    assert on_disk(plan.folder) == expected  # the folder holds exactly what is listed
    assert plan.total_bytes == sum((plan.folder / p).stat().st_size for p in expected)
    left_out = {item.path: item.reason for item in plan.layout.left_out}
    assert "failed its check" in left_out["model_q4.onnx"] and "0.5" in left_out["model_q4.onnx"]
    assert "ONNX Runtime preset" in left_out["ort-avx2/model_quantized.onnx"]
    tjs = json.loads((plan.folder / "config.json").read_text())["transformers.js_config"]
    assert tjs == {"dtype": "q8", "device_config": {"webgpu": {"dtype": "fp16"}}}
    assert snapshot(bert_q) == before  # the export itself is untouched


def test_bert_card_front_matter_and_body(bert_q: Path, export_home: Path) -> None:
    from huggingface_hub import ModelCard

    plan = prepare_publish(bert_q, "me/tiny-bert-ONNX", base_model="google-bert/bert-base-uncased")
    card = ModelCard.load(plan.folder / "README.md")
    data = card.data.to_dict()
    assert data["library_name"] == "transformers.js"
    assert data["base_model"] == "google-bert/bert-base-uncased"
    assert data["pipeline_tag"] == "text-classification"
    assert data["tags"] == ["onnx", "transformers.js", "webgpu"]  # fp16 passed
    text = card.text
    assert "| q8 | `onnx/model_quantized.onnx` |" in text
    assert "| fp16 | `onnx/model_fp16.onnx` |" in text
    assert "| q4 |" not in text and "`model_q4.onnx`: q4 failed" in text
    assert "top1 agreement 1 (needs 0.9)" in text
    assert "pipeline('text-classification', 'me/tiny-bert-ONNX', { dtype: 'q8' })" in text
    assert "optimum-cli export onnx --model bert-classifier-v1 --task text-classification" in text
    assert "onnx-wizard quantize" in text
    assert "RANDOM weights" in text  # the source card is appended
    assert str(bert_q.parent) not in text  # no local paths in a public card


def test_fp32_only_t5_leaves_out_the_decoders_transformers_js_never_loads(
    exports: dict[str, Path],
) -> None:
    plan = prepare_publish(exports["t5"], "me/tiny-t5")
    onnx_files = [p for p in staged_paths(plan) if p.startswith("onnx/")]
    assert onnx_files == ["onnx/decoder_model_merged.onnx", "onnx/encoder_model.onnx"]
    assert "generation_config.json" in staged_paths(plan)
    assert {i.path for i in plan.layout.left_out} == {
        "decoder_model.onnx",
        "decoder_with_past_model.onnx",
    }
    config = json.loads((plan.folder / "config.json").read_text())
    assert config["transformers.js_config"] == {"dtype": "fp32"}  # no q8 for WASM to look for
    from huggingface_hub import ModelCard

    data = ModelCard.load(plan.folder / "README.md").data.to_dict()
    assert data["pipeline_tag"] == "text2text-generation" and "base_model" not in data
    assert data["tags"] == ["onnx", "transformers.js"]
    everything = prepare_publish(exports["t5"], "me/tiny-t5", include_unused=True)
    assert "onnx/decoder_with_past_model.onnx" in staged_paths(everything)


def test_quantized_t5_publishes_the_q8_pair(t5_q: Path) -> None:
    plan = prepare_publish(t5_q, "me/tiny-t5")
    onnx_files = [p for p in staged_paths(plan) if p.startswith("onnx/")]
    assert onnx_files == [
        "onnx/decoder_model_merged.onnx",
        "onnx/decoder_model_merged_quantized.onnx",
        "onnx/encoder_model.onnx",
        "onnx/encoder_model_quantized.onnx",
    ]
    left_out = {i.path for i in plan.layout.left_out}
    assert "decoder_model_quantized.onnx" in left_out and "decoder_model.onnx" in left_out
    assert plan.layout.dtype == "q8"


def test_external_data_gets_the_name_transformers_js_loads(
    exports: dict[str, Path],
    tmp_path: Path,
) -> None:
    import onnx
    import onnxruntime as ort

    folder = copy_export(exports["bert-classifier"], tmp_path / "bert")
    model = onnx.load(str(folder / "model.onnx"))
    (folder / "model.onnx").unlink()
    # The name onnxruntime's quantizer writes, which Transformers.js does not find.
    onnx.save(
        model,
        str(folder / "model.onnx"),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="model.onnx.data",
        size_threshold=0,
    )
    plan = prepare_publish(folder, "me/ext")
    assert {"onnx/model.onnx", "onnx/model.onnx_data"} <= set(staged_paths(plan))
    assert "onnx/model.onnx.data" not in staged_paths(plan)
    tjs = json.loads((plan.folder / "config.json").read_text())["transformers.js_config"]
    assert tjs["use_external_data_format"] == {"model.onnx": 1}
    ort.InferenceSession(str(plan.folder / "onnx" / "model.onnx"))  # finds its renamed data
    assert (folder / "model.onnx.data").is_file()  # the export keeps its own names


def test_a_loose_onnx_file_becomes_model_onnx(exports: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "loose"
    folder.mkdir()
    source = exports["bert-classifier"]
    shutil.copy(source / "model.onnx", folder / "bert.onnx")
    for name in ("config.json", *TOKENIZER):
        shutil.copy(source / name, folder / name)
    plan = prepare_publish(folder, "me/loose")
    assert "onnx/model.onnx" in staged_paths(plan)
    assert any("bert.onnx is published as onnx/model.onnx" in n for n in plan.layout.notes)


@pytest.mark.parametrize(
    ("damage", "repo", "words"),
    [
        ("no-config", "me/x", ["no config.json", "Copy config.json"]),
        ("no-onnx", "me/x", ["no fp32 ONNX file", "onnx-wizard export"]),
        ("bad-record", "me/x", ["quantization.json", "cannot be read as JSON", "delete"]),
        (None, "not-a-repo-id", ["is not OWNER/NAME", "--repo my-name/"]),
        (None, "me/bad name!", ["not a valid repo id", "OWNER/NAME"]),
    ],
)
def test_bad_input_names_the_problem_and_leaves_the_folder_alone(
    exports: dict[str, Path],
    tmp_path: Path,
    damage: str | None,
    repo: str,
    words: list[str],
) -> None:
    folder = copy_export(exports["bert-classifier"], tmp_path / "bert")
    if damage == "no-config":
        (folder / "config.json").unlink()
    elif damage == "no-onnx":
        (folder / "model.onnx").unlink()
    elif damage == "bad-record":
        (folder / "quantization.json").write_text("{not json")
    before = snapshot(folder)
    with pytest.raises(WizardError) as caught:
        prepare_publish(folder, repo)
    text = f"{caught.value.problem} {caught.value.fix}"
    assert all(word in text for word in words), text
    assert snapshot(folder) == before


def ort_prediction(folder: Path, onnx_file: str, sentence: str) -> tuple[str, float]:
    """The label and score onnxruntime gives, on the staged tokenizer's ids."""
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer

    encoding = Tokenizer.from_file(str(folder / "tokenizer.json")).encode(sentence)
    feeds = {
        "input_ids": [encoding.ids],
        "attention_mask": [encoding.attention_mask],
        "token_type_ids": [encoding.type_ids],
    }
    session = ort.InferenceSession(str(folder / onnx_file))
    names = [i.name for i in session.get_inputs()]
    (logits,) = session.run(["logits"], {n: np.array(feeds[n], dtype=np.int64) for n in names})
    scores = np.exp(logits[0] - logits[0].max())
    scores /= scores.sum()
    labels = json.loads((folder / "config.json").read_text())["id2label"]
    return labels[str(int(scores.argmax()))], float(scores.max())


def test_staged_folders_load_in_transformers_js_with_the_recommended_dtype(
    bert_q: Path, exports: dict[str, Path], tmp_path: Path
) -> None:
    from tests.tjs_node import offline_prelude, run_node

    models = tmp_path / "models"
    bert = prepare_publish(bert_q, "me/tiny-bert", staging=models / "me" / "tiny-bert")
    t5 = prepare_publish(exports["t5"], "me/tiny-t5", staging=models / "me" / "tiny-t5")
    assert (bert.layout.dtype, t5.layout.dtype) == ("q8", "fp32")
    # The sample's vocab.txt repeats single letters, so some words ("wonderful") get ids past
    # the embedding (vocab_size 143) and crash any runtime; this sentence stays inside it.
    sentence = "I love this film, it was great."
    script = (
        offline_prelude(models)
        + f"""
const text = {json.dumps(sentence)};
const out = {{}};
// No dtype: Transformers.js takes it from config.json's transformers.js_config.
out.config = (await (await pipeline('text-classification', 'me/tiny-bert'))(text))[0];
for (const dtype of ['q8', 'fp32', 'fp16']) {{
  const classify = await pipeline('text-classification', 'me/tiny-bert', {{ dtype }});
  out[dtype] = (await classify(text))[0];
}}
const generate = await pipeline('text2text-generation', 'me/tiny-t5');
out.t5 = await generate('translate English to German: Hello', {{ max_new_tokens: 5 }});
console.log(JSON.stringify(out));
"""
    )
    result = run_node(script)
    for dtype, onnx_file in [
        ("q8", "model_quantized.onnx"),
        ("fp32", "model.onnx"),
        ("fp16", "model_fp16.onnx"),
    ]:
        label, score = ort_prediction(bert.folder, f"onnx/{onnx_file}", sentence)
        assert result[dtype]["label"] == label, dtype
        assert abs(result[dtype]["score"] - score) < 1e-3, dtype
    assert result["config"] == result["q8"]  # the recommended dtype is the default
    assert isinstance(result["t5"][0]["generated_text"], str)


def test_a_staging_folder_never_overlaps_the_export_or_replaces_a_users_folder(
    exports: dict[str, Path], tmp_path: Path
) -> None:
    folder = copy_export(exports["bert-classifier"], tmp_path / "bert")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    before = snapshot(tmp_path)
    for staging, words in [
        (folder, "overlaps the export"),
        (folder / "hub", "overlaps the export"),
        (mine, "is not empty"),
    ]:
        with pytest.raises(WizardError, match=words):
            prepare_publish(folder, "me/x", staging=staging)
    assert snapshot(tmp_path) == before


def test_publishes_what_the_real_quantize_step_recorded(
    exports: dict[str, Path], tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    folder = copy_export(exports["bert-classifier"], tmp_path / "bert")
    done = subprocess.run(
        [sys.executable, "-m", "onnx_wizard", "quantize", str(folder), "--targets", "q8,avx2"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads((folder / "quantization.json").read_text())
    passed = {r["variant"] for r in record["rows"] if r["verdict"] == "passed"}
    plan = prepare_publish(folder, "me/q")
    staged = {v.dtype for v in plan.layout.variants}
    assert staged == {"fp32"} | (passed & {"q8"})
    assert all("/" not in f.path or f.path.startswith("onnx/") for f in plan.files)
    assert "ort-avx2/model_quantized.onnx" in {i.path for i in plan.layout.left_out}
    chosen = json.loads((folder / "config.json").read_text())["transformers.js_config"]["dtype"]
    assert plan.layout.dtype == (chosen if chosen in staged else "fp32")
