"""Which registered model type a model *is*: found from transformers' class hierarchy.

A model type optimum has no ONNX config for is often a registered one with a new name: its
classes subclass a registered type's classes, or its modular file (``modular_<type>.py``, the
source transformers generates the modeling file from) declares them as subclasses of another
type's classes even though the generated file copies the code. Both are followed, a few levels
deep; a candidate counts only if optimum exports it for the task and the model's forward()
accepts every input that ONNX config feeds. Child-process only (imports transformers, optimum).
"""

from __future__ import annotations

import ast
import inspect
from functools import cache
from pathlib import Path
from typing import Any

MAX_DEPTH = 3
# ONNX config inputs that are not forward() keywords (optimum builds them around the model).
NOT_FORWARD_INPUTS = frozenset({"use_cache_branch", "encoder_hidden_states"})


def registered_types() -> dict[str, str]:
    """transformers model_type -> optimum's name for it, for every type optimum registers."""
    from optimum.exporters.onnx import model_configs  # noqa: F401  (registers the configs)
    from optimum.exporters.tasks import TasksManager

    names: dict[str, str] = {}
    for name in TasksManager._SUPPORTED_MODEL_TYPE:
        names[name] = name
        names.setdefault(name.replace("-", "_"), name)
    return names


def optimum_tasks(model_type: str) -> list[str]:
    from optimum.exporters.tasks import TasksManager

    name = registered_types().get(model_type)
    if name is None:
        return []
    return list(
        TasksManager.get_supported_tasks_for_model_type(name, "onnx", library_name="transformers")
    )


def _model_type_of(cls: Any) -> str:
    config_class = getattr(cls, "config_class", None)
    return str(getattr(config_class, "model_type", "") or "")


@cache
def _modular_bases(module_name: str) -> dict[str, list[str]]:
    """class name -> base class names, as written in the type's modular file (if it has one)."""
    import importlib.util

    spec = importlib.util.find_spec(module_name)
    if spec is None or not spec.origin:
        return {}
    folder = Path(spec.origin).parent
    modular = next(iter(folder.glob("modular_*.py")), None)
    if modular is None:
        return {}
    tree = ast.parse(modular.read_text(encoding="utf-8"))
    return {
        node.name: [b.id for b in node.bases if isinstance(b, ast.Name)]
        for node in tree.body
        if isinstance(node, ast.ClassDef)
    }


def ancestors(model_class: Any, depth: int = 0) -> list[str]:
    """Model types this class derives from, nearest first: its MRO, then its modular file."""
    import transformers

    own = _model_type_of(model_class)
    found: list[str] = []
    for base in model_class.__mro__[1:]:
        kind = _model_type_of(base)
        if kind and kind != own and kind not in found:
            found.append(kind)
    package = model_class.__module__.rsplit(".", 1)[0]
    for base_name in _modular_bases(package).get(model_class.__name__, []):
        base = getattr(transformers, base_name, None)
        kind = _model_type_of(base) if base is not None else ""
        if kind and kind != own and kind not in found:
            found.append(kind)
            if depth < MAX_DEPTH:
                found += [k for k in ancestors(base, depth + 1) if k not in found and k != own]
    return found


def config_inputs(onnx_config: Any) -> set[str]:
    """The forward() keywords an ONNX config feeds (past_key_values.N.key -> past_key_values)."""
    return {name.split(".")[0] for name in onnx_config.inputs} - NOT_FORWARD_INPUTS


def accepts_inputs(model: Any, onnx_config: Any) -> list[str]:
    """The config's inputs this model's forward() does not take (empty: it fits)."""
    parameters = inspect.signature(model.forward).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        named = set(parameters)
        # **kwargs swallows anything, so only the main inputs are required to be named.
        return sorted(n for n in config_inputs(onnx_config) - named if not n.startswith("past"))
    return sorted(config_inputs(onnx_config) - set(parameters))


def related_types(model: Any, task: str) -> list[tuple[str, str]]:
    """(optimum's type name, why) for registered ancestors that export ``task``, nearest first."""
    names = registered_types()
    out: list[tuple[str, str]] = []
    for kind in ancestors(type(model)):
        name = names.get(kind)
        if name and task in optimum_tasks(kind):
            out.append((name, f"{type(model).__name__} derives from the {kind} classes"))
    return out


__all__ = ["accepts_inputs", "ancestors", "optimum_tasks", "registered_types", "related_types"]
