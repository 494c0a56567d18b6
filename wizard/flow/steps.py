"""The wizard's vocabulary: steps, answers, facts, the view model renderers draw, and its words.

Data and the rules for one field's value, no step logic: ``onnx_wizard.flow.machine`` decides what
happens, ``onnx_wizard.flow.views`` builds a :class:`StepView` for a step, and a renderer (Textual,
ipywidgets) only draws one.
Everything here is immutable (frozen dataclasses, mappings behind ``MappingProxyType``, lists
turned into tuples) so a state can be kept in a history and compared for equality.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any, Literal


class Step(str, Enum):
    """One screen of the wizard (``str, Enum``, not ``StrEnum``: Python 3.10 is supported)."""

    SOURCE = "source"
    PREREQUISITES = "prerequisites"
    MODEL = "model"
    TASK = "task"
    ARCHITECTURE = "architecture"
    EXPORT_OPTIONS = "export_options"
    QUANTIZATION = "quantization"
    REVIEW = "review"
    RUN = "run"
    VALIDATE = "validate"
    RECOVER = "recover"
    PUBLISH = "publish"
    DONE = "done"

    def __str__(self) -> str:
        return self.value


FieldKind = Literal["text", "path", "choice", "bool", "number", "multichoice", "info", "secret"]
Status = Literal["ready", "blocked", "running", "success", "failed", "cancelled"]
Action = Literal[
    "back", "next", "run", "cancel", "apply", "edit", "stop", "finish", "close", "stage", "upload"
]
ActionKind = Literal["primary", "secondary", "destructive"]
Layout = Literal["form", "run", "recover"]
Work = Literal["checks", "inspect", "export", "quantize", "stage", "upload"]
# Work that streams events to the run pane and can be cancelled (``engine.RunControl``); the
# faces start these like the export, the others in a plain worker.
STREAMING_WORK: tuple[Work, ...] = ("export", "quantize", "upload")


def freeze(value: Any) -> Any:
    """A deep, read-only copy of JSON-like data: dicts become mappingproxies, lists tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """The inverse of :func:`freeze`: plain dicts and lists, ready for ``json.dump``."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    return value


@dataclass(frozen=True)
class Facts:
    """What the engine learned (never user answers); the machine reads them, never computes them.

    - ``report``: the model inspection (``model_type``, ``architectures``, ``library``, ``task``,
      ``task_candidates``, ``with_past``, ``with_past_applies``, ``is_encoder_decoder``,
      ``is_decoder``, ``expected_files``, ``transformersjs_files``, ``parameters``, ``supported``).
    - ``gpu``: whether a CUDA device can be used for the export.
    - ``checks``: None until the environment checks ran, then dicts with ``name``, ``status``
      (ok/warn/fail), ``detail``, ``fix``.
    - ``run``: None, or ``{"status": "running"|"ok"|"failed"|"cancelled", ...}``.
    - ``validation``: None, or ``{"passed": bool, "summary": str, "results": [{"name", "passed",
      "detail"}]}``.
    - ``diagnosis``: None, or ``{"id", "title", "explanation", "remedies": [{"label",
      "answers": {...}}]}``; a remedy's ``answers`` are applied when the user chooses "apply".
    - ``command``: the equivalent ``optimum-cli`` command line of the current plan.
    - ``quantization``: None until the chosen variants were made (``flow.quantizing``), then
      ``{"status": "ok"|"failed"|"cancelled", "report": quantize report dict, "detail": str}``.
    - ``publish``: None, or ``{"status": "ready"|"staging"|"staged"|"uploading"|"ok"|"failed"|
      "kept", "token_source", "plan", "result", "problem", "fix"}`` (``flow.publishing``).
    - ``preflight``: None until the engine ran its pre-flight (``flow.preflight_view``) on the
      model step or the review, then finding dicts ``{"kind", "message", "fix", "blocking",
      "remedies": [{"action", "note"}]}`` (``planning.preflight.Finding.to_dict``).
    - ``consents``: the consent keys the user said yes to (``flow.actions.consent_key``); the
      engine refuses an action that needs one it does not hold.
    - ``earlier_attempts``: the attempts of the runs before this one since the review (each
      "Apply and retry" starts a run of its own), so the attempt history survives a retry.
    """

    report: Mapping[str, Any] | None = None
    gpu: bool = False
    checks: tuple[Mapping[str, Any], ...] | None = None
    run: Mapping[str, Any] | None = None
    validation: Mapping[str, Any] | None = None
    diagnosis: Mapping[str, Any] | None = None
    command: str | None = None
    publish: Mapping[str, Any] | None = None
    quantization: Mapping[str, Any] | None = None
    consents: tuple[str, ...] = ()
    preflight: tuple[Mapping[str, Any], ...] | None = None
    earlier_attempts: tuple[Mapping[str, Any], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "consents", tuple(self.consents))
        object.__setattr__(self, "earlier_attempts", freeze(tuple(self.earlier_attempts)))
        object.__setattr__(self, "preflight", freeze(self.preflight))
        # Frozen all the way down, so a caller's dict can't change a state kept in a history.
        frozen = ("report", "checks", "run", "validation", "diagnosis", "publish", "quantization")
        for name in frozen:
            object.__setattr__(self, name, freeze(getattr(self, name)))


@dataclass(frozen=True)
class Field:
    """One input (or read-only ``info`` line) of a step, with everything a widget needs."""

    name: str
    kind: FieldKind
    label: str
    help: str = ""
    choices: tuple[tuple[Any, str], ...] = ()
    default: Any = None
    value: Any = None
    error: str | None = None
    required: bool = False
    integer: bool = False
    minimum: float | None = None
    maximum: float | None = None
    code: bool = False  # an info value to show as code (a command, a snippet)
    # Answerable (by a flag or a remedy) but not drawn: e.g. "Run the model's code" for a model
    # that ships no code of its own. Faces skip hidden fields.
    hidden: bool = False
    placeholder: str = ""  # what an empty input means, e.g. "18 (default)"


_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")
_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}


def coerce(item: Field, raw: Any) -> Any:
    """The value to store for ``raw`` in ``item``; ValueError with a message for the user if not."""
    if item.kind == "info":
        raise ValueError(f"{item.label} is shown for information and cannot be changed.")
    if item.kind == "secret":  # a token goes to the engine's action, never into the answers
        raise ValueError(f"{item.label} is never stored as an answer.")
    if raw is None or (isinstance(raw, str) and not raw.strip() and item.kind != "multichoice"):
        if item.required:
            raise ValueError(f"{item.label} is required.")
        if item.kind == "bool":
            raise ValueError(f"{item.label} must be yes or no.")
        if item.kind == "choice" and all(value is not None for value, _ in item.choices):
            raise ValueError(f"Choose one of: {_labels(item)}.")
        return None
    if item.kind in ("text", "path"):
        if not isinstance(raw, str):
            raise ValueError(f"{item.label} must be text.")
        text = raw.strip()
        if item.name == "repo_id" and not _REPO_ID.match(text):
            raise ValueError("A Hub repository looks like owner/name, e.g. my-name/my-model-ONNX.")
        return text
    if item.kind == "bool":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
            return raw.strip().lower() in _TRUE
        raise ValueError(f"{item.label} must be yes or no.")
    if item.kind == "number":
        return _number(item, raw)
    if item.kind == "choice":
        for value, _ in item.choices:
            if raw == value or (isinstance(raw, str) and value is not None and raw == str(value)):
                return value
        raise ValueError(f"{raw!r} is not available here. Choose one of: {_labels(item)}.")
    # multichoice: any iterable of choice values, or "a,b" from a command line.
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, (list, tuple, set, frozenset)):
        raise ValueError(f"{item.label} takes a list of choices.")
    picked = {str(x).strip() for x in items if str(x).strip()}
    unknown = picked - {str(value) for value, _ in item.choices}
    if unknown:
        raise ValueError(f"Not available here: {', '.join(sorted(unknown))}.")
    return tuple(value for value, _ in item.choices if str(value) in picked)


def _number(item: Field, raw: Any) -> float | int:
    if isinstance(raw, bool):
        raise ValueError(f"{item.label} must be a number.")
    try:
        number = float(raw) if isinstance(raw, (str, int, float)) else float("nan")
    except ValueError:
        number = float("nan")
    if number != number:  # NaN: not a number at all
        raise ValueError(f"{item.label} must be a number, not {raw!r}.")
    if item.integer:
        if not number.is_integer():
            raise ValueError(f"{item.label} must be a whole number.")
        number = int(number)
    if item.minimum is not None and number < item.minimum:
        raise ValueError(f"{item.label} must be at least {item.minimum:g}.")
    if item.maximum is not None and number > item.maximum:
        raise ValueError(f"{item.label} must be at most {item.maximum:g}.")
    return number


def _labels(item: Field) -> str:
    return ", ".join("none" if value is None else str(value) for value, _ in item.choices)


@dataclass(frozen=True)
class ActionView:
    """One button of a step, decided by the engine: what it says, how it looks, when it works.

    ``kind`` is primary (the step's main way forward), secondary or destructive; ``key`` the
    keyboard hint renderers bind; ``enabled`` false comes with the ``reason``. An action whose
    ``consent`` is non-empty runs code, installs or replaces files: the engine refuses it unless
    the call carries ``yes=True``, and ``consent`` says in words what that yes is for. ``busy``
    is what to show while the engine performs it.
    """

    name: Action
    label: str
    kind: ActionKind = "secondary"
    key: str = ""
    enabled: bool = True
    reason: str = ""
    consent: str = ""
    busy: str = "Working..."

    @property
    def needs_consent(self) -> bool:
        return bool(self.consent)


@dataclass(frozen=True)
class Table:
    """A table the engine formatted (sizes, figures, verdicts as text); faces only lay it out."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


@dataclass(frozen=True)
class StepView:
    """Everything a renderer shows for the current step; it holds no logic of its own.

    ``status`` is one of ready/blocked/running/success/failed/cancelled; ``actions`` lists the
    buttons to offer, in order; ``progress`` is (1-based position, number of steps on this path).
    ``layout`` says which kind of pane to draw (a form, the live run, the recovery choice);
    ``work`` names the long work the engine must do now (``engine.work``), None when there is
    none; ``tables`` and ``outcome`` hold formatted results.
    """

    step: Step
    title: str
    help: str
    fields: tuple[Field, ...]
    status: Status
    actions: tuple[ActionView, ...]
    error: str | None
    progress: tuple[int, int]
    layout: Layout = "form"
    work: Work | None = None
    tables: tuple[Table, ...] = ()
    outcome: str = ""
    outcome_tone: str = ""

    def field(self, name: str) -> Field:
        """The field called ``name``; KeyError if this step has none."""
        for item in self.fields:
            if item.name == name:
                return item
        raise KeyError(name)

    def action(self, name: str) -> ActionView | None:
        """The offered action called ``name``, or None."""
        return next((a for a in self.actions if a.name == name), None)

    def offers(self, name: str) -> bool:
        """Whether ``name`` is offered and enabled now."""
        found = self.action(name)
        return found is not None and found.enabled

    @property
    def action_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.actions)

    @property
    def primary(self) -> ActionView | None:
        """The main way forward (Next, Run export, Apply and retry, Finish), if any."""
        return next((a for a in self.actions if a.kind == "primary"), None)

    def table(self, name: str) -> Table:
        for item in self.tables:
            if item.name == name:
                return item
        raise KeyError(name)


