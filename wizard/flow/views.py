"""What each wizard step asks and shows: its fields, their valid values, and its status and buttons.

Used by ``onnx_wizard.flow.machine``, which owns the routing; this module only reads answers and
facts and never changes a state. Help texts are written for someone who has never exported a
model: they say what a choice means and which one to pick.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from onnx_wizard.flow import explain
from onnx_wizard.flow.steps import (
    ANSWER_STEPS,
    FIELD_HELP,
    HELP,
    TITLES,
    Facts,
    Field,
    FieldKind,
    Status,
    Step,
)

Answers = Mapping[str, Any]
OPSET_RANGE = (7, 23)  # what torch.onnx and ONNX Runtime here accept
Choices = tuple[tuple[Any, str], ...]

# Base tasks for which optimum offers a "-with-past" (KV cache) variant.
KV_CACHE_TASKS = frozenset(
    {
        "text-generation",
        "text2text-generation",
        "automatic-speech-recognition",
        "image-to-text",
        "feature-extraction",
        "text-conditional",
    }
)
TASK_LABELS: dict[str, str] = {
    "feature-extraction": "Embeddings / hidden states (feature-extraction)",
    "sentence-similarity": "Sentence embeddings (sentence-similarity)",
    "fill-mask": "Fill in a masked word (fill-mask)",
    "text-classification": "Classify text (text-classification)",
    "token-classification": "Label each word (token-classification)",
    "question-answering": "Answer from a passage (question-answering)",
    "multiple-choice": "Pick an answer (multiple-choice)",
    "text-generation": "Generate text (text-generation)",
    "text2text-generation": "Translate, summarize, rewrite (text2text-generation)",
    "automatic-speech-recognition": "Speech to text (automatic-speech-recognition)",
    "audio-classification": "Classify audio (audio-classification)",
    "image-classification": "Classify images (image-classification)",
    "image-to-text": "Describe images (image-to-text)",
    "object-detection": "Find objects in images (object-detection)",
    "zero-shot-image-classification": "Match images and labels (zero-shot-image-classification)",
}


def task_label(task: str) -> str:
    """Plain words for a task id; a -with-past task says it keeps the KV cache."""
    base = task.removesuffix("-with-past")
    if task == base:
        return TASK_LABELS.get(task, task)
    words = TASK_LABELS.get(base, base).rsplit(" (", 1)[0]
    return f"{words}, with KV cache ({task})"


def count_text(n: float) -> str:
    """A parameter count people read at a glance: 42.4 K, 22.7 M, 7.2 B."""
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return str(int(n))


def report(facts: Facts) -> Mapping[str, Any]:
    return facts.report or {}


def chosen_task(answers: Answers, facts: Facts) -> str | None:
    task = answers.get("task") or report(facts).get("task")
    return str(task) if task else None


def asks_architecture(answers: Answers, facts: Facts) -> bool:
    """Whether to ask about the KV cache: a decoder or encoder-decoder on a generative task."""
    info = report(facts)
    if not (info.get("is_decoder") or info.get("is_encoder_decoder")):
        return False
    task = chosen_task(answers, facts)
    if task is None:
        return False
    if task == info.get("task"):
        return bool(info.get("with_past_applies"))
    return task.removesuffix("-with-past") in KV_CACHE_TASKS


def failed_checks(facts: Facts) -> list[str]:
    return [str(c.get("name")) for c in facts.checks or () if c.get("status") == "fail"]


def form(step: Step, answers: Answers, facts: Facts) -> tuple[Field, ...]:
    """The fields of ``step`` with defaults and choices; the caller fills in their values."""
    return _FORMS[step](answers, facts)


def cross_errors(step: Step, values: Answers, facts: Facts) -> dict[str, str]:
    """Conflicts between answers of one step that no single field can see."""
    errors: dict[str, str] = {}
    if step is Step.EXPORT_OPTIONS and values.get("device") != "cuda":
        if values.get("dtype") in ("fp16", "bf16"):
            errors["dtype"] = f"A {values['dtype']} export runs on the GPU: set Device to cuda."
        if values.get("optimize") == "O4":
            errors["optimize"] = "O4 runs on the GPU: set Device to cuda, or pick O3."
    if step is Step.EXPORT_OPTIONS:
        from onnx_wizard.flow import fallback_route

        errors.update(fallback_route.refused_options(values, facts.report))
    if step is Step.EXPORT_OPTIONS and values.get("slim"):
        missing = [c for c in facts.checks or () if c.get("name") == "onnxslim"]
        if missing and missing[0].get("status") != "ok":
            errors["slim"] = "onnxslim is not installed: pip install onnxslim, or turn this off."
    return errors


def status(step: Step, answers: Answers, facts: Facts) -> tuple[Status, str | None]:
    """The step's status and, when Next is blocked, why."""
    run = facts.run or {}
    if step is Step.PREREQUISITES:
        if facts.checks is None:
            return "running", None
        failed = failed_checks(facts)
        if failed and not answers.get("ignore_failed_checks"):
            names = ", ".join(failed)
            return "blocked", (
                f"{len(failed)} check(s) failed: {names}. Apply the fixes shown, "
                "or tick 'Continue anyway' if you know the export does not need them."
            )
    elif step is Step.MODEL:
        if facts.report is None:
            return "running", None
        from onnx_wizard.flow import fallback_route

        unsupported = not facts.report.get("supported", True)
        if unsupported and not fallback_route.offers(facts.report, answers.get("task")):
            return "blocked", explain.unsupported_text(facts.report, answers.get("output"))
    elif step is Step.TASK and not form(step, answers, facts)[0].choices:
        return "blocked", "No task is known for this model. Go back and inspect it again."
    elif step is Step.RUN:
        from onnx_wizard.flow.quantizing import pending

        if pending(answers, facts):
            return "running", None  # the export passed; its variants are being made
        outcomes: dict[str, Status] = {
            "ok": "success",
            "failed": "failed",
            "cancelled": "cancelled",
            "not_validated": "failed",  # exported, compared with nothing: never a success
        }
        return outcomes.get(str(run.get("status")), "running"), None
    elif step is Step.VALIDATE:
        if facts.validation is None:
            return "running", None
        return ("success" if facts.validation.get("passed") else "failed"), None
    elif step is Step.RECOVER and facts.diagnosis is None:
        return "running", None
    elif step is Step.DONE:
        return _done_status(answers, facts), None
    elif step is Step.PUBLISH:
        from onnx_wizard.flow.publishing import publish_status

        return publish_status(answers, facts)
    return "ready", None


