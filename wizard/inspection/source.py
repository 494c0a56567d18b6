"""Turn what the user typed (a folder, a Hub id or ``sample:NAME``) into a local folder to read."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from onnx_wizard.errors import WizardError

SourceKind = Literal["local", "hub", "sample"]

# What inspection needs from a Hub repository: configs and weight indexes, never the weights.
HUB_CONFIG_PATTERNS = [
    "config.json",
    "generation_config.json",
    "preprocessor_config.json",
    "processor_config.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "model_index.json",
    "modules.json",
    "config_sentence_transformers.json",
    "sentence_bert_config.json",
    "*.safetensors.index.json",
    "*.bin.index.json",
    "README.md",
]

# A Hub id is "name" or "owner/name" made of these characters (the Hub's own rule, simplified).
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]{0,95}(/[\w.\-]{1,96})?$")


@dataclass(frozen=True)
class ModelSource:
    """A model the wizard can read: ``path`` is a local folder holding its config files."""

    spec: str
    kind: SourceKind
    path: Path
    label: str


def looks_like_hub_id(spec: str) -> bool:
    """True when ``spec`` is shaped like a Hub id and not like a filesystem path."""
    if spec.startswith((".", "/", "~")) or "\\" in spec or spec.count("/") > 1:
        return False
    return bool(_HUB_ID.match(spec)) and ".." not in spec


def resolve_source(spec: str) -> ModelSource:
    """Find the folder to inspect for ``spec``; raise WizardError naming the problem and fix."""
    spec = spec.strip()
    if not spec:
        raise WizardError(
            "No model was given.", "Pass a local folder, a Hub id or sample:bert-classifier."
        )
    if spec.startswith("sample:"):
        from onnx_wizard.inspection.samples import ensure_sample

        path = ensure_sample(spec.removeprefix("sample:"))
        return ModelSource(spec, "sample", path, f"{spec} (built-in sample, random weights)")
    local = Path(spec).expanduser()
    if local.exists():
        check_model_folder(local)
        return ModelSource(spec, "local", local.resolve(), str(local.resolve()))
    if looks_like_hub_id(spec):
        return ModelSource(spec, "hub", fetch_hub_configs(spec), f"{spec} (Hugging Face Hub)")
    raise WizardError(
        f"The model folder {spec!r} does not exist.",
        "Check the path, or pass a Hub id such as distilbert-base-uncased or a sample such as "
        "sample:bert-classifier.",
    )


def check_model_folder(folder: Path) -> dict[str, Any]:
    """Check ``folder`` holds a readable model config and return it (parsed)."""
    if not folder.is_dir():
        raise WizardError(
            f"{str(folder)!r} is a file, not a model folder.",
            "Pass the folder that holds config.json (the one save_pretrained wrote).",
        )
    try:
        names = set(os.listdir(folder))
    except PermissionError:
        raise WizardError(
            f"The folder {str(folder)!r} cannot be read (permission denied).",
            f"Give your user read access, e.g. chmod -R u+rX {folder}",
        ) from None
    config_name = "config.json" if "config.json" in names else None
    if config_name is None and "model_index.json" in names:
        config_name = "model_index.json"  # a diffusers pipeline keeps its config there
    if config_name is None:
        raise WizardError(
            f"The folder {str(folder)!r} has no config.json, so it is not a saved Hugging Face "
            "model.",
            "Point at the folder that save_pretrained() wrote, or download the model with "
            "`huggingface-cli download MODEL_ID --local-dir FOLDER`.",
        )
    return read_config(folder / config_name)


def read_config(path: Path) -> dict[str, Any]:
    """Parse a config file, turning every way it can be broken into a WizardError."""
    try:
        text = path.read_text(encoding="utf-8")
    except PermissionError:
        raise WizardError(
            f"{str(path)!r} cannot be read (permission denied).",
            f"Give your user read access: chmod u+r {path}",
        ) from None
    except UnicodeDecodeError:
        raise WizardError(
            f"{str(path)!r} is not a text file, so it is not a valid config.",
            "Re-download or re-save the model so config.json is plain JSON.",
        ) from None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise WizardError(
            f"{str(path)!r} is not valid JSON (line {error.lineno}, column {error.colno}: "
            f"{error.msg}).",
            "Fix or re-download the file; model.config.save_pretrained(folder) writes a valid one.",
        ) from None
    if not isinstance(config, dict):
        raise WizardError(
            f"{str(path)!r} holds JSON but not an object of settings.",
            "Re-download or re-save the model so config.json is a JSON object.",
        )
    return config


def fetch_hub_configs(repo_id: str) -> Path:
    """Download only the small config files of a Hub model (never its weights)."""
    # huggingface_hub is light enough to import here, and only Hub ids pay for it.
    from huggingface_hub import snapshot_download
    from huggingface_hub.utils import (
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    offline_fix = (
        "Connect to the internet, or download the model first "
        f"(`huggingface-cli download {repo_id} --local-dir ./{repo_id.split('/')[-1]}`) "
        "and pass that folder."
    )
    try:
        folder = Path(snapshot_download(repo_id, allow_patterns=HUB_CONFIG_PATTERNS))
    except GatedRepoError:
        raise WizardError(
            f"{repo_id} is a gated model: you must accept its licence on the Hub first.",
            f"Accept the terms at https://huggingface.co/{repo_id}, then run "
            "`huggingface-cli login`.",
        ) from None
    except RepositoryNotFoundError:
        raise WizardError(
            f"No model called {repo_id!r} was found on the Hugging Face Hub (or it is private).",
            "Check the spelling, or log in with `huggingface-cli login` if it is private.",
        ) from None
    except LocalEntryNotFoundError:
        raise WizardError(
            f"Cannot reach the Hugging Face Hub to read {repo_id!r} (offline, and not cached).",
            offline_fix,
        ) from None
    except OSError as error:  # connection errors surface as OSError subclasses
        raise WizardError(
            f"Cannot reach the Hugging Face Hub to read {repo_id!r}: {type(error).__name__}.",
            offline_fix,
        ) from None
    if not (folder / "config.json").exists() and not (folder / "model_index.json").exists():
        raise WizardError(
            f"The Hub repository {repo_id!r} has no config.json, so it is not a Transformers "
            "model.",
            "Pick the repository of the original model (its 'Files' tab shows config.json).",
        )
    check_model_folder(folder)
    return folder
