"""Quantization: every variant made by the real onnxruntime tools, loaded and measured.

The three tiny samples are exported once per session with the real optimum; each test copies
the export it writes into, so the fp32 files stay pristine for the others.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from onnx_wizard.cli.main import main
from onnx_wizard.errors import WizardError
from onnx_wizard.quantize.api import quantize_folder
from onnx_wizard.quantize.calibration import load_samples
from onnx_wizard.quantize.targets import TRANSFORMERS_JS, detect_cpu_preset, parse_targets
from tests.conftest import SHARED_HOME
from tests.fs_snapshot import snapshot

TASKS = {
    "bert-classifier": "text-classification",
    "gpt2": "text-generation-with-past",
    "t5": "text2text-generation-with-past",
}
TJS_FILES = {
    "fp16": "_fp16",
    "q8": "_quantized",
    "int8": "_int8",
    "uint8": "_uint8",
    "q4": "_q4",
    "q4f16": "_q4f16",
    "bnb4": "_bnb4",
}
PRESETS = ("arm64", "avx2", "avx512", "avx512_vnni")
ALL = ",".join([*TJS_FILES, *PRESETS])


@pytest.fixture(scope="session")
def fp32_exports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Each sample exported once with the real optimum: name -> fp32 export folder."""
    from optimum.exporters.onnx import main_export

    from onnx_wizard.inspection.samples import ensure_sample

    root = tmp_path_factory.mktemp("quantize-exports")
    home = root / "home"
    home.mkdir()
    (SHARED_HOME / "samples").mkdir(parents=True, exist_ok=True)
    (home / "samples").symlink_to(SHARED_HOME / "samples", target_is_directory=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ONNX_WIZARD_HOME", str(home))
        done = {}
        for name, task in TASKS.items():
            main_export(str(ensure_sample(name)), output=str(root / name), task=task)
            done[name] = root / name
        yield done


@pytest.fixture(scope="session")
def quantized(
    fp32_exports: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Path, dict[str, Any], list[dict[str, Any]]]]:
    """All seven Transformers.js dtypes and the four dynamic presets, per sample:
    name -> (folder, quantization.json, events)."""
    root = tmp_path_factory.mktemp("quantized")
    done = {}
    for name, source in fp32_exports.items():
        folder = root / name
        shutil.copytree(source, folder)
        events: list[dict[str, Any]] = []
        quantize_folder(folder, ALL, task=TASKS[name], on_event=events.append)
        done[name] = (folder, json.loads((folder / "quantization.json").read_text()), events)
    return done


def _load(path: Path) -> Any:
    import onnxruntime

    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.slow
@pytest.mark.parametrize("name", list(TASKS))
def test_every_variant_is_made_loads_and_is_measured(
    name: str, quantized: dict[str, tuple[Path, dict[str, Any], list[dict[str, Any]]]]
) -> None:
    folder, report, events = quantized[name]
    fp32 = sorted(report["reference"]["files"])
    rows = {row["variant"]: row for row in report["rows"]}
    assert list(rows) == [*TJS_FILES, *PRESETS]
    if name == "t5":
        assert fp32 == sorted(
            [
                "decoder_model.onnx",
                "decoder_model_merged.onnx",
                "decoder_with_past_model.onnx",
                "encoder_model.onnx",
            ]
        )
    for variant, suffix in TJS_FILES.items():
        row = rows[variant]
        # The exact names Transformers.js loads, for every ONNX file of the export, beside fp32.
        expected = sorted(f.replace(".onnx", f"{suffix}.onnx") for f in fp32)
        assert sorted(row["files"]) == expected, (variant, row["verdict"], row["reason"])
    for preset in PRESETS:
        assert sorted(rows[preset]["files"]) == sorted(
            f"ort-{preset}/" + f.replace(".onnx", "_quantized.onnx") for f in fp32
        )
    metric = {"bert-classifier": "top1_agreement"}.get(name, "token_agreement")
    for variant, row in rows.items():
        assert row["verdict"] == "passed", (variant, row["reason"], row["attempts"])
        assert row["kind"] == ("onnxruntime" if variant in PRESETS else "transformers.js")
        assert row["metric"] == metric and row["value"] >= row["threshold"]
        assert row["latency_ms"] > 0 and row["max_abs_diff"] is not None
        assert row["bytes"] == sum((folder / f).stat().st_size for f in row["files"])
        assert 0 < row["ratio"] <= 1.05, (variant, row["ratio"])
        for file in row["files"]:
            _load(folder / file)  # loads in ONNX Runtime
    # 8-bit and 4-bit weights make smaller files (tiny graphs are mostly structure, so by little).
    assert all(rows[v]["ratio"] < 1 for v in ("q8", "int8", "uint8", "fp16", "q4f16"))
    config = json.loads((folder / "config.json").read_text())
    assert config["transformers.js_config"]["dtype"] == "q8"
    # One progress event per variant, then the report.
    kinds = [e["event"] for e in events]
    assert kinds.count("variant") == len(rows) and kinds[-1] == "quantize_finished"
    assert any(c.startswith("python -c") for c in report["commands"])
    log = Path(report["log"])
    assert log.is_file() and not log.is_relative_to(folder.parent)  # not in or beside it
    assert log.parent.name.endswith(".logs") and log.parent.parent.name == "sessions"  # home
    assert "INFO" in log.read_text()  # the 4-bit quantizer's lines, kept out of the user's way