@dataclass(frozen=True)
class WizardState:
    """The whole wizard at one moment: where it is, what was answered and learned, how it got here.

    ``errors`` holds inputs that were rejected on the current step (field name -> message);
    ``attempted`` says Next was pressed and refused here, so missing and conflicting answers are
    shown from then on. Both are cleared whenever the step changes.
    """

    step: Step = Step.SOURCE
    answers: Mapping[str, Any] = field(default_factory=dict)
    facts: Facts = field(default_factory=Facts)
    history: tuple[Step, ...] = ()
    errors: Mapping[str, str] = field(default_factory=dict)
    attempted: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "step", Step(self.step))
        object.__setattr__(self, "history", tuple(Step(s) for s in self.history))
        object.__setattr__(self, "answers", freeze(self.answers))
        object.__setattr__(self, "errors", freeze(self.errors))


# ---- answers and their fixed choices -------------------------------------------------------------

# Which step asks each answer: start() and with_answers() check names against it.
ANSWER_STEPS: dict[str, Step] = {
    "source": Step.SOURCE,
    "output": Step.SOURCE,
    "overwrite": Step.SOURCE,
    "ignore_failed_checks": Step.PREREQUISITES,
    "trust_remote_code": Step.MODEL,
    "route": Step.MODEL,
    "task": Step.TASK,
    "with_past": Step.ARCHITECTURE,
    "decoder_files": Step.ARCHITECTURE,
    "opset": Step.EXPORT_OPTIONS,
    "device": Step.EXPORT_OPTIONS,
    "dtype": Step.EXPORT_OPTIONS,
    "optimize": Step.EXPORT_OPTIONS,
    "atol": Step.EXPORT_OPTIONS,
    "slim": Step.EXPORT_OPTIONS,
    "batch_size": Step.EXPORT_OPTIONS,
    "sequence_length": Step.EXPORT_OPTIONS,
    "ort_presets": Step.QUANTIZATION,
    "js_dtypes": Step.QUANTIZATION,
    "calibration": Step.QUANTIZATION,
    "calibration_column": Step.QUANTIZATION,
    "publish": Step.VALIDATE,
    "remedy": Step.RECOVER,
    "recovery": Step.RECOVER,
    "repo_id": Step.PUBLISH,
    "private": Step.PUBLISH,
}

