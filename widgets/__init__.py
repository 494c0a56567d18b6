"""Renderers of the onnx-wizard engine: ``tui`` (Textual) and ``notebook`` (ipywidgets)."""
