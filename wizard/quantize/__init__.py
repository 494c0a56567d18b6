"""Quantization: ONNX Runtime CPU presets and Transformers.js dtypes, each variant proven.

``api.quantize_folder`` is the entry point (light: it only starts child processes); ``targets``,
``calibration`` and ``report`` are plain data. ``child``, ``recipes`` and ``measure`` import onnx
and onnxruntime and run only in ``python -m onnx_wizard.quantize.child``. May import planning
and the plain-data modules of the engine; never the flow or the renderers.
"""
