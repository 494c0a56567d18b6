"""Calibration and check samples: a text file, JSONL or CSV with a column, or built-in sentences."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from onnx_wizard.errors import WizardError

# Ten everyday sentences: the inputs every variant is checked on, and the default calibration.
SAMPLE_SENTENCES: tuple[str, ...] = (
    "The weather is lovely today, so we are going for a walk in the park.",
    "Could you send me the report before the meeting on Thursday?",
    "I forgot my umbrella and got completely soaked on the way home.",
    "The new restaurant downtown serves the best noodles I have ever had.",
    "Please remember to water the plants while I am away.",
    "The train was delayed by twenty minutes because of a signal failure.",
    "She finished reading the novel in a single evening.",
    "Our team won the match after a very close second half.",
    "How much does a return ticket to the coast cost?",
    "The children built a sandcastle and watched the tide wash it away.",
)


def load_samples(
    path: str | Path | None, *, column: str | None = None, count: int | None = None
) -> list[str]:
    """Read calibration samples: one a line (.txt), a JSONL field or a CSV column.

    Without ``path`` the built-in sentences are used. ``count`` asks for at least that many
    samples (and uses exactly that many). Every problem is a WizardError naming the fix."""
    if path is None:
        samples = list(SAMPLE_SENTENCES)
        source = "the built-in sample sentences"
    else:
        file = Path(path).expanduser()
        if not file.is_file():
            raise WizardError(
                f"The calibration file {file} does not exist.",
                "Give a text file (one sample a line), JSONL or CSV.",
            )
        text = file.read_text(encoding="utf-8", errors="replace")
        suffix = file.suffix.lower()
        if suffix in (".jsonl", ".ndjson"):
            samples = _jsonl(text, file, column)
        elif suffix in (".csv", ".tsv"):
            samples = _csv(text, file, column, "\t" if suffix == ".tsv" else ",")
        else:
            if column:
                raise WizardError(
                    f"--column {column} only applies to JSONL or CSV files, and "
                    f"{file.name} is read as plain text (one sample a line).",
                    "Drop --column, or give a .jsonl or .csv file.",
                )
            samples = [line.strip() for line in text.splitlines() if line.strip()]
        source = str(file)
        if not samples:
            raise WizardError(
                f"The calibration file {file} holds no samples.",
                "Put one sample a line (or rows with the column) in it.",
            )
    if count is not None:
        if len(samples) < count:
            raise WizardError(
                f"{source} holds {len(samples)} sample(s), fewer than the {count} asked for.",
                f"Add samples, or ask for at most {len(samples)}.",
            )
        samples = samples[:count]
    return samples


def _jsonl(text: str, file: Path, column: str | None) -> list[str]:
    if not column:
        raise WizardError(
            f"{file.name} is JSONL: which field holds the text?", "Name it with --column FIELD."
        )
    samples: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise WizardError(
                f"{file.name} line {number} is not JSON ({error.msg}).",
                "Fix that line: one JSON object a line.",
            ) from None
        if not isinstance(row, dict) or column not in row:
            keys = ", ".join(row) if isinstance(row, dict) else "none"
            raise WizardError(
                f"{file.name} line {number} has no field {column!r} (fields: {keys}).",
                "Name an existing field with --column.",
            )
        if str(row[column]).strip():
            samples.append(str(row[column]).strip())
    return samples


def _csv(text: str, file: Path, column: str | None, delimiter: str) -> list[str]:
    rows = list(csv.DictReader(text.splitlines(), delimiter=delimiter))
    header = list(rows[0]) if rows else next(csv.reader(text.splitlines()[:1]), [])
    if not column:
        raise WizardError(
            f"{file.name} is CSV: which column holds the text "
            f"(columns: {', '.join(header) or 'none'})?",
            "Name it with --column NAME.",
        )
    if column not in header:
        raise WizardError(
            f"{file.name} has no column {column!r} (columns: {', '.join(header) or 'none'}).",
            "Name an existing column with --column.",
        )
    return [str(row[column]).strip() for row in rows if str(row.get(column) or "").strip()]
