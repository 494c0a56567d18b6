"""Tests for the prerequisite checks: fake environments for conflicts, the real one for health."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from onnx_wizard.checks import environment as checks
from onnx_wizard.checks.environment import (
    CheckResult,
    Environment,
    overall_exit_code,
    probe,
    render_text,
    run_checks,
)


@pytest.fixture(scope="module")
def real_env() -> Environment:
    return Environment.from_metadata()


def by_name(results: list[CheckResult], name: str) -> CheckResult:
    matches = [r for r in results if r.name == name]
    assert len(matches) == 1, [r.name for r in results]
    return matches[0]


def with_versions(env: Environment, **changes: str | None) -> Environment:
    """The real environment with some versions swapped (None removes the package)."""
    versions = dict(env.versions)
    for key, value in changes.items():
        name = key.replace("_", "-")
        if value is None:
            versions.pop(name, None)
        else:
            versions[name] = value
    return replace(env, versions=versions)


def test_real_install_passes_dependency_checks(real_env: Environment) -> None:
    for name in checks.REQUIRED:
        assert real_env.version(name), f"{name} should be installed here"
    assert checks.check_dependency_pins(real_env).status == "ok"
    assert checks.check_known_conflicts(real_env).status == "ok"
    assert checks.check_onnxruntime_build(real_env).status == "ok"
    # optimum-onnx's real metadata carries the pin the conflict tests rely on.
    assert any(
        r.startswith("transformers") and "<4.58" in r for r in real_env.requires["optimum-onnx"]
    )


def test_transformers_5_fails_naming_both_packages_and_the_pin(real_env: Environment) -> None:
    env = with_versions(real_env, transformers="5.0.0")
    pins = checks.check_dependency_pins(env)
    assert pins.status == "fail"
    assert "optimum-onnx" in pins.detail and "transformers 5.0.0" in pins.detail
    assert ">=4.36" in pins.detail and "<4.58" in pins.detail
    assert pins.fix.startswith('pip install "transformers>=4.36,<4.58')
    conflict = checks.check_known_conflicts(env)
    assert conflict.status == "fail" and "transformers 5.0.0" in conflict.detail
    assert overall_exit_code(run_checks(env=env)) == 1


def test_huggingface_hub_1_is_a_known_conflict(real_env: Environment) -> None:
    env = with_versions(real_env, huggingface_hub="1.0.1")
    conflict = checks.check_known_conflicts(env)
    assert conflict.status == "fail"
    assert "huggingface_hub 1.0.1" in conflict.detail
    assert '"huggingface-hub<1.0"' in conflict.fix
    # transformers 4.57 itself pins huggingface-hub<1.0, so the pin check catches it too.
    assert checks.check_dependency_pins(env).status == "fail"


def test_both_onnxruntime_packages_fail_with_the_reinstall_fix(real_env: Environment) -> None:
    env = with_versions(real_env, onnxruntime="1.32.0", onnxruntime_gpu="1.32.0")
    result = by_name(run_checks(env=env), "onnxruntime build")
    assert result.status == "fail"
    assert (
        result.fix == "pip uninstall -y onnxruntime onnxruntime-gpu && pip install onnxruntime-gpu"
    )


def test_gpu_package_alone_counts_as_onnxruntime(real_env: Environment) -> None:
    env = with_versions(real_env, onnxruntime=None, onnxruntime_gpu="1.32.0")
    results = checks.check_packages(env)
    assert by_name(results, "onnxruntime").status == "ok"
    assert checks.check_onnxruntime_build(env).detail.startswith("GPU package")


def test_missing_torch_fails_with_install_command(real_env: Environment) -> None:
    env = with_versions(real_env, torch=None)
    results = run_checks(env=env)
    torch = by_name(results, "torch")
    assert torch.status == "fail" and torch.fix == "pip install torch"
    pins = by_name(results, "dependency pins")
    assert pins.status == "fail" and "torch" in pins.detail and "not installed" in pins.detail
    assert overall_exit_code(results) == 1


def test_missing_optional_packages_warn_and_say_what_needs_them(real_env: Environment) -> None:
    env = with_versions(real_env, onnx_ir=None, accelerate=None, onnxslim=None)
    results = checks.check_packages(env)
    assert by_name(results, "onnx-ir").status == "warn"
    assert "q4" in by_name(results, "onnx-ir").detail
    assert "tied" in by_name(results, "accelerate").detail
    assert "--slim" in by_name(results, "onnxslim").detail
    assert by_name(results, "onnxslim").fix == "pip install onnxslim"


def test_requirements_behind_false_markers_are_skipped() -> None:
    env = Environment(
        (3, 11, 0),
        {"optimum-onnx": "0.1.0", "onnx": "1.23.2"},
        requires={"optimum-onnx": ('onnxslim>=0.1.60; extra == "tests"', "onnx")},
    )
    assert checks.check_dependency_pins(env).status == "ok"
    broken = replace(env, requires={"optimum-onnx": ("onnx>=2",)})
    assert checks.check_dependency_pins(broken).status == "fail"


@pytest.mark.parametrize(
    ("version", "status"), [((3, 8, 18), "fail"), ((3, 9, 1), "warn"), ((3, 11, 7), "ok")]
)
def test_python_version_thresholds(real_env: Environment, version: tuple, status: str) -> None:
    assert checks.check_python(replace(real_env, python_version=version)).status == status


def test_providers_read_from_installed_files(real_env: Environment) -> None:
    gpu_files = ("onnxruntime/capi/libonnxruntime_providers_cuda.so", "onnxruntime/capi/x.py")
    env = with_versions(real_env, onnxruntime=None, onnxruntime_gpu="1.32.0")
    env = replace(env, files={"onnxruntime-gpu": gpu_files})
    no_gpu = probe.GpuInfo(False, (), "test")
    result = checks.check_providers(env, no_gpu)
    assert "CUDAExecutionProvider" in result.detail and result.status == "ok"
    # The real CPU install has no CUDA library: with a GPU present that is worth a warning.
    cpu_result = checks.check_providers(real_env, probe.GpuInfo(True, ("H100",), "test"))
    assert cpu_result.status == "warn" and "onnxruntime-gpu" in cpu_result.fix


def test_gpu_detected_from_proc_without_torch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = tmp_path / "gpus" / "0000:01:00.0" / "information"
    info.parent.mkdir(parents=True)
    info.write_text("Model: \t\t NVIDIA H100 80GB HBM3\nIRQ: 42\n")
    gpu = probe.detect_nvidia_gpu(tmp_path)
    assert gpu.present and gpu.names == ("NVIDIA H100 80GB HBM3",)
    monkeypatch.setattr(probe.shutil, "which", lambda name: None)
    assert not probe.detect_nvidia_gpu(tmp_path / "absent").present
    monkeypatch.setattr(probe.shutil, "which", lambda name: "/usr/bin/nvidia-smi")
    assert probe.detect_nvidia_gpu(tmp_path / "absent").how == "nvidia-smi on PATH"


def test_token_is_reported_but_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "hf_FAKEtokenValue0123456789abcdef"
    monkeypatch.setenv("HF_TOKEN", secret)
    results = run_checks()
    token = by_name(results, "hub token")
    assert token.status == "ok" and token.detail == "present (from env HF_TOKEN)"
    assert secret not in render_text(results)
    assert secret not in json.dumps([r.to_dict() for r in results])
    assert all(secret not in repr(r) for r in results)


def test_token_file_and_absence(tmp_path: Path) -> None:
    environ = {"HF_HOME": str(tmp_path)}
    absent = checks.check_hub_token(environ)
    assert absent.status == "warn"
    assert absent.fix == checks.hub_login_command(checks.installed_hub_version())
    (tmp_path / "token").write_text("hf_secretfromfile")
    present = checks.check_hub_token(environ)
    assert present.status == "ok" and "from file" in present.detail
    assert "hf_secretfromfile" not in present.detail
    other = tmp_path / "elsewhere"
    other.write_text("hf_x")
    via_path = checks.check_hub_token({"HF_TOKEN_PATH": str(other), "HF_HOME": "/nonexistent"})
    assert str(other) in via_path.detail


def test_render_text_aligns_columns_and_shows_fixes() -> None:
    results = [
        CheckResult("python", "ok", "Python 3.11.7"),
        CheckResult("onnxruntime build", "fail", "both installed", "pip uninstall -y x"),
        CheckResult("ram", "warn", "1.0 GiB free", ""),
    ]
    lines = render_text(results).splitlines()
    assert len(lines) == 5  # three checks, one fix line, one summary
    column = lines[0].index("Python 3.11.7")
    assert lines[1].index("both installed") == column
    assert lines[3].index("1.0 GiB free") == column
    assert lines[2].strip() == "fix: pip uninstall -y x" and lines[2].index("fix:") == column
    assert lines[1].startswith("[fail]") and lines[3].startswith("[warn]")
    assert "1 failed, 1 warnings" in lines[-1]
    assert overall_exit_code(results) == 1
    assert overall_exit_code(results[:1] + results[2:]) == 0
    assert results[1].to_dict() == {
        "name": "onnxruntime build",
        "status": "fail",
        "detail": "both installed",
        "fix": "pip uninstall -y x",
    }


def _run_in_fresh_interpreter(call: str) -> dict:
    code = (
        "import json, sys, time\n"
        "t = time.perf_counter()\n"
        "from onnx_wizard.checks.environment import run_checks\n"
        f"results = {call}\n"
        "elapsed = time.perf_counter() - t\n"
        "heavy = [m for m in ('torch', 'transformers', 'optimum', 'onnxruntime', 'onnx')"
        " if m in sys.modules]\n"
        "names = [r.name for r in results]\n"
        "details = [r.detail for r in results]\n"
        "print(json.dumps({'elapsed': elapsed, 'heavy': heavy, 'names': names,"
        " 'details': details}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_run_checks_is_fast_and_imports_nothing_heavy() -> None:
    report = _run_in_fresh_interpreter("run_checks()")
    assert report["heavy"] == []
    assert "dependency pins" in report["names"] and "hub token" in report["names"]
    assert "gpu probe" not in report["names"]
    assert report["elapsed"] < 1.0


def test_gpu_probe_imports_torch_only_in_its_child() -> None:
    report = _run_in_fresh_interpreter("run_checks(probe_gpu=True, probe_timeout=120)")
    assert report["heavy"] == []
    detail = report["details"][report["names"].index("gpu probe")]
    assert "torch sees" in detail and "CPUExecutionProvider" in detail


def test_gpu_probe_timeout_is_a_warning() -> None:
    report = probe.probe_child(timeout=0.001)
    assert "error" in report
    result = checks.check_gpu_probe(report, probe.GpuInfo(False, (), "test"))
    assert result.status == "warn"
