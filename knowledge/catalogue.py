"""Load the error catalogue (one TOML file per known failure) and validate every entry on load."""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onnx_wizard.knowledge.regex_safety import check_bounded
from onnx_wizard.knowledge.vocabulary import ACTIONS, CATEGORIES, CATEGORY_CODES, CONSENT_ACTIONS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 only
    import tomli as tomllib

ENTRIES_DIR = Path(__file__).with_name("entries")

# `{name}` or `{name:pow10}` inside remedy args and commands; anything else in braces is text.
TEMPLATE = re.compile(r"\{([A-Za-z_]\w{0,40})(?::(\w{1,20}))?\}")
FILTERS = frozenset({"pow10"})

_FILE_NAME = re.compile(r"^(OW-[A-Z0-9]{2,8}-\d{3})-[a-z0-9]{1,40}(?:-[a-z0-9]{1,40}){0,12}\.toml$")
_ENTRY_KEYS = {
    "id",
    "category",
    "title",
    "signatures",
    "context",
    "explanation",
    "remedies",
    "examples",
    "prior",
    "defaults",
    "tell_apart",
}
_REMEDY_KEYS = {"action", "args", "note", "needs_consent", "command"}
_EXAMPLE_KEYS = {"log", "source"}
_SCALARS = (str, int, float, bool)


class CatalogueError(ValueError):
    """One or more catalogue files are invalid; the message names each file and its problem."""


@dataclass(frozen=True)
class RemedySpec:
    """A remedy as written in the catalogue; args may hold `{group}` templates."""

    action: str
    args: Mapping[str, Any]
    note: str
    needs_consent: bool
    command: str | None = None


@dataclass(frozen=True)
class Example:
    """A real log of this failure and where it came from."""

    log: str
    source: str


@dataclass(frozen=True)
class Entry:
    """One known failure: how to recognise it, what it means, and how to fix it."""

    id: str
    category: str
    title: str
    signatures: tuple[re.Pattern[str], ...]
    explanation: str
    remedies: tuple[RemedySpec, ...]
    examples: tuple[Example, ...]
    path: Path
    context: tuple[re.Pattern[str], ...] = ()
    prior: float = 0.0
    defaults: Mapping[str, Any] = field(default_factory=dict)
    # What in the log or the setup points to this cause rather than a look-alike (optional).
    tell_apart: str = ""


@dataclass(frozen=True)
class Catalogue:
    """All entries, in id order."""

    entries: tuple[Entry, ...]

    def get(self, entry_id: str) -> Entry:
        for entry in self.entries:
            if entry.id == entry_id:
                return entry
        raise KeyError(entry_id)

    def by_category(self) -> dict[str, list[Entry]]:
        grouped: dict[str, list[Entry]] = {category: [] for category in CATEGORIES}
        for entry in self.entries:
            grouped[entry.category].append(entry)
        return grouped


def _compile_all(raw: Any, key: str, required: bool) -> tuple[re.Pattern[str], ...]:
    if raw is None and not required:
        return ()
    if not isinstance(raw, list) or (required and not raw):
        raise ValueError(f"`{key}` must be a non-empty list of regexes")
    patterns = []
    for source in raw:
        if not isinstance(source, str) or not source:
            raise ValueError(f"`{key}` holds a non-string or empty regex: {source!r}")
        try:
            compiled = re.compile(source, re.MULTILINE)
        except re.error as error:
            raise ValueError(f"regex in `{key}` does not compile ({error}): {source!r}") from None
        try:
            check_bounded(source)
        except ValueError as error:
            raise ValueError(f"regex in `{key}` is not bounded ({error}): {source!r}") from None
        patterns.append(compiled)
    return tuple(patterns)


def _template_names(value: object) -> list[tuple[str, str | None]]:
    if not isinstance(value, str):
        return []
    return [(match.group(1), match.group(2)) for match in TEMPLATE.finditer(value)]


def _parse_remedy(raw: Any, index: int, known_groups: set[str]) -> RemedySpec:
    where = f"remedies[{index}]"
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be a table")
    unknown = set(raw) - _REMEDY_KEYS
    if unknown:
        raise ValueError(f"{where} has unknown keys {sorted(unknown)}")
    action = raw.get("action")
    if action not in ACTIONS:
        raise ValueError(f"{where} has unknown action {action!r}; known: {', '.join(ACTIONS)}")
    args = raw.get("args", {})
    if not isinstance(args, dict) or not all(isinstance(v, _SCALARS) for v in args.values()):
        raise ValueError(f"{where}.args must be a table of strings, numbers or booleans")
    note = raw.get("note")
    if not isinstance(note, str) or not note.strip():
        raise ValueError(f"{where} needs a `note` saying what the fix does")
    consent = raw.get("needs_consent")
    if not isinstance(consent, bool):
        raise ValueError(f"{where} needs `needs_consent = true|false`")
    if action in CONSENT_ACTIONS and not consent:
        raise ValueError(
            f"{where}: `{action}` changes the environment or runs remote code, "
            "so needs_consent must be true"
        )
    command = raw.get("command")
    if command is not None and (not isinstance(command, str) or not command.strip()):
        raise ValueError(f"{where}.command must be a non-empty string")
    for value in [*args.values(), command]:
        for name, flt in _template_names(value):
            if name not in known_groups:
                raise ValueError(f"{where} references {{{name}}}, which no signature captures")
            if flt is not None and flt not in FILTERS:
                raise ValueError(f"{where} uses unknown filter {flt!r}; known: {sorted(FILTERS)}")
    return RemedySpec(str(action), dict(args), note.strip(), consent, command)


