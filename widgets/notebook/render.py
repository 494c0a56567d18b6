"""HTML for the notebook: tables, diagnoses, plan diffs and an SVG chart; every value escaped.

Pure functions from engine data to HTML strings, with no widget in sight, so the magics and the
wizard share them and tests can read them. Anything that came from a model, a log or the user
goes through :func:`esc`: a log line holding ``<script>`` must show as text, never run.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from onnx_wizard.flow.steps import Field, StepView, Table
from onnx_wizard.planning.memory import format_size

STATUS_COLOURS = {
    "ok": "#1a7f37",
    "passed": "#1a7f37",
    "success": "#1a7f37",
    "warn": "#9a6700",
    "cancelled": "#9a6700",
    "fail": "#cf222e",
    "failed": "#cf222e",
    "blocked": "#cf222e",
    "running": "#0969da",
    "ready": "#57606a",
}
# Inline, because a notebook may render the HTML without any stylesheet of ours.
STYLE = (
    "<style>table.onnx-wizard{border-collapse:collapse;margin:4px 0}"
    "table.onnx-wizard td,table.onnx-wizard th{border:1px solid #d0d7de;padding:2px 8px;"
    "text-align:left;vertical-align:top}</style>"
)


def esc(value: Any) -> str:
    """``value`` as text that HTML shows literally (None as an empty string)."""
    return "" if value is None else html.escape(str(value), quote=True)


def badge(status: Any) -> str:
    colour = STATUS_COLOURS.get(str(status), "#57606a")
    return f'<b style="color:{colour}">{esc(status)}</b>'


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table; ``rows`` hold HTML already escaped by the caller (use :func:`esc`)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    thead = f"<thead><tr>{head}</tr></thead>" if headers else ""
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'{STYLE}<table class="onnx-wizard">{thead}<tbody>{body}</tbody></table>'


def code(text: Any) -> str:
    return f'<pre style="white-space:pre-wrap;margin:2px 0">{esc(text)}</pre>'


def error_box(problem: Any, fix: Any = None, detail: Any = None) -> str:
    """The widget's error area and the magics' errors: what is wrong, what to do, the details."""
    parts = [f"<b>Problem:</b> {esc(problem)}"]
    if fix:
        parts.append(f"<b>Fix:</b> {esc(fix)}")
    if detail:
        parts.append(f"<details><summary>Details</summary>{code(detail)}</details>")
    style = "border-left:4px solid #cf222e;padding:4px 8px;background:#fff5f5"
    return f'<div class="onnx-wizard-error" style="{style}">' + "<br>".join(parts) + "</div>"


# ---- the wizard's steps -------------------------------------------------------------------------


def header(view: StepView) -> str:
    index, total = view.progress
    return (
        f"<h3 style='margin:4px 0'>Step {index} of {total}: {esc(view.title)}</h3>"
        f"<div>{esc(view.help)}</div><div>Status: {badge(view.status)}</div>"
    )


def _value(item: Field) -> str:
    value = item.value
    if item.code:
        return code(value)
    if str(value) in STATUS_COLOURS:
        return badge(value)
    if isinstance(value, (list, tuple)):
        return esc(", ".join(str(v) for v in value))
    return esc(value).replace("\n", "<br>")  # one line per choice, reason, ...


def info_table(items: Sequence[Field]) -> str:
    """A step's read-only fields (checks, model facts, the plan) as one table."""
    rows = [(esc(i.label), _value(i), esc(i.help).replace("\n", "<br>")) for i in items]
    return table((), rows)


def plan_diff(diff: Mapping[str, Sequence[Any]]) -> str:
    """A remedy's change to the plan: one row per decision, before and after."""
    rows = [(esc(name), code(old), code(new)) for name, (old, new) in diff.items()]
    return "<b>What this fix changes in the plan</b>" + table(("Setting", "Now", "After"), rows)


TONES = {"good": "#1a7f37", "warn": "#9a6700", "bad": "#cf222e"}


def outcome(text: str, tone: str) -> str:
    """The engine's sentence on how the run ended, coloured by its tone."""
    if not text:
        return ""
    colour = TONES.get(tone, "#57606a")
    return f"<div style='border-left:4px solid {colour};padding:2px 8px'>{esc(text)}</div>"


