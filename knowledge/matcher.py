"""Diagnose an export log against the catalogue: ranked diagnoses with remedies, in linear time."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from onnx_wizard.knowledge.catalogue import (
    TEMPLATE,
    Catalogue,
    Entry,
    RemedySpec,
    default_catalogue,
)
from onnx_wizard.knowledge.logparse import parse
from onnx_wizard.knowledge.logtext import prepare
from onnx_wizard.knowledge.pins import changes_nothing, pin
from onnx_wizard.knowledge.regex_safety import may_span_lines, required_literal
from onnx_wizard.knowledge.vocabulary import command_for

MAX_EVIDENCE = 300
# Matches in the last FINAL_LINES lines count as the final error; FAR_LINES bounds line counting.
FINAL_LINES = 25
FAR_LINES = 2000

_NUMBER = re.compile(r"[-+]?(?:\d{1,30}\.\d{0,30}|\.\d{1,30}|\d{1,30})(?:[eE][-+]?\d{1,4})?")


@dataclass(frozen=True)
class Remedy:
    """One fix, with the values captured from the log already filled in."""

    action: str
    args: dict[str, Any]
    note: str
    needs_consent: bool
    command: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "args": dict(self.args),
            "command": self.command,
            "note": self.note,
            "needs_consent": self.needs_consent,
        }


@dataclass(frozen=True)
class Diagnosis:
    """A known failure recognised in a log, best remedy first."""

    id: str
    category: str
    title: str
    confidence: float
    explanation: str
    remedies: tuple[Remedy, ...]
    evidence: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "category": self.category,
            "title": self.title,
            "confidence": self.confidence,
            "explanation": self.explanation,
            "remedies": [remedy.to_dict() for remedy in self.remedies],
        }


def _typed(value: str) -> Any:
    if re.fullmatch(r"[-+]?\d{1,30}", value):
        return int(value)
    if _NUMBER.fullmatch(value):
        return float(value)
    return value


def _apply_filter(value: Any, name: str) -> Any:
    """`pow10` rounds a measured difference up to the next power of ten (3e-4 -> 0.001)."""
    if name != "pow10" or not isinstance(value, (int, float)) or value == 0:
        return value
    return float(f"1e{math.ceil(math.log10(abs(value)))}")


def _render(template: Any, values: Mapping[str, Any]) -> Any:
    """Fill `{group}` templates; a value that is only one template keeps the captured type."""
    if not isinstance(template, str):
        return template
    whole = TEMPLATE.fullmatch(template)
    if whole:
        name, flt = whole.group(1), whole.group(2)
        if name not in values:
            raise KeyError(name)
        value = _typed(str(values[name]))
        return _apply_filter(value, flt) if flt else value

    def substitute(match: re.Match[str]) -> str:
        value = values[match.group(1)]
        return str(_apply_filter(_typed(str(value)), match.group(2)) if match.group(2) else value)

    return TEMPLATE.sub(substitute, template)


def _remedy(spec: RemedySpec, values: Mapping[str, Any]) -> Remedy:
    args: dict[str, Any] = {}
    for key, template in spec.args.items():
        try:
            args[key] = _render(template, values)
        except KeyError:
            continue  # this log did not carry the value; the engine asks for it instead
    args, pinned_from = pin(spec.action, args)
    if reason := changes_nothing(spec.action, args):
        return _already_installed(str(args["package"]), reason)
    note = f"{spec.note} ({pinned_from})" if pinned_from else spec.note
    command: str | None
    try:
        command = _render(spec.command, values) if spec.command else command_for(spec.action, args)
    except KeyError:
        command = command_for(spec.action, args)
    if pinned_from and spec.command:
        command = command_for(spec.action, args)  # the entry's own command would be unpinned
    return Remedy(spec.action, args, note, spec.needs_consent, command)


def _already_installed(package: str, reason: str) -> Remedy:
    """Instead of an install that would change nothing: what else can be wrong, and a check."""
    note = (
        f"{reason}, so installing it changes nothing. If the failing run said it is missing, "
        "that run used another Python environment: run the export with this one, or install it "
        "there. If it is installed there too, importing it fails for another reason: the command "
        "below, run in that environment, shows which version (if any) it sees."
    )
    return Remedy("manual", {}, note, False, f"python -m pip show {package}")


def render_remedies(entry: Entry, values: Mapping[str, Any] | None = None) -> tuple[Remedy, ...]:
    """``entry``'s remedies as this environment gives them (pinned, no-op installs replaced)."""
    filled = {**entry.defaults, **(values or {})}
    remedies: list[Remedy] = []
    for spec in entry.remedies:
        remedy = _remedy(spec, filled)
        if all((r.action, r.args) != (remedy.action, remedy.args) for r in remedies):
            remedies.append(remedy)  # two specs can fill in to the same fix; show it once
    return tuple(remedies)


@dataclass
class _Hit:
    position: int
    match: re.Match[str]


def _final(pattern: re.Pattern[str], text: str, start: int, end: int) -> re.Match[str] | None:
    last = None
    for last in pattern.finditer(text, start, end):  # noqa: B007 - we want the final match
        pass
    return last


def _last_match(pattern: re.Pattern[str], text: str) -> _Hit | None:
    """The last match of ``pattern``; a one-line regex runs only on lines holding its literal.

    Occurrences of the required literal are visited from the end, and each line is searched at
    most once, so a long log full of near misses stays linear.
    """
    literal, multiline = _plan(pattern)
    if literal is None or multiline:
        match = _final(pattern, text, 0, len(text))
        return _Hit(match.start(), match) if match else None
    end = len(text)
    while (hit := text.rfind(literal, 0, end)) >= 0:
        start = text.rfind("\n", 0, hit) + 1
        stop = text.find("\n", hit + len(literal))
        match = _final(pattern, text, start, stop if stop >= 0 else len(text))
        if match:
            return _Hit(match.start(), match)
        end = start
    return None


