"""When two causes remain possible for one log: one answer that names both and tells them apart."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from onnx_wizard.knowledge.catalogue import Catalogue, default_catalogue
from onnx_wizard.knowledge.matcher import Diagnosis

# Diagnoses this close in confidence are both live causes. Measured on the development part of
# the corpus: with a gap under 0.1 the second diagnosis was the right one in 4 of 8 logs; with a
# larger gap, in none of 3.
MARGIN = 0.1

# A sentence ends at . ! or ? before a capital letter (so "e.g. _quantized" does not end one).
_FIRST_SENTENCE = re.compile(r"^(.{20,400}?[.!?])(?:\s+(?=[A-Z])|$)")


@dataclass(frozen=True)
class Cause:
    """One of the possible causes: its entry, title, confidence and what points to it."""

    id: str
    title: str
    confidence: float
    sign: str
    # True when ``sign`` is the entry's own condition, False when it is what the cause means.
    condition: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "confidence": self.confidence,
            "sign": self.sign,
            "condition": self.condition,
        }

    def line(self) -> str:
        return f"  - {self.id} if {self.sign}" if self.condition else f"  - {self.id}: {self.sign}"


@dataclass(frozen=True)
class TellApart:
    """Two (or more) close causes of one failure and how to tell which one it is."""

    causes: tuple[Cause, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"causes": [cause.to_dict() for cause in self.causes]}

    def lines(self) -> list[str]:
        titles = " or ".join(f"{c.title.rstrip('.')} ({c.id})" for c in self.causes)
        out = [f"Two causes remain possible: {titles}.", "How to tell them apart:"]
        out.extend(cause.line() for cause in self.causes)
        return out

    def text(self) -> str:
        return "\n".join(self.lines())


def _first_sentence(explanation: str) -> str:
    match = _FIRST_SENTENCE.match(explanation)
    return match.group(1) if match else explanation[:300]


def tell_apart(
    diagnoses: Sequence[Diagnosis], catalogue: Catalogue | None = None
) -> TellApart | None:
    """The close causes among ``diagnoses`` (best first), or None when one cause stands out.

    Diagnoses come one per category (the matcher merges near-duplicates), so close ones are
    different causes; the best two are named together when the second is within MARGIN.
    """
    if len(diagnoses) < 2 or diagnoses[0].confidence - diagnoses[1].confidence >= MARGIN:
        return None
    chosen = catalogue or default_catalogue()
    causes = []
    for diagnosis in diagnoses[:2]:
        entry = chosen.get(diagnosis.id)
        sign = entry.tell_apart or _first_sentence(entry.explanation)
        causes.append(
            Cause(diagnosis.id, diagnosis.title, diagnosis.confidence, sign, bool(entry.tell_apart))
        )
    return TellApart(tuple(causes))