def _done_status(answers: Answers, facts: Facts) -> Status:
    if not (facts.validation or {}).get("passed"):
        return "failed"  # stopped from RECOVER
    if answers.get("publish"):
        published = str((facts.publish or {}).get("status", "running"))
        if published in ("ok", "kept"):  # uploaded, or staged and kept by choice
            return "success"
        return "failed" if published == "failed" else "running"
    return "success"


# Help that depends on how the step stands: a line is only shown while it is true.
STATUS_HELP: dict[tuple[Step, Status], str] = {
    (Step.RUN, "success"): "The export finished and passed its checks.",
    (Step.RUN, "failed"): "The export failed. The next step explains why and offers a fix.",
    (Step.RUN, "cancelled"): (
        "The export was cancelled and the output folder left as it was. Run it again, or go "
        "back to change the plan; your answers stay saved."
    ),
    (Step.VALIDATE, "failed"): (
        "Each file was run with ONNX Runtime and compared with the original PyTorch model; "
        "some outputs differ by more than the tolerance. The next step offers a fix."
    ),
    (Step.RECOVER, "running"): "Reading the log to find out what went wrong...",
}


# A title that depends on how the step stands: "Exporting" is false once the run ended.
STATUS_TITLES: dict[tuple[Step, Status], str] = {
    (Step.RUN, "success"): "Export finished",
    (Step.RUN, "failed"): "Export failed",
    (Step.RUN, "cancelled"): "Export cancelled",
}


def title(step: Step, state_status: Status = "ready") -> str:
    return STATUS_TITLES.get((step, state_status), TITLES[step])


def help_text(step: Step, facts: Facts, state_status: Status = "ready") -> str:
    text = STATUS_HELP.get((step, state_status), HELP[step])
    if step is Step.VALIDATE and facts.validation and facts.validation.get("summary"):
        text = f"{facts.validation['summary']}\n\n{text}"
    return text


# ---- the forms, one function per step ----------------------------------------------------------


def _info(name: str, label: str, value: Any, help: str = "", code: bool = False) -> Field:
    return Field(name, "info", label, help=help, value=value, default=value, code=code)


def _ask(
    name: str, kind: FieldKind, label: str, choices: Choices = (), default: Any = None, **extra: Any
) -> Field:
    """An input field, with its help text looked up by name."""
    return Field(name, kind, label, FIELD_HELP.get(name, ""), choices, default, **extra)


