"""Human-readable diagnosis reports, and the export command a failed log was produced by."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence

from onnx_wizard.knowledge.logtext import clean
from onnx_wizard.knowledge.matcher import Diagnosis

_COMMAND_START = ("optimum-cli", "optimum.exporters.onnx")
_COMMAND = re.compile(
    r"(?:optimum-cli[ \t]{1,10}export[ \t]{1,10}onnx|python3?[ \t]{1,10}-m[ \t]{1,10}"
    r"optimum\.exporters\.onnx)(?:[ \t][^\n`]{0,4000})?"
)


def render_text(diagnoses: Sequence[Diagnosis], *, width: int = 100) -> str:
    """A plain-text report: each cause, the evidence line, why it happens, numbered fixes."""
    if not diagnoses:
        return "No known failure was recognised in this log."
    out: list[str] = []
    for rank, diagnosis in enumerate(diagnoses, 1):
        out.append(
            f"{rank}. {diagnosis.title}  [{diagnosis.id}, {diagnosis.category}, "
            f"confidence {diagnosis.confidence:.2f}]"
        )
        if diagnosis.evidence:
            out.append(f"   Seen: {diagnosis.evidence}")
        out.extend(
            textwrap.wrap(
                diagnosis.explanation,
                width,
                initial_indent="   Why: ",
                subsequent_indent="        ",
            )
        )
        out.append("   Fixes:")
        for number, remedy in enumerate(diagnosis.remedies, 1):
            consent = "  (asks before doing this)" if remedy.needs_consent else ""
            out.append(f"     {number}) {remedy.note}{consent}")
            if remedy.command:
                out.append(f"        $ {remedy.command}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def extract_plan_command(log: str) -> str | None:
    """The last `optimum-cli export onnx ...` command line in ``log`` (continuations joined)."""
    at = max(log.rfind(marker) for marker in _COMMAND_START)
    if at < 0:
        return None
    start = log.rfind("\n", 0, at) + 1
    lines: list[str] = []
    position = start
    # Shell continuation lines ("\" at the end) belong to the same command.
    for _ in range(50):
        stop = log.find("\n", position)
        line = clean(log[position : stop if stop >= 0 else len(log)])
        if line.rstrip().endswith("\\") and stop >= 0:
            lines.append(line.rstrip()[:-1].strip())
            position = stop + 1
            continue
        lines.append(line.strip())
        break
    match = _COMMAND.search(" ".join(part for part in lines if part))
    if not match:
        return None
    return " ".join(match.group(0).split()).rstrip("'\".;,")