def step_table(item: Table) -> str:
    """One of the view's tables (already formatted by the engine), with its title and note."""
    note = f"<div><small>{esc(item.note)}</small></div>" if item.note else ""
    body = table(item.columns, [[esc(cell) for cell in row] for row in item.rows])
    return f"<h4 style='margin:6px 0'>{esc(item.title)}</h4>{body}{note}"


def static_view(view: StepView) -> str:
    """The step without widgets, for viewers that cannot run them (GitHub, nbviewer)."""
    fields = info_table(view.fields) if view.fields else ""
    actions = " · ".join(esc(a.label) for a in view.actions if a.enabled)
    return (
        f"<div class='onnx-wizard-static'>{header(view)}{fields}"
        f"{outcome(view.outcome, view.outcome_tone)}"
        + "".join(step_table(t) for t in view.tables)
        + (f"<div><small>Actions: {actions}</small></div>" if actions else "")
        + "</div>"
    )


# ---- results -----------------------------------------------------------------------------------


def _diff_text(value: Any) -> str:
    return "not checked" if value is None else f"{float(value):.3g}"


def variants_table(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return "<i>No ONNX files yet.</i>"
    cells = [
        (
            esc(r["file"]),
            esc(r["variant"]),
            esc(format_size(r["bytes"])),
            esc(_diff_text(r["max_abs_diff"])),
            esc("" if r["atol"] is None else f"{r['atol']:g}"),
            badge({True: "passed", False: "failed", None: "not checked"}[r["passed"]]),
        )
        for r in rows
    ]
    headers = ("File", "Variant", "Size", "Max abs diff", "atol", "Validation")
    return table(headers, cells)


def chart(rows: Sequence[Mapping[str, Any]]) -> str:
    """An SVG bar chart: size per variant, and accuracy as max diff on a log scale with atol."""
    if not rows:
        return ""
    label_w, bar_w, row_h = 210, 220, 22
    width, height = label_w + 2 * bar_w + 60, 40 + row_h * len(rows)
    biggest = max(int(r["bytes"]) for r in rows) or 1
    low, high = -10.0, 0.0  # the accuracy axis: log10 of the max abs diff, 1e-10 .. 1

    def along(value: float) -> float:
        return bar_w * (min(max(math.log10(max(value, 1e-30)), low), high) - low) / (high - low)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="onnx-wizard-chart" width="{width}" '
        f'height="{height}" font-family="sans-serif" font-size="12">',
        f'<text x="{label_w}" y="14">Size</text>',
        f'<text x="{label_w + bar_w + 30}" y="14">Max abs diff (log scale, | = atol)</text>',
    ]
    for i, r in enumerate(rows):
        y = 24 + i * row_h
        size_w = max(1.0, bar_w * int(r["bytes"]) / biggest)
        parts += [
            f'<text x="0" y="{y + 13}">{esc(r["file"])} ({esc(r["variant"])})</text>',
            f'<rect x="{label_w}" y="{y}" width="{size_w:.1f}" height="16" fill="#0969da"/>',
            f'<text x="{label_w + size_w + 4:.1f}" y="{y + 13}">{esc(format_size(r["bytes"]))}'
            "</text>",
        ]
        x0 = label_w + bar_w + 30
        if r["max_abs_diff"] is not None:
            colour = "#1a7f37" if r["passed"] else "#cf222e"
            acc_w = max(1.0, along(float(r["max_abs_diff"])))
            parts.append(
                f'<rect x="{x0}" y="{y}" width="{acc_w:.1f}" height="16" fill="{colour}">'
                f"<title>{esc(_diff_text(r['max_abs_diff']))}</title></rect>"
            )
        if r["atol"] is not None:
            x = x0 + along(float(r["atol"]))
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y - 2}" y2="{y + 18}" stroke="#000"/>'
            )
    parts.append("</svg>")
    return "".join(parts)


