"""``onnx-wizard quantize``: make and prove quantized variants of an exported model."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from typing import Any

from onnx_wizard.errors import WizardError


def add_quantize_arguments(parser: argparse.ArgumentParser, *, for_export: bool = False) -> None:
    """The quantization flags; ``export`` takes them too (with ``--quantize`` for the list)."""
    if not for_export:
        parser.add_argument(
            "--targets",
            required=True,
            metavar="LIST",
            help="comma-separated: fp16,q8,int8,uint8,q4,q4f16,bnb4 (Transformers.js), "
            "arm64,avx2,avx512,avx512_vnni (ONNX Runtime dynamic int8), tensorrt,cpu-qdq "
            "(static int8, calibrated), 'cpu' for this machine's preset",
        )
    parser.add_argument(
        "--calibration",
        metavar="FILE",
        help="calibration samples for static int8: a text file (one a line), JSONL or CSV "
        "(default: built-in sample sentences)",
    )
    parser.add_argument("--column", metavar="NAME", help="the text field of a JSONL or CSV file")
    parser.add_argument(
        "--samples", type=int, metavar="N", help="use N calibration samples (fail if fewer)"
    )
    parser.add_argument(
        "--per-channel", action="store_true", help="ONNX Runtime presets: per-channel weights"
    )
    parser.add_argument(
        "--reduce-range", action="store_true", help="ONNX Runtime presets: 7-bit weights"
    )
    parser.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="VARIANT=VALUE",
        help="the accuracy a variant must reach (cosine, top-1 or token agreement), "
        "e.g. q8=0.995; repeatable",
    )
    parser.add_argument(
        "--js-device",
        choices=("wasm", "webgpu"),
        default="wasm",
        help="the Transformers.js device whose best passing dtype goes into config.json",
    )


def parse_thresholds(items: list[str]) -> dict[str, float]:
    thresholds = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            thresholds[name.strip()] = float(value)
        except ValueError:
            raise WizardError(
                f"--threshold {item!r} is not VARIANT=NUMBER.", "Write it like q8=0.99."
            ) from None
    return thresholds


def run_quantization(
    onnx_dir: str,
    targets: str,
    args: argparse.Namespace,
    *,
    task: str | None = None,
    export_command: str | None = None,
) -> dict[str, Any]:
    """Run ``quantize_folder`` with a line per variant on stderr; Ctrl-C cancels the children."""
    from onnx_wizard.quantize.api import quantize_folder

    started = time.monotonic()
    cancel = threading.Event()

    def progress(event: dict[str, Any]) -> None:
        elapsed = time.monotonic() - started
        if event["event"] == "quantize_started":
            names = ", ".join(event["variants"])
            print(f"quantizing {len(event['files'])} file(s) into: {names}", file=sys.stderr)
        elif event["event"] == "variant":
            row = event["row"]
            figure = "" if row["value"] is None else f" {row['metric']} {row['value']:.4f}"
            print(
                f"  [{elapsed:6.1f}s {event['index']}/{event['total']}] {event['variant']}: "
                f"{event['verdict']}{figure}",
                file=sys.stderr,
            )

    holder: dict[str, Any] = {}

    def work() -> None:
        try:
            holder["report"] = quantize_folder(
                onnx_dir,
                targets,
                calibration=args.calibration,
                column=args.column,
                calibration_samples=args.samples,
                task=task,
                on_event=progress,
                thresholds=parse_thresholds(args.threshold),
                per_channel=args.per_channel,
                reduce_range=args.reduce_range,
                device=args.js_device,
                export_command=export_command,
                cancel=cancel,
            )
        except BaseException as error:  # re-raised in the main thread, where the CLI reports it
            holder["error"] = error

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(timeout=0.2)
    except KeyboardInterrupt:
        cancel.set()
        worker.join()
        raise
    if "error" in holder:
        raise holder["error"]
    report = holder["report"]
    return {"report": report, "dict": report.to_dict(), "text": report.render_text()}


def cmd_quantize(args: argparse.Namespace) -> int:
    done = run_quantization(args.onnx_dir, args.targets, args)
    print(json.dumps(done["dict"], indent=2) if args.json else done["text"])
    return 1 if done["report"].failed else 0
