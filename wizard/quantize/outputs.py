"""What a quantization run leaves in the export: the variant files, config.json, the commands."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Any

from onnx_wizard.quantize.report import VariantRow
from onnx_wizard.quantize.targets import DEVICE_PREFERENCE, Target


def place_files(source: Path, destination: Path) -> list[str]:
    """Move a variant's finished files from staging to ``destination``; their relative paths."""
    placed: list[str] = []
    if not source.is_dir():
        return placed
    for path in sorted(source.rglob("*")):
        if not path.is_file() or (path.suffix == ".json" and path.name.endswith(".job.json")):
            continue
        relative = path.relative_to(source)
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        placed.append(str(relative))
    return placed


def update_config(
    folder: Path, rows: list[VariantRow], device: str, facts: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """Set ``transformers.js_config`` in config.json from the passing Transformers.js variants."""
    config_path = folder / "config.json"
    passing = {r.variant: r for r in rows if r.passed and r.kind == "transformers.js"}
    if not config_path.is_file() or not passing:
        return None
    dtype = next((d for d in DEVICE_PREFERENCE[device] if d in passing), None)
    if dtype is None:
        return None
    config = json.loads(config_path.read_text(encoding="utf-8"))
    settings = dict(config.get("transformers.js_config") or {})
    settings["dtype"] = dtype
    external = {
        Path(f).name[: -len("_data")]: True
        for r in passing.values()
        for f in r.files
        if f.endswith(".onnx_data")
    }
    external.update({Path(f["file"]).name: True for f in facts if f.get("external_data")})
    if external:
        settings["use_external_data_format"] = external
    else:
        settings.pop("use_external_data_format", None)
    config["transformers.js_config"] = settings
    config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return settings


def command_lines(
    export: str | None, chosen: list[Target], made: dict[str, list[str]]
) -> list[str]:
    lines = [export] if export else []
    for target in chosen:
        for snippet in made.get(target.name, []):
            if snippet.startswith("#"):
                lines.append(f"{snippet}  ({target.name})")
                continue
            if '"' not in snippet:  # double quotes read better inside the shell's single ones
                snippet = snippet.replace("'", '"')
            lines.append(f"python -c {shlex.quote(snippet)}  # {target.name}")
    return lines


def append_child_logs(log: Path, chosen: list[Target]) -> None:
    with log.open("a", encoding="utf-8") as out:
        for target in chosen:
            part = log.parent / f"quantize-{target.name}.log"
            if part.is_file():
                out.write(f"\n===== {target.name} =====\n")
                out.write(part.read_text(encoding="utf-8", errors="replace"))


def file_bytes(folder: Path, name: str) -> int:
    path = folder / name
    data = path.with_name(path.name + "_data")
    return path.stat().st_size + (data.stat().st_size if data.is_file() else 0)
