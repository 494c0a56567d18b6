"""Child process that asks the installed optimum which tasks it exports (imports optimum, torch).

Usage: ``python -m onnx_wizard.inspection.task_table_child --dump PATH``. Kept apart from
``supported_tasks`` so reading the cached table never imports the frameworks.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from onnx_wizard.inspection.supported_tasks import FORMAT, LIBRARIES, installed_versions


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
    parser = argparse.ArgumentParser(prog="python -m onnx_wizard.inspection.task_table_child")
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
