"""Try the fallback routes in order until one export validates: the heart of ``--auto-fix``.

Routes, in the order measured best (``outlook.route_order``): optimum with the ONNX config of a
registered type the model derives from (``lineage``), optimum with the config of a registered
type of the same family whose inputs forward() takes, then torch.onnx TorchScript and dynamo on
config-built inputs. Every export is validated at untraced shapes (``verify``); the first that
passes wins. Used by the export child and by the coverage benchmark. Child-process only.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from onnx_wizard.errors import WizardError
from onnx_wizard.fallback.routes import DYNAMO, FAMILY, LINEAGE, TORCHSCRIPT

DEFAULT_ORDER = (LINEAGE, FAMILY, TORCHSCRIPT, DYNAMO)
MAX_BORROWED = 2  # related types tried per borrowing route: each try is a full export
# Registered types that stand for a whole family, tried when lineage finds no ancestor.
ARCHETYPES = {
    "text-generation": ("llama", "qwen2", "gemma", "mistral", "gpt2", "opt"),
    "text2text-generation": ("bart", "t5", "m2m_100", "marian"),
    "automatic-speech-recognition": ("wav2vec2", "hubert", "whisper", "speech_to_text"),
    "audio-classification": ("wav2vec2", "hubert", "audio-spectrogram-transformer"),
    "image-classification": ("vit", "convnext", "resnet", "swin", "mobilevit"),
    "feature-extraction": ("bert", "roberta", "llama", "vit", "convnext", "wav2vec2"),
    "fill-mask": ("bert", "roberta", "xlm-roberta", "deberta-v2"),
    "text-classification": ("bert", "roberta", "xlm-roberta", "llama"),
    "object-detection": ("detr", "yolos"),
    "semantic-segmentation": ("segformer", "mobilevit"),
    "depth-estimation": ("dpt", "glpn"),
}
MODALITY_INPUTS = ("input_ids", "pixel_values", "input_values", "input_features")


def _base(task: str) -> str:
    return task.removesuffix("-with-past")


def main_inputs(model: Any) -> set[str]:
    """The modality inputs forward() takes: a borrowed config must feed every one of them."""
    from onnx_wizard.fallback.inputs import forward_parameters

    accepts = forward_parameters(model)
    found = {n for n in MODALITY_INPUTS if n in accepts}
    if {"input_values", "input_features"} <= found:  # either audio form will do
        found.discard("input_features")
    if "input_values" in found or "input_features" in found:
        found.discard("input_ids")  # speech CTC heads list no text input, some list it unused
    return found


def borrow_candidates(model: Any, task: str, route: str) -> list[tuple[str, str]]:
    """(related type, why) to try for ``route``: LINEAGE ancestors or FAMILY archetypes."""
    from onnx_wizard.fallback.lineage import optimum_tasks, registered_types, related_types

    if route == LINEAGE:
        return related_types(model, task)[:MAX_BORROWED]
    names = registered_types()
    lineage = {name for name, _ in related_types(model, task)}
    out = []
    for kind in ARCHETYPES.get(_base(task), ()):
        name = names.get(kind)
        if name and name not in lineage and task in optimum_tasks(kind):
            why = f"{type(model).__name__} takes the inputs of optimum's {kind} config for {task}"
            out.append((name, why))
    return out


def _try_borrowed(
    model: Any, task: str, related: str, out: Path, opset: int | None = None
) -> dict[str, Any]:
    from onnx_wizard.fallback.borrow import borrowed_config, export_borrowed
    from onnx_wizard.fallback.lineage import config_inputs

    onnx_config = borrowed_config(model, task, related)
    missing = main_inputs(model) - config_inputs(onnx_config)
    if missing:
        raise WizardError(
            f"The ONNX config of {related} does not feed {', '.join(sorted(missing))}: the "
            "export would leave part of the model out.",
            "Pick another route.",
        )
    return export_borrowed(model, out, task, related, opset=opset)


def attempt(
    model: Any,
    task: str,
    route: str,
    out: Path,
    related: str | None = None,
    opset: int | None = None,
) -> dict:
    """One route, exported into ``out`` and validated; ``validation`` says whether it passed.

    ``opset`` is the user's choice; None takes each exporter's default."""
    from onnx_wizard.fallback.generic import export_model
    from onnx_wizard.fallback.verify import verify_export

    if out.exists():
        shutil.rmtree(out)
    started = time.monotonic()
    if route in (LINEAGE, FAMILY):
        info = _try_borrowed(model, task, str(related), out, opset)
        exported_task = task
    elif route == TORCHSCRIPT and _generator(model, task):
        cached = _with_cache(model, task, out, opset)
        if cached is not None:
            return {**cached, "seconds": round(time.monotonic() - started, 2)}
        info = export_model(model, out, dynamo=False, **_opset_kw(opset))
        exported_task = _base(task)  # the cached graph failed: one graph, no cache
    else:
        info = export_model(model, out, dynamo=route == DYNAMO, **_opset_kw(opset))
        exported_task = _base(task)  # one graph, no cache
    report = verify_export(model, out, exported_task)
    return {
        "route": route,
        "related_model_type": related,
        "task": exported_task,
        "kv_cache": any("past_key_values" in str(n) for n in _graph_inputs(out)),
        "files": sorted(p.name for p in out.glob("*.onnx")),
        "validation": report.to_dict(),
        "passed": bool(report.passed and report.checks),
        "seconds": round(time.monotonic() - started, 2),
        **{k: v for k, v in info.items() if k in ("dynamic_axes", "traced_shapes")},
    }


def _opset_kw(opset: int | None) -> dict[str, int]:
    return {"opset": int(opset)} if opset else {}


def _generator(model: Any, task: str) -> bool:
    return task == "text-generation-with-past" and not model.config.is_encoder_decoder


def _with_cache(
    model: Any, task: str, out: Path, opset: int | None = None
) -> dict[str, Any] | None:
    """The TorchScript export with the KV cache, when it validates; None sends the caller to
    the export without a cache (slower generation, but a working graph)."""
    from onnx_wizard.fallback.cached import export_decoder_with_cache
    from onnx_wizard.fallback.verify import verify_export

    try:
        export_decoder_with_cache(model, out, **_opset_kw(opset))
        report = verify_export(model, out, task)
    except Exception:  # WizardError or a tracer crash: the cache-free export is next
        shutil.rmtree(out, ignore_errors=True)
        return None
    if not (report.passed and report.checks):
        shutil.rmtree(out, ignore_errors=True)
        return None
    return {
        "route": TORCHSCRIPT,
        "related_model_type": None,
        "task": task,
        "kv_cache": True,
        "files": sorted(p.name for p in out.glob("*.onnx")),
        "validation": report.to_dict(),
        "passed": True,
    }


def _cannot_run(tries: list[dict[str, Any]]) -> str:
    for entry in tries:
        if entry["route"] == TORCHSCRIPT and "does not run on inputs" in str(entry.get("error")):
            return str(entry["error"])
    return ""


def _graph_inputs(folder: Path) -> list[str]:
    import onnx

    names: list[str] = []
    for path in folder.glob("*.onnx"):
        names += [i.name for i in onnx.load(str(path), load_external_data=False).graph.input]
    return names


def first_validated(
    model: Any,
    task: str,
    work: Path,
    order: tuple[str, ...] = DEFAULT_ORDER,
    opset: int | None = None,
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Try ``order``'s routes into work/<n>; (the first validated attempt or None, all tries)."""
    tries: list[dict[str, Any]] = []
    plans: list[tuple[str, str | None]] = []
    for route in order:
        if route in (LINEAGE, FAMILY):
            plans += [(route, name) for name, _ in borrow_candidates(model, task, route)]
        else:
            plans.append((route, None))
    exports = 0  # borrowed-config tries that reached an export: each costs a full one
    for number, (route, related) in enumerate(plans):
        out = work / f"route-{number}"
        if route == FAMILY and exports >= MAX_BORROWED:
            tries.append({"route": route, "related_model_type": related, "error": "not tried"})
            continue
        if route == DYNAMO and _cannot_run(tries):
            # The same config-built inputs already failed in the model itself, not the exporter.
            tries.append({"route": route, "related_model_type": None, "error": _cannot_run(tries)})
            continue
        try:
            result = attempt(model, task, route, out, related, opset)
        except WizardError as error:
            tries.append({"route": route, "related_model_type": related, "error": error.problem})
            continue
        except Exception as error:  # a library bug in one route must not stop the next
            text = str(error).strip().splitlines()[0] if str(error).strip() else ""
            tries.append(
                {"route": route, "related_model_type": related,
                 "error": f"{type(error).__name__}: {text}"[:400]}
            )  # fmt: skip
            continue
        exports += route == FAMILY
        tries.append(result)
        if result["passed"]:
            return result, tries
    return None, tries