def _whole(name: str, label: str, lowest: int, highest: int) -> Field:
    return _ask(name, "number", label, integer=True, minimum=lowest, maximum=highest)


def _source(answers: Answers, facts: Facts) -> tuple[Field, ...]:
    return (
        replace(
            _ask("source", "text", "Model", required=True),
            placeholder="Hub id, local folder, or sample:NAME",
        ),
        # The suggestion follows the model until the user types a folder of their own.
        replace(
            _ask("output", "path", "Output folder"),
            placeholder=explain.output_placeholder(answers.get("source")),
        ),
        _ask(
            "overwrite",
            "bool",
            "Replace what is in the output folder",
            default=False,
        ),
    )


def _prerequisites(answers: Answers, facts: Facts) -> tuple[Field, ...]:
    fields = [
        _info(f"check:{c.get('name')}", str(c.get("name")), c.get("status"), _check_help(c))
        for c in facts.checks or ()
    ]
    if failed_checks(facts):
        fields.append(_ask("ignore_failed_checks", "bool", "Continue anyway", default=False))
    return tuple(fields)


def _check_help(check: Mapping[str, Any]) -> str:
    fix = check.get("fix")
    return str(check.get("detail") or "") + (f"\nFix: {fix}" if fix else "")


def _model(answers: Answers, facts: Facts) -> tuple[Field, ...]:
    info = report(facts)
    kind = (
        "encoder-decoder (reads, then writes)"
        if info.get("is_encoder_decoder")
        else "decoder (a text generator)"
        if info.get("is_decoder")
        else "encoder (reads input, gives scores or vectors)"
    )
    params = info.get("parameters")
    size = count_text(params) if isinstance(params, (int, float)) else "unknown"
    return (
        _info("model_type", "Model type", info.get("model_type")),
        _info("architectures", "Architecture", ", ".join(info.get("architectures") or ())),
        _info("kind", "Kind", kind),
        _info("parameters", "Parameters", size),
        _info("weights", "Weights", explain.weights_text(info)),
        _info("ram", "Memory", explain.ram_text(info, facts)),
        _info("library", "Library", info.get("library")),
        _info("supported", "ONNX export supported", "yes" if info.get("supported", True) else "no"),
        *_route_fields(answers, info),
        # Only a model with code of its own asks; a flag or a remedy can still set it.
        replace(
            _ask("trust_remote_code", "bool", "Run the model's code", default=False),
            hidden=not (explain.needs_remote_code(info) or answers.get("trust_remote_code")),
        ),
    )


def _route_fields(answers: Answers, info: Mapping[str, Any]) -> tuple[Field, ...]:
    """For a type optimum cannot export: the route the export takes, its odds, the others."""
    from onnx_wizard.flow import fallback_route

    offered = fallback_route.choices(info, answers.get("task"))
    if not offered:
        return ()
    route = _ask("route", "choice", "Export route", offered, offered[0][0], required=True)
    detail = fallback_route.route_help(answers, info)
    route = replace(route, help=f"{route.help}\n{detail}" if detail else route.help)
    if not fallback_route.applies(info):
        # A supported type: shown only once a recovery fix chose the ladder instead.
        chosen_ladder = answers.get("route") not in (None, fallback_route.OPTIMUM)
        return (replace(route, hidden=not chosen_ladder),)
    return (_info("route_outlook", "Fallback route", fallback_route.outlook_line(info)), route)


def _task(answers: Answers, facts: Facts) -> tuple[Field, ...]:
    info = report(facts)
    names = [str(t) for t in info.get("task_candidates") or ()]
    detected = info.get("task")
    if detected and detected not in names:
        names.insert(0, str(detected))
    choices = tuple((t, task_label(t)) for t in names)
    default = detected if detected in names else (names[0] if names else None)
    fields = [_ask("task", "choice", "Task", choices, default, required=True)]
    reasons = [str(r) for r in info.get("task_reasons") or ()]
    if reasons:
        fields.append(_info("task_reasons", "Why this task", "\n".join(reasons)))
    return tuple(fields)


