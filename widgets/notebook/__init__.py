"""The Jupyter face of onnx-wizard: ``%load_ext onnx_wizard`` and the ``Wizard`` widget.

``load_ipython_extension`` registers the ``%onnx_wizard`` line/cell magic (``magics``);
``Wizard(model=...)`` is the same widget without magics. Importing this package loads neither
IPython nor ipywidgets: the extension functions and ``Wizard`` import them when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from onnx_wizard.widgets.notebook.wizard import Wizard

__all__ = ["Wizard", "load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext onnx_wizard``: register the ``%onnx_wizard`` magic."""
    from onnx_wizard.widgets.notebook.magics import register

    register(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext onnx_wizard`` (and ``%reload_ext``): remove the magic again."""
    from onnx_wizard.widgets.notebook.magics import unregister

    unregister(ipython)


def __getattr__(name: str) -> Any:
    if name == "Wizard":
        from onnx_wizard.widgets.notebook.wizard import Wizard

        return Wizard
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
