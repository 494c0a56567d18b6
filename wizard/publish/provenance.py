"""Where an export came from, as the export recorded it: source model, task, commands, card.

The export writes the equivalent ``optimum-cli`` command as the first line of each attempt's
log (``run_logs_dir(folder)/run-*/attempt-N.log`` in the wizard's home); quantization.json
holds the quantization commands, led by the export's when the quantization step knew it. A
base model is only claimed when it is a Hub id: a card never names one it cannot link to.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onnx_wizard.errors import WizardError
from onnx_wizard.inspection.source import looks_like_hub_id
from onnx_wizard.paths import run_logs_dir
from onnx_wizard.publish.variants import QuantizationRecord


@dataclass
class Provenance:
    model: str | None = None  # what the export was given: a Hub id or a local folder
    base_model: str | None = None
    task: str | None = None  # optimum's task name, e.g. text2text-generation-with-past
    commands: list[str] = field(default_factory=list)
    source_card: str | None = None
    license: str | None = None
    notes: list[str] = field(default_factory=list)


def _attempt_number(log: Path) -> int:
    found = re.search(r"(\d+)", log.stem)
    return int(found[1]) if found else 0


def export_command(export_dir: Path) -> str | None:
    """The command of the export's last attempt, from the run logs the wizard keeps for it."""
    runs = sorted(run_logs_dir(export_dir).glob("run-*"), reverse=True)  # names are timestamps
    for run in runs:
        for log in sorted(run.glob("attempt-*.log"), key=_attempt_number, reverse=True):
            try:
                with log.open(encoding="utf-8", errors="replace") as handle:
                    first = handle.readline().strip()
            except OSError:
                continue
            if first.startswith("$ "):
                return first[2:]
    return None


def _flag(command: str, *names: str) -> str | None:
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    for index, word in enumerate(words):
        for name in names:
            if word == name and index + 1 < len(words):
                return words[index + 1]
            if word.startswith(name + "="):
                return word.split("=", 1)[1]
    return None


def _fact(record: QuantizationRecord | None, *keys: str) -> str | None:
    for key in keys:
        value = record.facts.get(key) if record else None
        if isinstance(value, str) and value:
            return value
    return None


def _card_license(text: str) -> str | None:
    from huggingface_hub import ModelCard

    if not text.startswith("---"):
        return None  # no front matter, so no licence field (and no warning from ModelCard)
    try:
        data = ModelCard(text, ignore_metadata_errors=True).data.to_dict()
    except Exception:  # a card with broken front matter still gets appended, licence unknown
        return None
    value = data.get("license")
    if value == "other" and data.get("license_name"):
        return f"other ({data['license_name']})"
    return str(value) if value else None


def _cached_card(repo_id: str, fetch: bool, notes: list[str]) -> str | None:
    """The Hub model's README.md: from the local cache, or downloaded when ``fetch``."""
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    cached = try_to_load_from_cache(repo_id, "README.md")
    if isinstance(cached, str):
        return Path(cached).read_text(encoding="utf-8", errors="replace")
    if not fetch:
        notes.append(
            f"The card of {repo_id} is not in the local cache and this run makes no "
            "request, so its licence and text are not carried over here."
        )
        return None
    try:
        return Path(hf_hub_download(repo_id, "README.md")).read_text("utf-8", errors="replace")
    except Exception as error:  # no card, offline, gated: the card says so instead
        notes.append(
            f"The card of {repo_id} could not be read ({type(error).__name__}); its "
            "licence is not carried over."
        )
        return None


def _detected_task(export_dir: Path, config: dict[str, Any], notes: list[str]) -> str | None:
    from onnx_wizard.inspection.tasks import detect_library, detect_task

    library, _why = detect_library(export_dir, config)
    task = detect_task(config, library).task
    if task:
        notes.append(f"No recorded export task; {task} was detected from config.json.")
    return task


def read_provenance(
    export_dir: Path,
    config: dict[str, Any],
    record: QuantizationRecord | None,
    *,
    base_model: str | None = None,
    fetch: bool = False,
) -> Provenance:
    """What is known about the source of ``export_dir``; ``fetch`` allows one Hub request."""
    found = Provenance()
    export = export_command(export_dir)
    recorded = [c for c in (record.commands if record else ()) if c]
    if export and not any("export onnx" in c for c in recorded):
        recorded.insert(0, export)
    found.commands = recorded
    export = next((c for c in recorded if "export onnx" in c), export)
    found.model = _fact(record, "model", "source") or (
        _flag(export, "--model", "-m") if export else None
    )
    found.task = _fact(record, "task") or (_flag(export, "--task") if export else None)
    if base_model is not None and not looks_like_hub_id(base_model):
        raise WizardError(
            f"--base-model {base_model!r} is not a Hub model id.",
            "Give the id of the model on the Hub, e.g. --base-model google-t5/t5-small.",
        )
    local = Path(found.model).expanduser() if found.model else None
    if local is not None and local.is_dir():
        readme = local / "README.md"
        if readme.is_file():
            found.source_card = readme.read_text(encoding="utf-8", errors="replace")
    elif found.model and looks_like_hub_id(found.model):
        found.base_model = found.model
    found.base_model = base_model or _fact(record, "base_model") or found.base_model
    if found.base_model and found.source_card is None:
        found.source_card = _cached_card(found.base_model, fetch, found.notes)
    if found.task is None:
        found.task = _detected_task(export_dir, config, found.notes)
    if found.model is None and found.base_model is None:
        found.notes.append(
            "The export left no record of its source model (no attempt log and "
            "no quantization.json source), so the card names none."
        )
    found.license = _card_license(found.source_card) if found.source_card else None
    if found.license is None and isinstance(config.get("license"), str):
        found.license = config["license"]
    return found
