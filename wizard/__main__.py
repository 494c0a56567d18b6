"""``python -m onnx_wizard``: the same entry point as the ``onnx-wizard`` command."""

from __future__ import annotations

import sys

from onnx_wizard.cli.main import main

sys.exit(main())
