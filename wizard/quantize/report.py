"""The quantization report: one row per variant, the fp32 reference, commands; text and JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from onnx_wizard.planning.memory import format_size
from onnx_wizard.quantize.targets import recommendation_rows

BAR_WIDTH = 20
LATENCY_NOTE = "median of 5 runs on the same inputs, one CPU thread"


@dataclass
class VariantRow:
    variant: str
    kind: str  # "transformers.js" | "onnxruntime"
    files: list[str] = field(default_factory=list)
    bytes: int = 0
    ratio: float = 0.0  # to the fp32 files it was made from
    metric: str = ""
    value: float | None = None
    max_abs_diff: float | None = None
    latency_ms: float | None = None
    verdict: str = "failed"  # "passed" | "failed"
    reason: str = ""
    threshold: float | None = None
    options: dict[str, Any] = field(default_factory=dict)  # what the passing recipe used
    attempts: list[dict[str, Any]] = field(default_factory=list)
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"


@dataclass
class QuantizationReport:
    onnx_dir: str
    task_kind: str
    reference: dict[str, Any]  # the fp32 files: {files, bytes, latency_ms}
    rows: list[VariantRow] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    transformers_js_config: dict[str, Any] | None = None
    log: str = ""
    seconds: float = 0.0
    inputs: str = ""

    @property
    def passed(self) -> list[str]:
        return [r.variant for r in self.rows if r.passed]

    @property
    def failed(self) -> list[str]:
        return [r.variant for r in self.rows if not r.passed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "onnx_dir": self.onnx_dir,
            "task_kind": self.task_kind,
            "reference": self.reference,
            "rows": [asdict(r) for r in self.rows],
            "passed": self.passed,
            "failed": self.failed,
            "commands": self.commands,
            "transformers.js_config": self.transformers_js_config,
            "recommendations": recommendation_rows(),
            "log": self.log,
            "seconds": round(self.seconds, 2),
            "inputs": self.inputs,
            "latency": LATENCY_NOTE,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QuantizationReport:
        rows = [VariantRow(**row) for row in data.get("rows", [])]
        return cls(
            onnx_dir=data["onnx_dir"],
            task_kind=data.get("task_kind", ""),
            reference=data.get("reference", {}),
            rows=rows,
            commands=data.get("commands", []),
            transformers_js_config=data.get("transformers.js_config"),
            log=data.get("log", ""),
            seconds=data.get("seconds", 0.0),
            inputs=data.get("inputs", ""),
        )

    def render_text(self) -> str:
        """The table: variant, size, ratio, accuracy with a bar, latency, verdict."""
        reference = self.reference
        lines = [
            f"Quantized {self.onnx_dir} ({self.task_kind}; "
            f"checked on {self.inputs or 'real inputs'}; latency: {LATENCY_NOTE})",
            f"  {'variant':<12} {'size':>9} {'ratio':>6}  {'accuracy':<32} {'latency':>9}  verdict",
            f"  {'fp32':<12} {format_size(reference.get('bytes', 0)):>9} {'1.00':>6}  "
            f"{'reference':<32} {_ms(reference.get('latency_ms')):>9}",
        ]
        for row in self.rows:
            figure = "-" if row.value is None else f"{row.metric} {row.value:.4f}"
            bar = _bar(row.value if row.value is not None else 0.0, row.metric)
            verdict = "passed" if row.passed else f"FAILED: {row.reason}"
            lines.append(
                f"  {row.variant:<12} {format_size(row.bytes):>9} {row.ratio:>6.2f}  "
                f"{bar} {figure:<{31 - BAR_WIDTH}} {_ms(row.latency_ms):>9}  {verdict}"
            )
        if self.transformers_js_config:
            lines.append(f"config.json transformers.js_config: {self.transformers_js_config}")
        lines.append("Which dtype for which runtime:")
        for rec in recommendation_rows():
            lines.append(f"  {rec['target']:<20} {rec['dtype']:<14} {rec['why']}")
        if self.commands:
            lines.append("Equivalent commands:")
            lines += [f"  {command}" for command in self.commands]
        if self.log:
            lines.append(f"Full log: {self.log}")
        return "\n".join(lines)


def _bar(value: float, metric: str) -> str:
    """A bar for the accuracy figure; cosine is stretched over 0.9..1 where variants differ."""
    low = 0.9 if metric == "cosine" else 0.0
    share = max(0.0, min(1.0, (value - low) / (1.0 - low)))
    filled = round(share * BAR_WIDTH)
    return "#" * filled + "." * (BAR_WIDTH - filled)


def _ms(value: Any) -> str:
    return "-" if value is None else f"{float(value):.1f} ms"