# ---- words shown to the user --------------------------------------------------------------------

TITLES: dict[Step, str] = {
    Step.SOURCE: "Welcome: which model?",
    Step.PREREQUISITES: "Check your environment",
    Step.MODEL: "About this model",
    Step.TASK: "What should the model do?",
    Step.ARCHITECTURE: "Text generation: KV cache and files",
    Step.EXPORT_OPTIONS: "Export options",
    Step.QUANTIZATION: "Smaller variants (quantization)",
    Step.REVIEW: "Review the plan",
    Step.RUN: "Exporting",
    Step.VALIDATE: "Checking the result",
    Step.RECOVER: "Something went wrong",
    Step.PUBLISH: "Publish",
    Step.DONE: "Done",
}

HELP: dict[Step, str] = {
    Step.SOURCE: (
        "This wizard turns a Hugging Face model into validated ONNX files for ONNX Runtime and "
        "for Transformers.js in the browser or Node. Tell it which model to convert."
    ),
    Step.PREREQUISITES: (
        "Before exporting, the wizard checks the Python packages, memory and disk space the "
        "export needs. A failed check usually means the export would fail later; each one says "
        "how to fix it."
    ),
    Step.MODEL: (
        "This is what the wizard read from the model's config.json. Check it is the model you "
        "meant; the next steps adapt to its kind."
    ),
    Step.TASK: (
        "The task decides which part of the model is exported and which inputs and outputs the "
        "ONNX file has. The wizard preselects the task the model was trained for."
    ),
    Step.ARCHITECTURE: (
        "This model writes text one word at a time. These choices decide how fast generation "
        "is and which files you get."
    ),
    Step.EXPORT_OPTIONS: (
        "The defaults suit almost every model: change them only for a specific reason, or when "
        "a failed export suggests it."
    ),
    Step.QUANTIZATION: (
        "Quantized variants are smaller and faster and lose a little accuracy; the full-precision "
        "model.onnx is always kept. After the export passes, each chosen variant is made in its "
        "own process, run with ONNX Runtime on real inputs and compared with the fp32 model; its "
        "size, accuracy and latency appear in the results. A variant below its accuracy "
        "threshold is reported as failed and kept out of config.json's transformers.js_config. "
        "Which dtype for which runtime (the table below): WebGPU on a desktop fp16 or q4f16, "
        "WebGPU on a phone q4, WASM q8, maximum accuracy fp32 (choose none)."
    ),
    Step.REVIEW: (
        "Everything the wizard will do, and the command that does the same without it. Run "
        "starts the export in a separate process: a crash there cannot lose your answers."
    ),
    Step.RUN: "The export is running. You can cancel it at any time; your answers stay saved.",
    Step.VALIDATE: (
        "Each file is run with ONNX Runtime and compared with the original PyTorch model."
    ),
    Step.RECOVER: (
        "What went wrong, in plain words, and the fixes that change the plan, most likely first. "
        "Apply and retry changes the plan and runs the export again; Edit plan takes you to the "
        "options; Stop ends here with your answers saved."
    ),
    Step.PUBLISH: (
        "Prepare stages the onnx-community layout in a folder beside your export (onnx/ with the "
        "passing variants, config.json, tokenizer files and a model card) and shows every file "
        "before anything is sent. Upload asks for your yes, then sends the files to the Hub "
        "repository; Finish without uploading keeps the staged folder. The token comes from "
        "HF_TOKEN or your saved login, or is typed here and saved with huggingface_hub's login; "
        "it is never shown, logged or saved in the session."
    ),
    Step.DONE: "Finished. The equivalent command reproduces the export without the wizard.",
}