def _parse_examples(raw: Any) -> tuple[Example, ...]:
    # Optional: an entry whose only real logs are in the held-out corpus keeps none here, so the
    # held-out figures measure recognition, not recall of pasted text.
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ValueError("`examples` must be a list of real logs (`log` and `source`)")
    examples = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or set(item) != _EXAMPLE_KEYS:
            raise ValueError(f"examples[{index}] must have exactly `log` and `source`")
        if not all(isinstance(item[k], str) and item[k].strip() for k in _EXAMPLE_KEYS):
            raise ValueError(f"examples[{index}] has an empty `log` or `source`")
        examples.append(Example(item["log"], item["source"].strip()))
    return tuple(examples)


def parse_entry(data: Mapping[str, Any], path: Path) -> Entry:
    """Validate one decoded TOML document; raise ValueError naming the first problem."""
    unknown = set(data) - _ENTRY_KEYS
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}")
    category = data.get("category")
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; known: {', '.join(CATEGORIES)}")
    entry_id = data.get("id")
    expected_prefix = f"OW-{CATEGORY_CODES[category]}-"
    if not isinstance(entry_id, str) or not re.fullmatch(
        re.escape(expected_prefix) + r"\d{3}", entry_id
    ):
        raise ValueError(
            f"id {entry_id!r} must look like {expected_prefix}NNN for category {category}"
        )
    name = _FILE_NAME.match(path.name)
    if not name or name.group(1) != entry_id:
        raise ValueError(f"file name must be `{entry_id}-<slug>.toml` (lower-case slug)")
    for key in ("title", "explanation"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise ValueError(f"`{key}` must be a non-empty string")
    signatures = _compile_all(data.get("signatures"), "signatures", required=True)
    context = _compile_all(data.get("context"), "context", required=False)
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict) or not all(
        isinstance(v, _SCALARS) for v in defaults.values()
    ):
        raise ValueError("`defaults` must be a table of strings, numbers or booleans")
    groups = {name for pattern in signatures + context for name in pattern.groupindex}
    groups |= set(defaults)
    raw_remedies = data.get("remedies")
    if not isinstance(raw_remedies, list) or not raw_remedies:
        raise ValueError("`remedies` must list at least one remedy")
    remedies = tuple(_parse_remedy(raw, i, groups) for i, raw in enumerate(raw_remedies))
    prior = data.get("prior", 0.0)
    if not isinstance(prior, (int, float)) or not -0.3 <= prior <= 0.3:
        raise ValueError("`prior` must be a number between -0.3 and 0.3")
    tell_apart = data.get("tell_apart", "")
    if not isinstance(tell_apart, str):
        raise ValueError("`tell_apart` must be a string")
    return Entry(
        id=entry_id,
        category=str(category),
        title=data["title"].strip(),
        signatures=signatures,
        explanation=" ".join(data["explanation"].split()),
        remedies=remedies,
        examples=_parse_examples(data.get("examples")),
        path=path,
        context=context,
        prior=float(prior),
        defaults=dict(defaults),
        tell_apart=" ".join(tell_apart.split()),
    )


def load_catalogue(directory: Path | None = None) -> Catalogue:
    """Load and validate every `*.toml` in ``directory`` (default: the shipped entries).

    Raises CatalogueError listing every bad file with its problem, so one run shows them all.
    """
    folder = directory or ENTRIES_DIR
    problems: list[str] = []
    entries: list[Entry] = []
    seen: dict[str, Path] = {}
    for path in sorted(folder.glob("*.toml")):
        try:
            with path.open("rb") as handle:
                data = tomllib.load(handle)
            entry = parse_entry(data, path)
        except (tomllib.TOMLDecodeError, ValueError) as error:
            problems.append(f"{path.name}: {error}")
            continue
        if entry.id in seen:
            problems.append(f"{path.name}: id {entry.id} is already used by {seen[entry.id].name}")
            continue
        seen[entry.id] = path
        entries.append(entry)
    if not entries and not problems:
        problems.append(f"{folder}: no *.toml entries found")
    if problems:
        raise CatalogueError("invalid knowledge entries:\n  " + "\n  ".join(problems))
    return Catalogue(tuple(entries))


@functools.lru_cache(maxsize=1)
def default_catalogue() -> Catalogue:
    """The shipped catalogue, loaded once per process."""
    return load_catalogue()