@pytest.mark.slow
def test_fp16_keeps_graph_inputs_and_outputs_fp32(
    quantized: dict[str, tuple[Path, dict[str, Any], list[dict[str, Any]]]],
) -> None:
    folder = quantized["t5"][0]
    for name in ("decoder_model_merged_fp16.onnx", "encoder_model_fp16.onnx"):
        session = _load(folder / name)
        types = {i.type for i in [*session.get_inputs(), *session.get_outputs()]}
        assert "tensor(float16)" not in types, name


@pytest.mark.slow
def test_a_variant_below_its_threshold_fails_and_stays_out_of_the_config(
    fp32_exports: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "bert"
    shutil.copytree(fp32_exports["bert-classifier"], folder)
    report = quantize_folder(folder, "q8,fp16", thresholds={"q8": 1.01}, jobs=2)
    rows = {r.variant: r for r in report.rows}
    assert rows["q8"].verdict == "failed" and "below the threshold 1.01" in rows["q8"].reason
    # The recovery ladder ran: per-channel first, then float MatMuls, all measured.
    assert len(rows["q8"].attempts) >= 2
    assert any("exclude" in a["options"] for a in rows["q8"].attempts)
    assert rows["fp16"].passed
    config = json.loads((folder / "config.json").read_text())["transformers.js_config"]
    assert config["dtype"] == "fp16"
    assert not (folder / "model_quantized.onnx").exists()
    assert "FAILED" in report.render_text()


@pytest.mark.slow
def test_external_data_is_named_onnx_data(fp32_exports: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "bert"
    shutil.copytree(fp32_exports["bert-classifier"], folder)
    report = quantize_folder(folder, "fp16", external_data_bytes=1)
    assert report.rows[0].passed, report.rows[0].reason
    assert sorted(report.rows[0].files) == ["model_fp16.onnx", "model_fp16.onnx_data"]
    _load(folder / "model_fp16.onnx")
    config = json.loads((folder / "config.json").read_text())["transformers.js_config"]
    assert config["use_external_data_format"] == {"model_fp16.onnx": True}


@pytest.mark.slow
def test_static_quantization_with_a_calibration_file_from_the_cli(
    fp32_exports: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "bert"
    shutil.copytree(fp32_exports["bert-classifier"], folder)
    data = tmp_path / "reviews.csv"
    data.write_text("id,text\n1,I loved it.\n2,Dreadful service.\n3,It was fine.\n")
    code = main(
        [
            "quantize",
            str(folder),
            "--targets",
            "cpu-qdq,tensorrt",
            "--calibration",
            str(data),
            "--column",
            "text",
            "--json",
        ]
    )
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert code == 0, out
    assert [r["verdict"] for r in out["rows"]] == ["passed", "passed"]
    # Quiet: one line per variant for the user; the quantizers' INFO lines go to the log.
    assert "INFO" not in captured.err and captured.err.count("passed") == 2
    log = Path(out["log"]).read_text()
    assert "===== tensorrt =====" in log and '"variant": "cpu-qdq"' in log
    session = _load(folder / "ort-cpu-qdq" / "model_quantized.onnx")
    assert session.get_inputs()
    import onnx

    ops = {
        n.op_type for n in onnx.load(str(folder / "ort-tensorrt/model_quantized.onnx")).graph.node
    }
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops


@pytest.mark.slow
def test_export_then_quantize_from_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "out"
    code = main(
        ["export", "sample:bert-classifier", str(out_dir), "--quantize", "q8,fp16", "--json"]
    )
    result = json.loads(capsys.readouterr().out)
    assert code == 0, result
    assert result["status"] == "ok"
    quantization = result["quantization"]
    assert [r["verdict"] for r in quantization["rows"]] == ["passed", "passed"]
    # The equivalent commands: the export first, then each quantization step.
    assert quantization["commands"][0].startswith("optimum-cli export onnx")
    assert "quantize_dynamic" in quantization["commands"][1]
    assert (out_dir / "model_quantized.onnx").is_file() and (out_dir / "model_fp16.onnx").is_file()
    assert json.loads((out_dir / "quantization.json").read_text())["passed"] == ["q8", "fp16"]


def _bad(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "error:" in err and "fix:" in err
    return err


@pytest.mark.slow
def test_bad_input_is_refused_and_leaves_the_folder_unchanged(
    fp32_exports: dict[str, Path],
    quantized: dict[str, tuple[Path, dict[str, Any], list[dict[str, Any]]]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path / "bert"
    shutil.copytree(fp32_exports["bert-classifier"], folder)
    before = snapshot(tmp_path)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    table = tmp_path / "t.csv"
    table.write_text("id,sentence\n1,hello there\n")
    few = tmp_path / "few.txt"
    few.write_text("one\ntwo\n")
    before = snapshot(tmp_path)
    cases = {
        "unknown": (["--targets", "q7"], "Unknown quantization target(s): q7"),
        "empty": (["--targets", "cpu-qdq", "--calibration", str(empty)], "holds no samples"),
        "column": (
            ["--targets", "cpu-qdq", "--calibration", str(table), "--column", "text"],
            "no column 'text' (columns: id, sentence)",
        ),
        "few": (
            ["--targets", "cpu-qdq", "--calibration", str(few), "--samples", "50"],
            "fewer than the 50 asked for",
        ),
    }
    for args, message in cases.values():
        assert message in _bad(["quantize", str(folder), *args], capsys)
    nothing = tmp_path / "nothing"
    nothing.mkdir()
    assert "holds no ONNX file" in _bad(["quantize", str(nothing), "--targets", "q8"], capsys)
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "model.onnx").write_text("this is not a model\n")
    assert "not a readable ONNX model" in _bad(["quantize", str(fake), "--targets", "q8"], capsys)
    half = tmp_path / "half"
    half.mkdir()
    shutil.copy(quantized["bert-classifier"][0] / "model_fp16.onnx", half / "model.onnx")
    err = _bad(["quantize", str(half), "--targets", "fp16"], capsys)
    assert "already float16, so it cannot become fp16 again" in err
    after = snapshot(tmp_path)
    assert {k: v for k, v in after.items() if k.startswith("bert")} == {
        k: v for k, v in before.items() if k.startswith("bert")
    }
    assert not any(name.startswith(".bert.quantize-") for name in after)


def test_targets_and_cpu_detection() -> None:
    assert [t.name for t in parse_targets("q8, fp16,q8,avx2")] == ["q8", "fp16", "avx2"]
    assert [t.name for t in parse_targets("transformers.js")] == [t.name for t in TRANSFORMERS_JS]
    with pytest.raises(WizardError, match="q9"):
        parse_targets("q8,q9")
    vnni = "processor : 0\nflags : fpu sse avx2 avx512f avx512_vnni\n"
    assert detect_cpu_preset(vnni, "x86_64") == "avx512_vnni"
    assert detect_cpu_preset("flags : fpu avx2 avx512f\n", "x86_64") == "avx512"
    assert detect_cpu_preset("flags : fpu sse4_2 avx2\n", "x86_64") == "avx2"
    assert detect_cpu_preset("", "aarch64") == "arm64"
    assert parse_targets("cpu")[0].name == detect_cpu_preset()
    # Presets write into a folder of their own: never the Transformers.js names.
    names = {t.output_name("onnx/model.onnx") for t in parse_targets("q8,avx2,arm64")}
    assert names == {
        "onnx/model_quantized.onnx",
        "onnx/ort-avx2/model_quantized.onnx",
        "onnx/ort-arm64/model_quantized.onnx",
    }


def test_calibration_formats(tmp_path: Path) -> None:
    lines = tmp_path / "a.jsonl"
    lines.write_text('{"text": "one"}\n\n{"text": "two", "x": 1}\n')
    assert load_samples(lines, column="text") == ["one", "two"]
    with pytest.raises(WizardError, match="no field 'body'"):
        load_samples(lines, column="body")
    assert len(load_samples(None)) == 10
    assert load_samples(None, count=3) == load_samples(None)[:3]


# ---- the real client: Transformers.js in Node, offline, on every dtype the wizard made ----------

NODE_CACHE = Path(
    os.environ.get("ONNX_WIZARD_NODE_CACHE", Path.home() / ".cache/onnx-wizard-tests/node")
)
SENTENCE = "The weather is lovely today, so we are going for a walk in the park."
NODE_CHECK = """
import { pipeline, env } from '@huggingface/transformers';
const [root, model, task, ...dtypes] = process.argv.slice(2);
env.allowRemoteModels = false; env.allowLocalModels = true; env.localModelPath = root;
const results = {};
for (const dtype of dtypes) {
  try {
    const pipe = await pipeline(task, model, { dtype, device: 'cpu' });
    const out = task === 'text-classification'
      ? await pipe(process.env.SENTENCE)
      : await pipe(process.env.SENTENCE, { max_new_tokens: 5, do_sample: false });
    results[dtype] = out[0];
    await pipe.dispose();
  } catch (error) { results[dtype] = { error: String(error).slice(0, 500) }; }
}
console.log(JSON.stringify(results));
"""


@pytest.fixture(scope="session")
def transformers_js() -> Path:
    """@huggingface/transformers@4 installed once into a cache folder outside the repository."""
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("node and npm are needed to run Transformers.js (install Node.js 18+)")
    package = NODE_CACHE / "node_modules" / "@huggingface" / "transformers" / "package.json"
    if not package.is_file():
        NODE_CACHE.mkdir(parents=True, exist_ok=True)
        (NODE_CACHE / "package.json").write_text('{"name": "onnx-wizard-tests", "private": true}')
        # --ignore-scripts: onnxruntime-node's post-install fetches a CUDA add-on; the CPU
        # binary ships in the package.
        subprocess.run(
            [
                "npm",
                "install",
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                "@huggingface/transformers@4",
            ],
            cwd=NODE_CACHE,
            check=True,
            timeout=600,
            capture_output=True,
        )
    assert package.is_file()
    return NODE_CACHE


def _community_layout(folder: Path, report: dict[str, Any], root: Path, name: str) -> list[str]:
    """The onnx-community layout: onnx/ with fp32 and every passing dtype, config, tokenizer."""
    repo = root / name
    (repo / "onnx").mkdir(parents=True)
    dtypes = ["fp32"]
    files = list(report["reference"]["files"])
    for row in report["rows"]:
        if row["kind"] == "transformers.js" and row["verdict"] == "passed":
            dtypes.append(row["variant"])
            files += row["files"]
    for file in files:
        shutil.copy(folder / file, repo / "onnx" / Path(file).name)
    for extra in folder.iterdir():
        if extra.is_file() and extra.suffix in (".json", ".txt", ".model"):
            shutil.copy(extra, repo / extra.name)
    return dtypes


def _run_node(cache: Path, root: Path, name: str, task: str, dtypes: list[str]) -> dict:
    script = root / "check.mjs"
    script.write_text(NODE_CHECK)
    if not (root / "node_modules").exists():
        (root / "node_modules").symlink_to(cache / "node_modules", target_is_directory=True)
    done = subprocess.run(
        ["node", str(script), f"{root}/", name, task, *dtypes],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=root,
        env={**os.environ, "SENTENCE": SENTENCE},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_transformers_js_loads_every_dtype_offline(
    transformers_js: Path,
    quantized: dict[str, tuple[Path, dict[str, Any], list[dict[str, Any]]]],
    tmp_path: Path,
) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from onnx_wizard.inspection.samples import ensure_sample

    folder, report, _ = quantized["bert-classifier"]
    dtypes = _community_layout(folder, report, tmp_path, "bert")
    assert dtypes == ["fp32", *TJS_FILES]
    sample = ensure_sample("bert-classifier")
    model = AutoModelForSequenceClassification.from_pretrained(sample).eval()
    with torch.no_grad():
        logits = model(**AutoTokenizer.from_pretrained(sample)(SENTENCE, return_tensors="pt"))
    expected = model.config.id2label[int(logits.logits.argmax())]
    labels = _run_node(transformers_js, tmp_path, "bert", "text-classification", dtypes)
    assert {d: r.get("label", r.get("error")) for d, r in labels.items()} == dict.fromkeys(
        dtypes, expected
    )

    folder, report, _ = quantized["gpt2"]
    dtypes = _community_layout(folder, report, tmp_path, "gpt2")
    texts = _run_node(transformers_js, tmp_path, "gpt2", "text-generation", dtypes)
    for dtype in dtypes:
        assert "error" not in texts[dtype], (dtype, texts[dtype])
        generated = texts[dtype]["generated_text"]
        assert generated.startswith(SENTENCE) and len(generated) > len(SENTENCE), dtype


def test_q8_takes_uint8_weights_where_onnxruntime_web_lacks_int8_kernels() -> None:
    import onnx
    from onnx import TensorProto, helper

    from onnx_wizard.quantize.recipes import weight_type_for

    def graph_with(op: str) -> onnx.ModelProto:
        node = helper.make_node(op, ["x", "w"], ["y"])
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, None)
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
        return helper.make_model(helper.make_graph([node], "g", [x], [y]))

    assert weight_type_for("auto", graph_with("Conv")) == "uint8"
    assert weight_type_for("auto", graph_with("MultiHeadAttention")) == "uint8"
    assert weight_type_for("auto", graph_with("MatMul")) == "int8"
    assert weight_type_for("int8", graph_with("Conv")) == "int8"  # int8 is forced