# Help for single fields, by name.
FIELD_HELP: dict[str, str] = {
    "source": (
        "A Hub id such as distilbert-base-uncased, a local folder holding config.json, or a "
        "built-in sample to try the wizard: sample:bert-classifier, sample:gpt2, sample:t5, or "
        "sample:ernie (a type optimum cannot export: the fallback routes)."
    ),
    "output": (
        "The folder for the ONNX files. Leave empty for a folder named after the model. "
        "Nothing is written there until an export succeeds."
    ),
    "ignore_failed_checks": (
        "Go on although a check failed. The export may then fail with the same problem."
    ),
    "trust_remote_code": (
        "Some models ship their own Python code instead of using the code in transformers. "
        "Turn this on only for a repository you trust: its code runs on your computer."
    ),
    "route": (
        "How to export a model type optimum has no ONNX config for. Auto tries every route in "
        "order of measured success and keeps the first export that validates against PyTorch."
    ),
    "task": "Keep the preselected task unless you know you need another head of the model.",
    "with_past": (
        "A KV cache lets the model reuse its work on the words it already wrote instead of "
        "redoing it for every new word: much faster generation. Transformers.js and ONNX "
        "Runtime's generate loop expect it. Turn it off only to score or embed text."
    ),
    "decoder_files": (
        "Transformers.js loads the merged decoder. Two separate decoders skip the merge, which "
        "needs about twice the model's size in memory. One single file (--monolith) only "
        "works without a KV cache."
    ),
    "opset": (
        "The ONNX operator-set version. Empty uses optimum's default (18), right for current "
        "ONNX Runtime and Transformers.js. Raise it if an error says an operator needs a newer "
        "opset; lower it only for an old runtime."
    ),
    "device": "Where the model runs while it is exported. CPU works everywhere.",
    "dtype": (
        "fp32 is exact and works everywhere. fp16 and bf16 exports need a CUDA GPU; without "
        "one, pick fp16 on the next step: it converts the finished model instead."
    ),
    "optimize": (
        "ONNX Runtime graph optimizations. Optimized files are tuned for ONNX Runtime on the "
        "machine that made them; Transformers.js prefers none. O4 needs a CUDA GPU."
    ),
    "atol": (
        "How far the ONNX outputs may be from PyTorch's. Loosen it only when differences are "
        "tiny and expected."
    ),
    "batch_size": (
        "The size of the dummy input used to trace and check the model. Empty uses optimum's "
        "defaults (batch 2, sequence 16); the exported model still accepts any size."
    ),
    "ort_presets": (
        "ONNX Runtime int8 for servers and PCs: a dynamic preset per CPU family (this machine's "
        "is marked), or static QDQ (tensorrt, cpu-qdq) calibrated on samples. Each goes to its "
        "own ort-<preset>/ folder, so the names never clash with the Transformers.js files."
    ),
    "js_dtypes": (
        "Files Transformers.js loads with { dtype: ... }: q8 -> model_quantized.onnx, "
        "fp16 -> model_fp16.onnx, q4 -> model_q4.onnx, and so on."
    ),
    "publish": "Stage the files in the onnx-community layout next, and upload them if you like.",
    "calibration": (
        "Static presets (tensorrt, cpu-qdq) calibrate on samples: a text file with one sample a "
        "line, JSONL or CSV. Empty: built-in everyday sentences. Checked when you press Next."
    ),
    "calibration_column": "For a JSONL or CSV file: the field or column that holds the text.",
    "token": (
        "A Hugging Face token with write access (https://huggingface.co/settings/tokens). It is "
        "checked with the Hub and saved with huggingface_hub's login, never in the session."
    ),
    "remedy": "The fixes that worked for this problem before, most likely first.",
    "recovery": "Apply the fix and run again, edit the plan, or stop: your answers stay saved.",
    "layout": (
        "onnx/ holds model.onnx and its variants (model_quantized.onnx, model_fp16.onnx, ...); "
        "config.json (with transformers.js_config) and the tokenizer files sit at the top."
    ),
    "repo_id": "The Hub repository to publish to (owner/name); it is created if it does not exist.",
    "private": "Create the repository as private; you can make it public later on the Hub.",
}
FIELD_HELP["sequence_length"] = FIELD_HELP["batch_size"]
FIELD_HELP["slim"] = (
    "Run onnxslim on the exported files (optimum's --slim): fewer, fused nodes and often "
    "smaller files, same outputs. Needs the onnxslim package (pip install onnxslim)."
)
FIELD_HELP["overwrite"] = (
    "Only needed when the output folder already holds files. They are replaced only after a new "
    "export has passed validation; a failed or cancelled export leaves them as they are."
)
