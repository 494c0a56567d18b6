"""Validation of an export against PyTorch: report types, and the comparison in a child.

``report`` is light; ``child``, ``compare``, ``reference`` and ``sentence_transformers`` import
torch and onnxruntime and run only in the validation or export child.
"""
