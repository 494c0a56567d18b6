"""onnx-wizard: a headless engine that guides a Hugging Face model to validated ONNX files.

This package is the engine. It is pure Python and never imports a UI toolkit; the renderers live
in ``onnx_wizard.widgets`` (Textual, ipywidgets). Heavy libraries (torch, transformers, optimum,
onnxruntime) are imported lazily, only inside the step or child process that needs them, so that
``import onnx_wizard`` and the first screen stay instant.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["ExportFailed", "ExportResult", "export"]


def __getattr__(name: str) -> Any:
    """``onnx_wizard.export`` and its result types, imported on first use (still light)."""
    if name in ("export", "ExportFailed"):
        from onnx_wizard import api

        return getattr(api, name)
    if name == "ExportResult":
        from onnx_wizard.result import ExportResult

        return ExportResult
    raise AttributeError(f"module 'onnx_wizard' has no attribute {name!r}")


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext onnx_wizard``: delegate to the notebook renderer, imported only now."""
    from onnx_wizard.widgets.notebook import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: object) -> None:
    from onnx_wizard.widgets.notebook import unload_ipython_extension as unload

    unload(ipython)
