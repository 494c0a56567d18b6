"""GPU and ONNX Runtime provider discovery: a cheap look at files, and an opt-in child probe.

The cheap half never imports torch or onnxruntime: it reads ``/proc/driver/nvidia`` and the
installed file list of the onnxruntime distributions. The expensive half (``probe_child``) runs
``python -m onnx_wizard.checks.probe`` in a child process, which imports torch and onnxruntime
there, so a slow CUDA initialisation or a native crash costs the child and never the wizard.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Provider libraries onnxruntime ships in capi/, by the fragment of their file name.
# CPUExecutionProvider is built into the main library, so it is always there.
_PROVIDER_LIBS: dict[str, str] = {
    "providers_cuda": "CUDAExecutionProvider",
    "providers_tensorrt": "TensorrtExecutionProvider",
    "providers_rocm": "ROCMExecutionProvider",
    "providers_migraphx": "MIGraphXExecutionProvider",
    "providers_openvino": "OpenVINOExecutionProvider",
    "providers_dnnl": "DnnlExecutionProvider",
    "providers_qnn": "QNNExecutionProvider",
    "directml": "DmlExecutionProvider",
}
_LIB_SUFFIXES = (".so", ".dll", ".dylib")


@dataclass(frozen=True)
class GpuInfo:
    """What the system says about NVIDIA GPUs without loading any CUDA library."""

    present: bool
    names: tuple[str, ...]
    how: str  # which evidence was found, for the report


def detect_nvidia_gpu(proc_root: Path = Path("/proc/driver/nvidia")) -> GpuInfo:
    """Look for an NVIDIA driver and its GPUs via /proc and ``nvidia-smi`` on PATH (no exec)."""
    names: list[str] = []
    gpus_dir = proc_root / "gpus"
    try:
        for info in sorted(gpus_dir.glob("*/information")):
            for line in info.read_text(errors="replace").splitlines():
                if line.startswith("Model:"):
                    names.append(line.split(":", 1)[1].strip())
    except OSError:
        pass
    if names or (proc_root / "version").exists():
        return GpuInfo(True, tuple(names), "driver in /proc/driver/nvidia")
    if shutil.which("nvidia-smi"):
        return GpuInfo(True, (), "nvidia-smi on PATH")
    return GpuInfo(False, (), "no /proc/driver/nvidia and no nvidia-smi")


def providers_from_files(files: Iterable[str]) -> list[str]:
    """Execution providers an onnxruntime install ships, judged by its provider libraries."""
    found = ["CPUExecutionProvider"]
    for path in files:
        name = path.replace("\\", "/").rsplit("/", 1)[-1].lower()
        if not name.endswith(_LIB_SUFFIXES):
            continue
        for fragment, provider in _PROVIDER_LIBS.items():
            if fragment in name and provider not in found:
                found.append(provider)
    return found


def probe_child(timeout: float = 60.0) -> dict[str, Any]:
    """Run this module in a child process and return what torch and onnxruntime report.

    Never raises: a timeout or a crash comes back as ``{"error": "..."}``.
    """
    try:
        done = subprocess.run(
            [sys.executable, "-m", "onnx_wizard.checks.probe"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"the GPU probe did not finish within {timeout:.0f} s"}
    except OSError as exc:
        return {"error": f"could not start the GPU probe: {exc}"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"the GPU probe exited with code {done.returncode}: {tail[:200]}"}
    try:
        result: dict[str, Any] = json.loads(lines[-1])
    except json.JSONDecodeError:
        return {"error": "the GPU probe printed something that is not JSON"}
    return result


def _probe_here() -> dict[str, Any]:
    """Import torch and onnxruntime (in the child) and report CUDA and providers."""
    report: dict[str, Any] = {}
    try:
        import torch

        report["torch"] = torch.__version__
        report["torch_cuda_build"] = torch.version.cuda
        available = bool(torch.cuda.is_available())
        report["cuda_available"] = available
        report["cuda_device"] = torch.cuda.get_device_name(0) if available else None
    except Exception as exc:  # any failure is a finding to report, not a crash
        report["torch_error"] = f"{type(exc).__name__}: {exc}"
    try:
        import onnxruntime

        report["onnxruntime"] = onnxruntime.__version__
        report["providers"] = list(onnxruntime.get_available_providers())
    except Exception as exc:
        report["onnxruntime_error"] = f"{type(exc).__name__}: {exc}"
    return report


if __name__ == "__main__":
    print(json.dumps(_probe_here()))
