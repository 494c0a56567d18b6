"""The ``onnx-wizard`` command: argument parsing, the subcommands and their text output.

The top layer: may import every engine package, lazily, so ``--help`` stays instant.
"""
