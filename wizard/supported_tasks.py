"""optimum's ONNX task table, computed once in a child process and cached as JSON.

``optimum`` only knows which tasks it can export for a model type after
``optimum.exporters.onnx.model_configs`` has registered its configs (a ~4 s import that also pulls
in torch and transformers). The wizard needs that table to inspect a model in well under a second,
so the table is computed in a child (``python -m onnx_wizard.supported_tasks --dump``), stored as
JSON keyed by the optimum, optimum-onnx and transformers versions, and read back with ``json``
alone. A copy for the versions this release was built against ships in ``data/``.
"""

from __future__ import annotations

import argparse
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
            [sys.executable, "-m", "onnx_wizard.supported_tasks", "--dump", str(tmp)],
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


# --- the child side: everything below imports optimum and transformers ---------------------------


def _architecture_tasks(tasks_manager: Any) -> dict[str, dict[str, Any]]:
    """Invert optimum's task -> auto-class table into transformers class -> tasks.

    optimum itself, given a model class, returns the first task in its table whose auto-class
    maps to the class. That puts ``feature-extraction`` (AutoModel) before, say,
    ``zero-shot-image-classification`` for CLIPModel, whereas the Hub tags such checkpoints with
    the specific task. So specific auto-classes come first here and plain ``AutoModel`` last.
    """
    import transformers.models.auto.modeling_auto as auto

    specific: dict[str, list[list[str]]] = {}
    generic: dict[str, list[list[str]]] = {}
    model_types: dict[str, list[str]] = {}
    for task, loaders in tasks_manager._TRANSFORMERS_TASKS_TO_MODEL_LOADERS.items():
        for loader in (loaders,) if isinstance(loaders, str) else loaders:
            auto_class = getattr(auto, loader, None)
            if auto_class is None:
                continue
            bucket = generic if loader == "AutoModel" else specific
            for model_type, names in auto_class._model_mapping._model_mapping.items():
                for name in (names,) if isinstance(names, str) else names:
                    model_types.setdefault(name, []).append(model_type)
                    pairs = bucket.setdefault(name, [])
                    if [task, loader] not in pairs:
                        pairs.append([task, loader])
    for (_framework, model_type, task), (_lib, name) in tasks_manager._CUSTOM_CLASSES.items():
        model_types.setdefault(name, []).append(model_type)
        specific.setdefault(name, []).append([task, "custom"])
    # Every class transformers' auto mappings name, even those no optimum task loads
    # (BertForPreTraining, T5EncoderModel): they are known to transformers, not remote code.
    for attribute in dir(auto):
        if attribute.startswith("MODEL_") and attribute.endswith("MAPPING_NAMES"):
            for model_type, names in getattr(auto, attribute).items():
                for name in (names,) if isinstance(names, str) else names:
                    model_types.setdefault(name, []).append(model_type)
    table = {}
    for name in sorted(model_types):
        pairs = specific.get(name, [])
        rest = sorted(generic.get(name, []), key=lambda p: p[0] != "feature-extraction")
        table[name] = {"model_type": _owner(name, model_types[name]), "tasks": pairs + rest}
    return table


def _owner(class_name: str, model_types: list[str]) -> str:
    """The model type a class belongs to: GPT2LMHeadModel is gpt2's, though gpt-sw3 reuses it."""
    lowered = class_name.lower()

    def squash(model_type: str) -> str:
        return model_type.replace("-", "").replace("_", "")

    owners = [mt for mt in model_types if lowered.startswith(squash(mt))]
    return max(owners, key=lambda mt: len(squash(mt))) if owners else model_types[0]


def _encoder_decoder_types(model_types: list[str]) -> list[str]:
    """Model types whose config defaults to ``is_encoder_decoder=True`` (read, not instantiated).

    Instantiating every config class takes ~50 s and some reach for the Hub; the default of the
    ``is_encoder_decoder`` parameter in the class signature gives the same answer in seconds.
    """
    import inspect

    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    found = []
    for model_type in model_types:
        if model_type.endswith("encoder-decoder"):  # composites set it in __init__
            found.append(model_type)
            continue
        try:
            parameter = inspect.signature(CONFIG_MAPPING[model_type].__init__).parameters
        except (KeyError, ImportError, ValueError):
            continue
        default = parameter.get("is_encoder_decoder")
        if default is not None and default.default is True:
            found.append(model_type)
    return found


def compute_table() -> dict[str, Any]:
    """Ask the installed optimum what it can export (imports optimum, transformers and torch)."""
    import optimum.exporters.onnx.model_configs  # noqa: F401  (registers the ONNX configs)
    from optimum.exporters.tasks import TasksManager
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    supported: dict[str, dict[str, list[str]]] = {}
    for library in LIBRARIES:
        registered = TasksManager._LIBRARY_TO_SUPPORTED_MODEL_TYPES[library]
        supported[library] = {
            model_type: sorted(
                TasksManager.get_supported_tasks_for_model_type(
                    model_type, "onnx", library_name=library
                )
            )
            for model_type in sorted(registered)
            if "onnx" in registered[model_type]
        }
    known = sorted(CONFIG_MAPPING_NAMES)
    return {
        "format": FORMAT,
        "versions": installed_versions(),
        "all_tasks": sorted(TasksManager.get_all_tasks()),
        "synonyms": dict(sorted(TasksManager._SYNONYM_TASK_MAP.items())),
        "encoder_decoder_tasks": list(TasksManager._ENCODER_DECODER_TASKS),
        "supported": supported,
        "architectures": _architecture_tasks(TasksManager),
        "transformers_model_types": known,
        "encoder_decoder_types": _encoder_decoder_types(
            [mt for mt in known if mt in supported["transformers"]]
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m onnx_wizard.supported_tasks")
    parser.add_argument("--dump", metavar="PATH", help="write the table as JSON ('-' = stdout)")
    args = parser.parse_args(argv)
    if not args.dump:
        parser.print_help()
        return 2
    text = json.dumps(compute_table(), indent=1, sort_keys=False) + "\n"
    if args.dump == "-":
        sys.stdout.write(text)
    else:
        Path(args.dump).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
