"""What a finished export gives back to Python: files, figures, the command, and ready sessions.

:class:`ExportResult` is returned by :func:`onnx_wizard.export` and held by the notebook wizard
as ``w.result`` once a run passed. It is plain data plus two loaders: :meth:`ExportResult.session`
(an ONNX Runtime session) and :meth:`ExportResult.ort_model` (optimum's ``ORTModelFor...`` for
the task), which import onnxruntime and optimum only when called.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onnx_wizard.errors import WizardError
from onnx_wizard.planning.memory import format_size

# The optimum ORTModel class for each export task.
ORT_CLASSES: dict[str, str] = {
    "feature-extraction": "ORTModelForFeatureExtraction",
    "sentence-similarity": "ORTModelForFeatureExtraction",
    "text-classification": "ORTModelForSequenceClassification",
    "token-classification": "ORTModelForTokenClassification",
    "question-answering": "ORTModelForQuestionAnswering",
    "fill-mask": "ORTModelForMaskedLM",
    "multiple-choice": "ORTModelForMultipleChoice",
    "text-generation": "ORTModelForCausalLM",
    "text2text-generation": "ORTModelForSeq2SeqLM",
    "automatic-speech-recognition": "ORTModelForSpeechSeq2Seq",
    "image-classification": "ORTModelForImageClassification",
    "audio-classification": "ORTModelForAudioClassification",
    "image-to-text": "ORTModelForVision2Seq",
    "semantic-segmentation": "ORTModelForSemanticSegmentation",
}


def base_task(task: Any) -> str:
    return str(task or "").removesuffix("-with-past")


# The file a session opens by default: the first of these that the export wrote.
MAIN_FILES = ("model.onnx", "decoder_model_merged.onnx", "encoder_model.onnx")


@dataclass(frozen=True)
class ExportResult:
    """A validated export: where it is, what it holds, how well it matches PyTorch."""

    output: Path
    task: str
    files: tuple[tuple[str, int], ...]
    validation: Mapping[str, Any] = field(default_factory=dict)
    command: str = ""
    log: str = ""

    @classmethod
    def from_run(
        cls, output: str | Path, task: str, run: Mapping[str, Any], validation: Any, command: str
    ) -> ExportResult:
        files = tuple(
            (str(item.get("name")), int(item.get("bytes") or 0)) for item in run.get("files") or ()
        )
        return cls(
            output=Path(output),
            task=str(task),
            files=files,
            validation=dict(validation or {}),
            command=command or "",
            log=str(run.get("log") or ""),
        )

    @property
    def passed(self) -> bool:
        return bool(self.validation.get("passed"))

    @property
    def onnx_files(self) -> list[str]:
        return [name for name, _ in self.files if name.endswith(".onnx")]

    def validation_rows(self) -> list[dict[str, Any]]:
        """Every compared output: submodel, output, decoding step, max |diff|, tolerance, passed."""
        return [dict(c) for c in self.validation.get("checks") or ()]

    def session(self, file: str | None = None, **options: Any) -> Any:
        """An ``onnxruntime.InferenceSession`` on ``file`` (default: the model's main file)."""
        import onnxruntime

        path = self.output / (file or self._main_file())
        if not path.is_file():
            raise WizardError(
                f"{path} does not exist.", f"Pick one of: {', '.join(self.onnx_files)}"
            )
        options.setdefault("providers", ["CPUExecutionProvider"])
        return onnxruntime.InferenceSession(str(path), **options)

    def ort_model(self, **options: Any) -> Any:
        """optimum's ``ORTModelFor...`` class for the task, loaded from the output folder."""
        name = ORT_CLASSES.get(base_task(self.task))
        if name is None:
            raise WizardError(
                f"optimum has no ORTModel class for the task {self.task!r}.",
                "Use result.session() to run the ONNX file with ONNX Runtime directly.",
            )
        import optimum.onnxruntime as ort

        model_class = getattr(ort, name)
        if self.task.endswith("-with-past"):
            options.setdefault("use_cache", True)
        return model_class.from_pretrained(str(self.output), **options)

    def _main_file(self) -> str:
        names = self.onnx_files
        for candidate in MAIN_FILES:
            if candidate in names:
                return candidate
        if not names:
            raise WizardError("This export holds no ONNX file.", "Run the export again.")
        return names[0]

    def __repr__(self) -> str:
        verdict = "validated" if self.passed else "NOT validated"
        lines = [f"ExportResult({self.output}, task={self.task!r}, {verdict})"]
        lines += [f"  {name:<40} {format_size(size):>10}" for name, size in self.files]
        if self.validation.get("summary"):
            lines.append(f"  {self.validation['summary']}")
        if self.command:
            lines.append(f"  command: {self.command}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        files = "".join(
            f"<tr><td><code>{esc(name)}</code></td><td>{esc(format_size(size))}</td></tr>"
            for name, size in self.files
        )
        checks = "".join(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>".format(
                esc(f"{c.get('submodel')}/{c.get('output')}"),
                esc(str(c.get("stage") or "")),
                esc(_figure(c.get("max_abs_diff"))),
                "passed" if c.get("passed") else "<b>FAILED</b>",
            )
            for c in self.validation_rows()
        )
        verdict = "validated" if self.passed else "<b>not validated</b>"
        return (
            f"<div><b>ExportResult</b>: <code>{esc(str(self.output))}</code> "
            f"({esc(self.task)}, {verdict})"
            f"<table><tr><th>File</th><th>Size</th></tr>{files}</table>"
            f"<table><tr><th>Output</th><th>Step</th><th>Max |diff|</th><th>Result</th></tr>"
            f"{checks}</table>"
            f"<div>{esc(str(self.validation.get('summary') or ''))}</div>"
            f"<pre>{esc(self.command)}</pre></div>"
        )


def _figure(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, (int, float)) else str(value)