_PLANS: dict[tuple[str, int], tuple[str | None, bool]] = {}


def _plan(pattern: re.Pattern[str]) -> tuple[str | None, bool]:
    """The pattern's required literal and whether it can span lines (computed once)."""
    key = (pattern.pattern, pattern.flags)
    if key not in _PLANS:
        _PLANS[key] = (
            required_literal(pattern.pattern, pattern.flags),
            may_span_lines(pattern.pattern, pattern.flags),
        )
    return _PLANS[key]


class _LinesFromEnd:
    """How many lines before the end of the text a position is (exact for the last lines)."""

    def __init__(self, text: str, keep: int = FAR_LINES) -> None:
        self.newlines: list[int] = []
        end = len(text.rstrip())
        while len(self.newlines) < keep and (end := text.rfind("\n", 0, end)) >= 0:
            self.newlines.append(end)

    def __call__(self, position: int) -> int:
        # newlines is in descending order; count those after position.
        low, high = 0, len(self.newlines)
        while low < high:
            middle = (low + high) // 2
            if self.newlines[middle] > position:
                low = middle + 1
            else:
                high = middle
        return low


def _score(
    entry: Entry, text: str, lines_from_end: _LinesFromEnd
) -> tuple[float, int, Diagnosis] | None:
    hits = [hit for p in entry.signatures if (hit := _last_match(p, text))]
    if not hits:
        return None
    context = [hit for p in entry.context if (hit := _last_match(p, text))]
    last = max(hits, key=lambda hit: hit.position)
    specificity = min(1.0, max(len(hit.match.group(0)) for hit in hits) / 80)
    # The final error of a failed run is at its end (a traceback's last line, a JS stack under
    # it): a match there outweighs anything earlier, which fades with its distance in lines.
    distance = max(0, lines_from_end(last.position) - FINAL_LINES)
    recency = 0.3 * 0.5 ** (distance / 50)
    confidence = (
        0.4
        + 0.15 * specificity
        + 0.04 * min(2, len(hits) - 1)
        + 0.05 * min(2, len(context))
        + recency
        + entry.prior
    )
    confidence = round(min(0.99, max(0.05, confidence)), 3)
    values: dict[str, Any] = dict(entry.defaults)
    for hit in sorted(hits + context, key=lambda hit: hit.position):
        values.update({k: v for k, v in hit.match.groupdict().items() if v is not None})
    line_start = text.rfind("\n", 0, last.position) + 1
    line_end = text.find("\n", last.position)
    evidence = text[line_start : line_end if line_end >= 0 else len(text)].strip()[:MAX_EVIDENCE]
    diagnosis = Diagnosis(
        entry.id,
        entry.category,
        entry.title,
        confidence,
        entry.explanation,
        render_remedies(entry, values),
        evidence,
    )
    return confidence, last.position, diagnosis


def _from_similarity(text: str, catalogue: Catalogue) -> Diagnosis | None:
    """The closest entry by example similarity, when its calibrated confidence is high enough."""
    from onnx_wizard.knowledge.similarity import MIN_CONFIDENCE, nearest

    found = nearest(text, catalogue)
    if found is None or found[2] < MIN_CONFIDENCE:
        return None
    entry = catalogue.get(found[0])
    facts = parse(text)
    remedies = render_remedies(entry)
    evidence = (facts.error_line or "")[:MAX_EVIDENCE]
    confidence = round(min(0.9, found[2]), 3)
    return Diagnosis(
        entry.id,
        entry.category,
        entry.title,
        confidence,
        entry.explanation,
        remedies,
        evidence,
    )


def diagnose(log: str, *, limit: int = 5, catalogue: Catalogue | None = None) -> list[Diagnosis]:
    """Known failures found in ``log``, best first, at most one per category (``limit`` in all).

    Prose, an empty paste and a log whose export succeeded (optimum's success line, with nothing
    failing after it) give an empty list. When no signature matches a failing log, the entry
    whose examples it resembles most is offered if its calibrated confidence is high enough.
    Cost is bounded by the tail window, so a 10 MB log takes well under a second.
    """
    text = prepare(log)
    if not text.strip():
        return []
    facts = parse(text)
    if facts.kind in ("empty", "prose"):
        return []
    chosen = catalogue or default_catalogue()
    lines_from_end = _LinesFromEnd(text)
    scored = [s for entry in chosen.entries if (s := _score(entry, text, lines_from_end))]
    scored.sort(key=lambda item: (item[0], item[1]), reverse=True)
    # One answer per cause: a category's best entry speaks for it (near-duplicates never stack).
    best: list[Diagnosis] = []
    for _, _, diagnosis in scored:
        if all(d.category != diagnosis.category for d in best):
            best.append(diagnosis)
    if not best and facts.kind == "failure" and _has_structure(facts):
        fallback = _from_similarity(text, chosen)
        if fallback is not None:
            best.append(fallback)
    return best[: max(0, limit)]


def _has_structure(facts: Any) -> bool:
    """Only a text with a real error statement is worth comparing with known failures."""
    return bool(
        facts.exceptions or facts.ort_status or facts.js_errors or facts.http or facts.pip_error
    )