def _architecture(answers: Answers, facts: Facts) -> tuple[Field, ...]:
    info = report(facts)
    recommended = bool(info.get("with_past", True))
    with_past = bool(answers.get("with_past", recommended))
    fields = [
        _ask("with_past", "bool", "Use a KV cache", default=recommended),
        # Every choice's files and cost, readable before anything is toggled.
        _info("file_choices", "What each choice writes", explain.choices_text(info, with_past)),
    ]
    if info.get("is_encoder_decoder"):
        choices = (
            (
                ("merged", "One merged decoder: decoder_model_merged.onnx (Transformers.js)"),
                ("separate", "decoder_model.onnx + decoder_with_past_model.onnx (less RAM)"),
            )
            if with_past
            else (
                ("separate", "encoder_model.onnx + decoder_model.onnx"),
                ("monolith", "One model.onnx for the whole model (--monolith)"),
            )
        )
        default = "merged" if with_past else "separate"
        fields.append(_ask("decoder_files", "choice", "Files", choices, default, required=True))
    return tuple(fields)


def _export_options(answers: Answers, facts: Facts) -> tuple[Field, ...]:
    gpu = facts.gpu
    devices = (("cpu", "CPU"),) + ((("cuda", "CUDA GPU"),) if gpu else ())
    dtypes = (("fp32", "fp32 (full precision)"),) + (
        (("fp16", "fp16 (half precision, GPU)"), ("bf16", "bf16 (bfloat16, GPU)")) if gpu else ()
    )
    levels: Choices = (
        (None, "none: keep the exported graph as is"),
        ("O1", "O1: basic graph optimizations"),
        ("O2", "O2: O1 + operator fusions"),
        ("O3", "O3: O2 + GELU approximation"),
    ) + ((("O4", "O4: O3 + fp16 mixed precision (GPU only)"),) if gpu else ())
    info = report(facts)
    no_gpu = "" if gpu else explain.only_choice_text("the CPU", "no CUDA GPU was found")
    fp32_only = "" if gpu else explain.only_choice_text("fp32", "no CUDA GPU was found")
    dtype, task = str(answers.get("dtype") or "fp32"), chosen_task(answers, facts)
    opset = replace(
        _whole("opset", "Opset", *OPSET_RANGE), placeholder=f"{explain.DEFAULT_OPSET} (default)"
    )
    atol = replace(
        _ask("atol", "number", "Tolerance (atol)", minimum=1e-12, maximum=1.0),
        placeholder=explain.atol_placeholder(task, dtype),
    )
    batch, sequence = explain.SHAPE_DEFAULTS
    return (
        opset,
        _with_note(_ask("device", "choice", "Device", devices, "cpu", required=True), no_gpu),
        _with_note(_ask("dtype", "choice", "Precision", dtypes, "fp32", required=True), fp32_only),
        _ask("optimize", "choice", "Optimization", levels, None),
        replace(atol, help=f"{atol.help} {explain.atol_default_text(info, task, dtype)}"),
        _ask("slim", "bool", "Slim the graph (--slim)", default=False),
        replace(_whole("batch_size", "Batch size", 1, 1024), placeholder=f"{batch} (default)"),
        replace(
            _whole("sequence_length", "Sequence length", 1, 1 << 20),
            placeholder=f"{sequence} (default)",
        ),
    )


def _with_note(item: Field, note: str) -> Field:
    return replace(item, help=f"{note} {item.help}".strip()) if note else item


def _quantization(answers: Answers, facts: Facts) -> tuple[Field, ...]:
    from onnx_wizard.flow import quantizing

    preset = quantizing.cpu_preset()
    fields = [
        _ask("js_dtypes", "multichoice", "Transformers.js / WebGPU", quantizing.js_choices(), ()),
        _ask("ort_presets", "multichoice", "ONNX Runtime CPU", quantizing.ort_choices(), ()),
        _info("cpu_preset", "This CPU", f"{preset}: the ONNX Runtime preset for this machine"),
    ]
    if quantizing.needs_calibration(answers):
        fields.append(_ask("calibration", "path", "Calibration samples"))
        fields.append(_ask("calibration_column", "text", "Column (JSONL or CSV)"))
    return tuple(fields)


