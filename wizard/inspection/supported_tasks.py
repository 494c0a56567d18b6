"""optimum's ONNX task table, computed once in a child process and cached as JSON.

``optimum`` only knows which tasks it can export for a model type after
``optimum.exporters.onnx.model_configs`` has registered its configs (a ~4 s import that also pulls
in torch and transformers). The wizard needs that table to inspect a model in well under a second,
so the table is computed in a child (``python -m onnx_wizard.inspection.task_table_child --dump``),
stored as JSON keyed by the optimum, optimum-onnx and transformers versions, and read back with
``json`` alone. A copy for the versions this release was built against ships in ``data/``.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from onnx_wizard.errors import WizardError
from onnx_wizard.paths import cache_dir

# Bump when the dump's shape changes, so old caches and the shipped copy are not trusted.
FORMAT = 1
VERSIONED_PACKAGES = ("optimum", "optimum-onnx", "transformers")
SHIPPED_TABLE = Path(__file__).parent / "data" / "supported_tasks.json"
LIBRARIES = ("transformers", "sentence_transformers", "timm", "diffusers")


@dataclass(frozen=True)
class TaskTable:
    """What optimum can export, as plain data (see ``compute_table`` for each field)."""

    versions: dict[str, str]
    all_tasks: tuple[str, ...]
    synonyms: dict[str, str]
    encoder_decoder_tasks: tuple[str, ...]
    supported: dict[str, dict[str, tuple[str, ...]]]
    architectures: dict[str, dict[str, Any]]
    transformers_model_types: frozenset[str]
    encoder_decoder_types: frozenset[str]
    source: str  # "shipped", "cache" or "regenerated": where this copy came from

    def tasks_for(self, model_type: str, library: str = "transformers") -> tuple[str, ...]:
        """optimum's ONNX tasks for ``model_type`` (empty when it has no ONNX config)."""
        return self.supported.get(library, {}).get(model_type, ())

    def is_supported(self, model_type: str, library: str = "transformers") -> bool:
        return bool(self.tasks_for(model_type, library))

    def tasks_for_architecture(self, class_name: str) -> list[tuple[str, str]]:
        """(task, auto-class) pairs for a transformers class, most specific first."""
        entry = self.architectures.get(class_name)
        return [(task, loader) for task, loader in entry["tasks"]] if entry else []

    def model_type_of(self, class_name: str) -> str | None:
        entry = self.architectures.get(class_name)
        return entry["model_type"] if entry else None


def installed_versions() -> dict[str, str]:
    """The installed versions the table depends on; 'missing' for a package not installed."""
    found = {}
    for name in VERSIONED_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "missing"
    return found


def cache_path(versions: dict[str, str]) -> Path:
    key = "-".join(f"{name}{versions[name]}" for name in VERSIONED_PACKAGES)
    return cache_dir() / f"supported_tasks-v{FORMAT}-{key}.json"


def _from_json(data: dict[str, Any], source: str) -> TaskTable:
    return TaskTable(
        versions=dict(data["versions"]),
        all_tasks=tuple(data["all_tasks"]),
        synonyms=dict(data["synonyms"]),
        encoder_decoder_tasks=tuple(data["encoder_decoder_tasks"]),
        supported={
            library: {mt: tuple(tasks) for mt, tasks in types.items()}
            for library, types in data["supported"].items()
        },
        architectures=data["architectures"],
        transformers_model_types=frozenset(data["transformers_model_types"]),
        encoder_decoder_types=frozenset(data["encoder_decoder_types"]),
        source=source,
    )


def _read(path: Path, versions: dict[str, str]) -> dict[str, Any] | None:
    """The table stored at ``path`` if it is readable and made for ``versions``, else None."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # missing or half-written: regenerate rather than fail
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return None
    return data if data.get("versions") == versions else None


def regenerate(target: Path) -> dict[str, Any]:
    """Compute the table in a child process and write it to ``target`` atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".supported_tasks-", suffix=".json", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "onnx_wizard.inspection.task_table_child", "--dump", str(tmp)],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"},
        )
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise WizardError(
                f"Could not read optimum's table of supported tasks: {last}",
                "Check the install with `onnx-wizard check`; "
                'reinstall with `pip install "optimum-onnx[onnxruntime]"`.',
            )
        data: dict[str, Any] = json.loads(tmp.read_text(encoding="utf-8"))
        os.replace(tmp, target)  # readers never see a half-written cache
        return data
    finally:
        tmp.unlink(missing_ok=True)


@functools.lru_cache(maxsize=1)
def load_table() -> TaskTable:
    """The task table for the installed versions: shipped copy, else cache, else regenerate."""
    versions = installed_versions()
    shipped = _read(SHIPPED_TABLE, versions)
    if shipped is not None:
        return _from_json(shipped, "shipped")
    target = cache_path(versions)
    cached = _read(target, versions)
    if cached is not None:
        return _from_json(cached, "cache")
    return _from_json(regenerate(target), "regenerated")
