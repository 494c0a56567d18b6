"""``onnx-wizard publish``: stage the onnx-community layout and card, ask, upload."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from onnx_wizard.errors import WizardError
from onnx_wizard.planning.memory import format_size


def add_publish_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", metavar="DIR", help="the folder onnx-wizard export wrote")
    parser.add_argument("--repo", required=True, metavar="OWNER/NAME", help="the Hub repo id")
    parser.add_argument("--private", action="store_true", help="create the repo as private")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="build the layout and card, upload nothing (no request at all), keep the folder",
    )
    parser.add_argument("--yes", action="store_true", help="upload without asking")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace files the repo already has and delete those not in the layout",
    )
    parser.add_argument(
        "--all-onnx",
        action="store_true",
        help="also publish ONNX files Transformers.js never loads (decoder_model.onnx, ...)",
    )
    parser.add_argument("--base-model", metavar="ID", help="the source model's Hub id")
    parser.add_argument(
        "--staging",
        metavar="DIR",
        help="where to build the layout (a new or empty folder; default: beside DIR)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")


class FilePrinter:
    """One line per file on stderr; stdout stays for the result (or the JSON)."""

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "stage":
            print(f"  {event['label']}", file=sys.stderr)
        elif kind == "file" and event.get("status") != "uploading":
            where = f"[{event['index']}/{event['count']}] " if "index" in event else ""
            print(
                f"  {where}{event['status']:<9} {event['path']} ({format_size(event['bytes'])})",
                file=sys.stderr,
            )


def _ask(question: str) -> bool:
    if not sys.stdin.isatty():
        raise WizardError(
            "Publishing needs your yes, and there is no terminal to ask in.",
            "Check the layout with --dry-run, then rerun with --yes.",
        )
    print(question + " [y/N] ", end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def cmd_publish(args: argparse.Namespace) -> int:
    from onnx_wizard.publish.api import prepare_publish, upload_staged

    plan = prepare_publish(
        args.folder,
        args.repo,
        private=args.private,
        include_unused=args.all_onnx,
        base_model=args.base_model,
        staging=Path(args.staging) if args.staging else None,
        fetch_source_card=not args.dry_run,
    )
    out = sys.stderr if args.json else sys.stdout
    print("\n".join(plan.summary_lines()), file=out)
    if args.dry_run:
        print(f"Dry run: nothing was uploaded. The staged folder is {plan.folder}", file=out)
        if args.json:
            print(json.dumps({"status": "dry-run", **plan.to_dict()}, indent=2))
        return 0
    if not args.yes and not _ask(plan.question()):
        print("Not uploaded.", file=sys.stderr)
        return 1
    result = upload_staged(plan, overwrite=args.overwrite, on_event=FilePrinter())
    if args.json:
        print(json.dumps({"status": "published", **result.to_dict()}, indent=2))
    elif result.up_to_date:
        print(f"{plan.repo_id} already holds these files; nothing new was sent. {result.url}")
    else:
        sent = format_size(result.bytes_sent)
        print(f"Published {len(result.uploaded)} file(s) ({sent}) to {result.url}")
    return 0