def _review(answers: Answers, facts: Facts) -> tuple[Field, ...]:
    fields = [
        _info("plan_source", "Model", answers.get("source")),
        _info("plan_output", "Output", answers.get("output") or "(next to the current folder)"),
        _info("plan_task", "Task", chosen_task(answers, facts)),
    ]
    if asks_architecture(answers, facts):
        fields.append(_info("plan_kv", "KV cache", "yes" if answers.get("with_past") else "no"))
        if report(facts).get("is_encoder_decoder"):
            fields.append(_info("plan_files", "Decoder files", answers.get("decoder_files")))
    export = ", ".join(
        # A switch reads as its name when on (never "slim False").
        name if answers[name] is True else f"{name} {answers[name]}"
        for name, step in ANSWER_STEPS.items()
        if step is Step.EXPORT_OPTIONS and answers.get(name) not in (None, False)
    )
    from onnx_wizard.flow import quantizing
    from onnx_wizard.planning.answers import default_output

    targets = quantizing.chosen_targets(answers)
    fields += [
        *_plan_route(answers, facts),
        _info("plan_export", "Export", export or "optimum's defaults"),
        _info("plan_quantization", "Variants", ", ".join(targets) or "fp32 only"),
        _info("command", "Equivalent command", facts.command or "(being prepared)", code=True),
    ]
    if targets:
        output = str(answers.get("output") or default_output(report(facts)))
        line = quantizing.command_line(output, answers)
        fields.append(_info("quantize_command", "Then quantize", line, code=True))
    return tuple(fields)


RUN_WORDS = {
    "ok": "finished",
    "failed": "failed",
    "cancelled": "cancelled",
    "not_validated": "not validated",
}


def _run(answers: Answers, facts: Facts) -> tuple[Field, ...]:
    run = facts.run or {}
    status = RUN_WORDS.get(str(run.get("status")), "running")
    return (
        _info("run_status", "Status", status),
        _info("run_detail", "Details", run.get("detail") or run.get("error") or ""),
    )


def _validate(answers: Answers, facts: Facts) -> tuple[Field, ...]:
    # The figures themselves are the view's tables (``flow.results``).
    route = _route_used(facts)
    if (facts.validation or {}).get("passed"):
        return (*route, _ask("publish", "bool", "Publish", default=False))
    return route


def _plan_route(answers: Answers, facts: Facts) -> tuple[Field, ...]:
    """The fallback route the run will take, for a type optimum cannot export."""
    from onnx_wizard.flow import fallback_route

    offer = fallback_route.chosen(answers, facts.report)
    return (_info("plan_route", "Route", offer["label"]),) if offer else ()


def _route_used(facts: Facts) -> tuple[Field, ...]:
    """How a fallback export was made (which route, which borrowed config), when one was."""
    text = (facts.run or {}).get("route")
    return (_info("route_used", "How it was exported", text),) if text else ()


def _recover(answers: Answers, facts: Facts) -> tuple[Field, ...]:
    diagnosis = facts.diagnosis or {}
    fields = [
        _info("diagnosis", "Problem", diagnosis.get("title") or "Diagnosing the failure..."),
        _info("explanation", "Why", diagnosis.get("explanation") or ""),
    ]
    remedies = diagnosis.get("remedies") or ()
    if remedies:
        choices = tuple((i, str(r.get("label", f"Fix {i + 1}"))) for i, r in enumerate(remedies))
        fields.append(_ask("remedy", "choice", "Fix", choices, 0, required=True))
    return tuple(fields)


def _publish(answers: Answers, facts: Facts) -> tuple[Field, ...]:
    from onnx_wizard.flow.publishing import publish_fields

    return publish_fields(answers, facts)


def _done(answers: Answers, facts: Facts) -> tuple[Field, ...]:
    from onnx_wizard.flow.results import snippets

    publish = facts.publish or {}
    fields = [
        _info("done_output", "Output", answers.get("output")),
        _info("done_command", "Equivalent command", facts.command or "", code=True),
        *_route_used(facts),
    ]
    if answers.get("publish"):
        fields.append(_info("published", "Publish", publish.get("detail") or publish.get("status")))
        if publish.get("url"):
            fields.append(_info("repo_url", "Repository", publish["url"]))
    if (facts.validation or {}).get("passed"):
        code = snippets(answers, facts)
        fields.append(_info("load_python", "Load in Python", code["python"], code=True))
        fields.append(_info("load_js", "Load in Transformers.js", code["js"], code=True))
    return tuple(fields)


_FORMS = {
    Step.SOURCE: _source,
    Step.PREREQUISITES: _prerequisites,
    Step.MODEL: _model,
    Step.TASK: _task,
    Step.ARCHITECTURE: _architecture,
    Step.EXPORT_OPTIONS: _export_options,
    Step.QUANTIZATION: _quantization,
    Step.REVIEW: _review,
    Step.RUN: _run,
    Step.VALIDATE: _validate,
    Step.RECOVER: _recover,
    Step.PUBLISH: _publish,
    Step.DONE: _done,
}


def with_value(item: Field, answers: Answers, error: str | None) -> Field:
    """``item`` showing the stored answer (or its default) and the error to show, if any."""
    return replace(item, value=answers.get(item.name, item.default), error=error)