def run_ladder(
    model_path: str,
    output_dir: str,
    task: str,
    *,
    order: tuple[str, ...] | None = None,
    events: Any = None,
    trust_remote_code: bool = False,
    opset: int | None = None,
) -> dict[str, Any]:
    """The export child's ``auto`` route: load the model, climb the ladder, keep the winner.

    The validated files land in ``output_dir`` with config.json and the folder's tokenizer or
    processor files; the result carries the validation report, so the child does not validate
    again with text-only inputs."""
    import torch
    from optimum.exporters.tasks import TasksManager

    from onnx_wizard.fallback.routes import route_name

    if events is not None:
        events.stage("load", "loading the model for the fallback routes")
    model = TasksManager.get_model_from_task(
        task, model_path, framework="pt", library_name="transformers",
        trust_remote_code=trust_remote_code, torch_dtype=torch.float32,
    ).eval()  # fmt: skip
    out = Path(output_dir)
    work = out / ".onnx-wizard-routes"
    if events is not None:
        events.stage("export", "trying the fallback routes in order of measured success")
    winner, tries = first_validated(model, task, work, order or DEFAULT_ORDER, opset)
    if winner is None:
        shutil.rmtree(work, ignore_errors=True)
        lines = [f"{t['route']}{_related(t)}: {_why(t)}" for t in tries] or ["no route applies"]
        raise WizardError(
            "No fallback route gave a validated export:\n  " + "\n  ".join(lines),
            "Write an ONNX config for this model (custom_onnx_configs), or report the model.",
        )
    folder = work / f"route-{len(tries) - 1}"
    for path in folder.iterdir():
        shutil.move(str(path), str(out / path.name))
    shutil.rmtree(work, ignore_errors=True)
    _copy_preprocessing(Path(model_path), out)
    model.config.save_pretrained(out)
    route = winner["route"]
    return {
        "route": route_name(route, winner["related_model_type"]),
        "route_id": route,
        "related_model_type": winner["related_model_type"],
        "opset": _opset(out),
        "task": winner["task"],
        "inputs": [],
        "outputs": [],
        "files": sorted(p.name for p in out.iterdir() if p.is_file()),
        "notes": [f"KV cache: {'yes' if winner['kv_cache'] else 'no'}"]
        + _opset_note(opset, _opset(out), route)
        + _fixed_media_notes(winner)
        + [f"tried first: {t['route']}{_related(t)}: {_why(t)}" for t in tries[:-1]],
        "validation": winner["validation"],
    }


