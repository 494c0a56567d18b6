"""Offline task detection and optimum's cached task table (shipped, cached, regenerated)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from onnx_wizard.inspection import supported_tasks
from onnx_wizard.inspection.supported_tasks import cache_path, installed_versions, load_table
from onnx_wizard.inspection.tasks import (
    AUDIO_TASKS,
    SUFFIX_TASKS,
    TEXT_TASKS,
    VISION_TASKS,
    detect_library,
    detect_task,
    detect_task_for_folder,
)


@pytest.fixture(autouse=True)
def fresh_table_memo() -> Any:
    """load_table memoises per process; tests that move the files need a clean memo."""
    load_table.cache_clear()
    yield
    load_table.cache_clear()


def test_shipped_table_equals_a_fresh_computation(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.json"
    done = subprocess.run(
        [sys.executable, "-m", "onnx_wizard.inspection.task_table_child", "--dump", str(fresh)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    shipped = json.loads(supported_tasks.SHIPPED_TABLE.read_text())
    assert shipped["versions"] == installed_versions()
    assert json.loads(fresh.read_text()) == shipped
    assert load_table().source == "shipped"


def test_version_mismatch_regenerates_into_the_cache(
    tmp_path: Path, wizard_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = json.loads(supported_tasks.SHIPPED_TABLE.read_text())
    stale["versions"] = {**stale["versions"], "transformers": "4.0.0"}
    stale_path = tmp_path / "stale.json"
    stale_path.write_text(json.dumps(stale))
    monkeypatch.setattr(supported_tasks, "SHIPPED_TABLE", stale_path)

    target = cache_path(installed_versions())
    assert wizard_home in target.parents and not target.exists()
    table = load_table()
    assert table.source == "regenerated"
    assert table.versions == installed_versions()
    assert target.exists()
    assert "text-generation-with-past" in table.tasks_for("gpt2")

    # Once cached, no child process runs again.
    def no_child(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("regenerated although a cache exists")

    monkeypatch.setattr(supported_tasks.subprocess, "run", no_child)
    load_table.cache_clear()
    assert load_table().source == "cache"


def test_loading_the_table_imports_nothing_heavy() -> None:
    code = (
        "import sys, time; t = time.perf_counter()\n"
        "from onnx_wizard.inspection.supported_tasks import load_table\n"
        "table = load_table()\n"
        "print(time.perf_counter() - t, table.source)\n"
        "print(sorted(m for m in ('torch', 'transformers', 'optimum') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    timing, heavy = done.stdout.splitlines()
    seconds, source = timing.split()
    assert source == "shipped" and float(seconds) < 0.3
    assert heavy == "[]"


def test_task_names_are_optimums() -> None:
    table = load_table()
    names = set(table.all_tasks)
    assert {task for _, task in SUFFIX_TASKS} <= names
    assert names >= TEXT_TASKS | VISION_TASKS | AUDIO_TASKS
    for tasks in table.supported["transformers"].values():
        assert {t.removesuffix("-with-past") for t in tasks} <= names


def test_architecture_map_covers_optimums_own_mapping() -> None:
    """Every class optimum maps to a task is in the inverted table with that task."""
    from optimum.exporters.tasks import TasksManager

    table = load_table()
    for task, mapping in TasksManager._TRANSFORMERS_TASKS_TO_MODEL_MAPPINGS.items():
        for names in mapping.values():
            for name in (names,) if isinstance(names, str) else names:
                assert task in [t for t, _ in table.tasks_for_architecture(name)], (name, task)


def test_optimum_cannot_infer_a_local_folder(tmp_path: Path) -> None:
    """The reason this module exists: optimum refuses task inference for local folders."""
    from optimum.exporters.tasks import TasksManager

    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(RuntimeError, match="Cannot infer the task from a local directory"):
        TasksManager.infer_task_from_model(str(tmp_path), library_name="transformers")
    assert detect_task_for_folder(tmp_path).task == "text-generation-with-past"


LABELS = {"id2label": {"0": "cat", "1": "dog"}}


@pytest.mark.parametrize(
    ("config", "task"),
    [
        ({"model_type": "gpt2"}, "text-generation-with-past"),
        ({"model_type": "t5", "is_encoder_decoder": True}, "text2text-generation-with-past"),
        ({"model_type": "whisper"}, "automatic-speech-recognition-with-past"),
        ({"model_type": "bert"}, "feature-extraction"),
        ({"model_type": "bert", **LABELS}, "text-classification"),
        ({"model_type": "vit", "image_size": 224, **LABELS}, "image-classification"),
        ({"architectures": ["GPT2LMHeadModel"]}, "text-generation-with-past"),
    ],
)
def test_detect_without_architectures(config: dict[str, Any], task: str) -> None:
    detection = detect_task(config)
    assert detection.task == task
    assert detection.supported and detection.candidates[0] == task
    supported = load_table().tasks_for(config.get("model_type", "gpt2"))
    assert set(detection.candidates) <= set(supported)


def test_unsupported_head_falls_back_to_the_base_model() -> None:
    detection = detect_task({"model_type": "t5", "architectures": ["T5ForSequenceClassification"]})
    assert detection.task == "feature-extraction-with-past"
    assert any("without the T5ForSequenceClassification head" in r for r in detection.reasons)


def test_custom_class_uses_its_name_suffix() -> None:
    detection = detect_task({"model_type": "llama", "architectures": ["FancyForCausalLM"]})
    assert detection.task == "text-generation-with-past"
    assert any("ends in ForCausalLM" in r for r in detection.reasons)


def test_candidates_put_the_past_twin_second() -> None:
    detection = detect_task({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]})
    assert detection.candidates[:2] == ("text-generation-with-past", "text-generation")
    assert detection.with_past and detection.with_past_applies


def test_library_detection_from_files(tmp_path: Path) -> None:
    timm = tmp_path / "timm"
    timm.mkdir()
    config = {"architecture": "resnet18", "num_classes": 10, "pretrained_cfg": {}}
    (timm / "config.json").write_text(json.dumps(config))
    assert detect_library(timm, config)[0] == "timm"
    detection = detect_task(config, "timm")
    assert detection.task == "image-classification" and detection.supported

    pipe = tmp_path / "sd"
    pipe.mkdir()
    index = {"_class_name": "StableDiffusionImg2ImgPipeline", "_diffusers_version": "0.30.0"}
    (pipe / "model_index.json").write_text(json.dumps(index))
    assert detect_library(pipe, index)[0] == "diffusers"
    assert detect_task(index, "diffusers").task == "image-to-image"