def size_accuracy_chart(points: Sequence[Mapping[str, Any]]) -> str:
    """An SVG scatter: one dot per variant, size across, accuracy against fp32 up (the engine's
    figures; a failed variant is red, one with no figure sits on the bottom line)."""
    if len(points) < 2:
        return ""
    width, height, left, bottom, top = 520, 240, 60, 200, 20
    biggest = max(int(p["bytes"]) for p in points) or 1
    values = [float(p["value"]) for p in points if p.get("value") is not None]
    low = min([*values, 1.0]) - 0.01

    def x(size: int) -> float:
        return left + (width - left - 80) * size / biggest

    def y(value: Any) -> float:
        if value is None:
            return float(bottom)
        return bottom - (bottom - top) * (float(value) - low) / (1.0 - low or 1.0)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="onnx-wizard-variants" width="{width}" '
        f'height="{height}" font-family="sans-serif" font-size="12">',
        f'<line x1="{left}" y1="{bottom}" x2="{width - 20}" y2="{bottom}" stroke="#000"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#000"/>',
        f'<text x="{left}" y="{bottom + 30}">Size (largest {esc(format_size(biggest))})</text>',
        f'<text x="0" y="{top - 6}">Accuracy against fp32 ({low:.3f} .. 1)</text>',
    ]
    for p in points:
        colour = "#1a7f37" if p.get("passed") else "#cf222e"
        cx, cy = x(int(p["bytes"])), y(p.get("value"))
        figure = "-" if p.get("value") is None else f"{float(p['value']):.4f}"
        parts.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="5" fill="{colour}"><title>'
            f"{esc(p['variant'])}: {esc(format_size(int(p['bytes'])))}, {esc(p.get('metric'))} "
            f"{esc(figure)}</title></circle>"
            f'<text x="{cx + 8:.1f}" y="{cy + 4:.1f}">{esc(p["variant"])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


# ---- the magics ----------------------------------------------------------------------------


def checks_table(checks: Sequence[Mapping[str, Any]]) -> str:
    rows = [
        (badge(c.get("status")), esc(c.get("name")), esc(c.get("detail")), code(c.get("fix") or ""))
        for c in checks
    ]
    failed = sum(c.get("status") == "fail" for c in checks)
    warned = sum(c.get("status") == "warn" for c in checks)
    summary = f"<div>{len(checks)} checks: {failed} failed, {warned} warnings</div>"
    return table(("Status", "Check", "Detail", "Fix"), rows) + summary


def report_table(report: Mapping[str, Any]) -> str:
    """``inspect``'s report: one row per fact, lists joined."""

    def show(value: Any) -> str:
        if isinstance(value, Mapping):
            return esc(", ".join(f"{k} {v}" for k, v in value.items()))
        if isinstance(value, (list, tuple)):
            return esc(", ".join(str(v) for v in value)) or "<i>none</i>"
        return esc(value)

    rows = [(esc(key.replace("_", " ")), show(value)) for key, value in report.items()]
    return table(("Fact", "Value"), rows)


def doctor(result: Mapping[str, Any]) -> str:
    """``%%onnx_wizard doctor``: each diagnosis with its explanation and fixes, best first."""
    diagnoses = list(result.get("diagnoses") or ())
    if not diagnoses:
        return (
            "<div class='onnx-wizard-doctor'><b>No known failure was recognised in this log.</b> "
            "If the export failed, the error is usually in the last 30 lines: run "
            "<code>%onnx_wizard check</code>, then rerun the export with "
            "<code>onnx-wizard export MODEL OUTDIR --auto-fix</code>.</div>"
        )
    parts = ["<div class='onnx-wizard-doctor'>"]
    if result.get("tell_apart_text"):  # two close causes: how to tell them apart, first
        parts.append(f"<div class='onnx-wizard-tell-apart'>{code(result['tell_apart_text'])}</div>")
    for d in diagnoses:
        confidence = float(d.get("confidence") or 0)
        parts.append(
            f"<h4 style='margin:6px 0'>{esc(d.get('title'))} "
            f"<small>[{esc(d.get('id'))}, {esc(d.get('category'))}, "
            f"confidence {confidence:.0%}]</small></h4><p>{esc(d.get('explanation'))}</p>"
        )
        if d.get("evidence"):
            parts.append(f"<div>Seen in the log:</div>{code(d['evidence'])}")
        fixes = []
        for remedy in d.get("remedies") or ():
            consent = " <b>(needs your explicit yes)</b>" if remedy.get("needs_consent") else ""
            command = code(remedy["command"]) if remedy.get("command") else ""
            fixes.append(f"<li>{esc(remedy.get('note') or remedy.get('action'))}{consent}{command}")
        if fixes:
            parts.append("<ol>" + "".join(fixes) + "</ol>")
    if result.get("corrected_command"):
        parts.append(f"<b>Corrected command</b>{code(result['corrected_command'])}")
    return "".join(parts) + "</div>"