MEDIA_INPUTS = ("pixel_values", "pixel_values_videos", "input_features", "input_values")


def _fixed_media_notes(winner: dict[str, Any]) -> list[str]:
    """A media input whose first axis stayed fixed while the batch varied: the graph takes that
    many images (or clips) per call, whatever the batch (LLaVA-style towers split per image)."""
    axes = winner.get("dynamic_axes") or {}
    shapes = winner.get("traced_shapes") or {}
    if not any("0" in map(str, d) for d in axes.values()):
        return []  # nothing varied with the batch: a fixed-shape graph, said elsewhere
    return [
        f"{name} has a fixed first axis of {shapes[name][0]}: the graph takes exactly "
        f"{shapes[name][0]} per call, whatever the text batch"
        for name in MEDIA_INPUTS
        if name in shapes and "0" not in map(str, axes.get(name, {}))
    ]


def _opset_note(asked: int | None, wrote: int, route: str) -> list[str]:
    """The dynamo exporter writes opset 18 or newer whatever is asked: say so, never hide it."""
    if not asked or asked == wrote:
        return []
    return [f"opset {asked} was asked; the {route} exporter wrote opset {wrote} instead"]


def _related(attempt: dict[str, Any]) -> str:
    return f" ({attempt['related_model_type']})" if attempt.get("related_model_type") else ""


def _why(attempt: dict[str, Any]) -> str:
    if attempt.get("error"):
        return str(attempt["error"])
    return str(attempt.get("validation", {}).get("error") or "outputs differ beyond tolerance")


def _copy_preprocessing(source: Path, out: Path) -> None:
    """Tokenizer and processor files travel with the export, as optimum's do."""
    for path in source.glob("*"):
        name = path.name
        if path.is_file() and (
            name.startswith(("tokenizer", "special_tokens", "preprocessor", "processor"))
            or name in ("vocab.txt", "vocab.json", "merges.txt", "generation_config.json")
            or name.endswith(".model")
        ):
            shutil.copy2(path, out / name)


def _opset(folder: Path) -> int:
    import onnx

    for path in sorted(folder.glob("*.onnx")):
        model = onnx.load(str(path), load_external_data=False)
        return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    return 0


__all__ = [
    "ARCHETYPES",
    "DEFAULT_ORDER",
    "attempt",
    "borrow_candidates",
    "first_validated",
    "run_ladder",
]
