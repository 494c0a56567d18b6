"""Never an empty answer: what can still be told about a pasted text nothing recognises.

``answer(text)`` returns the diagnoses when there are any and, always, a summary read from the
log's structure: the error, the package that raised it and its installed version, the versions
the log names, what to search for, and what to put in a bug report. An empty paste says it is
empty; prose says it is not a log; a clean log says no failure was found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from onnx_wizard.knowledge.logparse import LogFacts, parse
from onnx_wizard.knowledge.logtext import prepare
from onnx_wizard.knowledge.matcher import Diagnosis, diagnose
from onnx_wizard.knowledge.pins import installed_version
from onnx_wizard.knowledge.tellapart import TellApart, tell_apart

_SECRETS = (
    re.compile(r"hf_[A-Za-z0-9]{8,200}"),
    re.compile(r"(?i)(authorization:?\s{0,5}(?:bearer\s{1,5})?)[^\s\"']{4,500}"),
)
_BLANKS = (
    (re.compile(r"https?://\S{1,500}"), ""),
    (re.compile(r"(?:[A-Za-z]:)?[\\/][\w.\-\\/@~%]{2,500}"), ""),
    (re.compile(r"0x[0-9a-f]{1,16}"), ""),
)

HEADLINES = {
    "empty": "The input is empty: paste the log of the failed export (or pass its file).",
    "prose": "This text is not a log: it reads as sentences, not a program's output. Paste the "
    "terminal output of the failed command (its last 50 lines are usually enough).",
    "clean": "No failure was found in this log: it holds no error, traceback or failing status. "
    "If something did fail, paste the output that came after this.",
    "succeeded": "No failure was found: the export succeeded "
    "(optimum's success line ends the log).",
    "failure": "No known failure matches this log; here is what it says.",
}


def mask_secrets(text: str) -> str:
    """Hide Hugging Face tokens and Authorization values in anything the doctor prints."""
    text = _SECRETS[0].sub("hf_***", text)
    return _SECRETS[1].sub(lambda m: m.group(1) + "***", text)


@dataclass(frozen=True)
class Summary:
    """What can be told about a text without a known diagnosis."""

    kind: str
    headline: str
    error: str | None = None
    package: str | None = None
    installed: str | None = None
    versions: tuple[tuple[str, str], ...] = ()
    search: str | None = None
    report: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "headline": self.headline,
            "error": self.error,
            "package": self.package,
            "installed": self.installed,
            "versions": dict(self.versions),
            "search": self.search,
            "report": list(self.report),
        }

    def lines(self) -> list[str]:
        out = [self.headline]
        if self.error:
            out.append(f"  Error: {self.error}")
        if self.package:
            here = f" ({self.installed} installed here)" if self.installed else ""
            out.append(f"  Raised in: {self.package}{here}")
        if self.versions:
            out.append(
                "  Versions the log names: " + ", ".join(f"{p} {v}" for p, v in self.versions)
            )
        if self.search:
            out.append(f'  Search for: "{self.search}"')
        if self.report:
            out.append("  For a bug report, include:")
            out.extend(f"    - {item}" for item in self.report)
        return out


def _search_phrase(facts: LogFacts) -> str | None:
    line = facts.error_line
    if not line:
        return None
    for pattern, replacement in _BLANKS:
        line = pattern.sub(replacement, line)
    line = re.sub(r"'[^'\n]{0,200}'|\"[^\"\n]{0,200}\"", "", line)
    return " ".join(line.split())[:160] or None


def summarise(text: str) -> Summary:
    """The structure-based summary of ``text`` (used whether or not an entry matched)."""
    prepared = prepare(text)
    if text.strip() and not prepared.strip():
        return Summary("clean", HEADLINES["succeeded"])
    facts = parse(prepared)
    if facts.kind != "failure":
        return Summary(facts.kind, HEADLINES[facts.kind])
    package = facts.raising_package
    if package is None and facts.ort_status:
        package = "onnxruntime"
    installed = installed_version(package) if package else None
    report = (
        "the exact command or code that failed" + (f" ({facts.command})" if facts.command else ""),
        "the full output from the command to the end (the last exception and what led to it)",
        "`pip list` lines for torch, transformers, optimum, optimum-onnx, onnx, onnxruntime",
        "the model id or its config.json, and the Python version and OS",
    )
    return Summary(
        "failure",
        HEADLINES["failure"],
        error=mask_secrets(facts.error_line) if facts.error_line else None,
        package=package,
        installed=installed,
        versions=facts.versions,
        search=mask_secrets(phrase) if (phrase := _search_phrase(facts)) else None,
        report=report,
    )


@dataclass(frozen=True)
class Answer:
    """The doctor's whole answer: diagnoses (maybe none) and the summary (always)."""

    diagnoses: tuple[Diagnosis, ...]
    summary: Summary
    # Set when two diagnoses are close: both causes named, with how to tell them apart.
    tell_apart: TellApart | None = None


def answer(text: str) -> Answer:
    diagnoses = tuple(diagnose(text))
    return Answer(diagnoses, summarise(text), tell_apart(diagnoses))
