"""Reject signature regexes that could backtrack catastrophically on a multi-megabyte log."""

from __future__ import annotations

import sys
from typing import Any

if sys.version_info >= (3, 11):
    from re import _constants as sre_c
    from re import _parser as sre_parse
else:  # pragma: no cover - exercised on Python 3.10 only
    import sre_constants as sre_c
    import sre_parse

_REPEATS = {sre_c.MAX_REPEAT, sre_c.MIN_REPEAT}
if hasattr(sre_c, "POSSESSIVE_REPEAT"):
    _REPEATS.add(sre_c.POSSESSIVE_REPEAT)

# An unbounded repeat is only allowed over a "narrow" item: one that cannot match spaces or
# newlines (\d+, \w+, [\w.\-]+, a literal). Anything broader must be bounded, e.g. [^\n]{0,200}.
_NARROW_CATEGORIES = {sre_c.CATEGORY_DIGIT, sre_c.CATEGORY_WORD}
# A repeat may contain another repeat only when it repeats a handful of times at most.
_MAX_OUTER_FOR_NESTING = 10


def _is_narrow(body: Any) -> bool:
    items = list(body)
    if len(items) != 1:
        return False
    op, av = items[0]
    if op == sre_c.LITERAL:
        return chr(av) not in " \t\r\n"
    if op == sre_c.IN:
        for member_op, member_av in av:
            if member_op == sre_c.NEGATE:
                return False
            if member_op == sre_c.CATEGORY and member_av not in _NARROW_CATEGORIES:
                return False
            if member_op == sre_c.LITERAL and chr(member_av) in " \t\r\n":
                return False
            if member_op == sre_c.RANGE and member_av[0] <= ord(" ") <= member_av[1]:
                return False
        return True
    return False


def _walk(items: Any, outer_max: int) -> None:
    for op, av in items:
        if op in _REPEATS:
            _low, high, body = av
            unbounded = high == sre_c.MAXREPEAT
            if unbounded and not _is_narrow(body):
                raise ValueError(
                    "unbounded repeat of a broad pattern (such as .* or [^\\n]+); "
                    "bound it, e.g. [^\\n]{0,200}"
                )
            if high > 1 and outer_max > _MAX_OUTER_FOR_NESTING:
                raise ValueError("nested repeats (a quantified group inside a long repeat)")
            _walk(body, max(outer_max, high if high > 1 else 0))
        elif op == sre_c.SUBPATTERN:
            _walk(av[-1], outer_max)
        elif op == sre_c.BRANCH:
            for branch in av[1]:
                _walk(branch, outer_max)
        elif op in (sre_c.ASSERT, sre_c.ASSERT_NOT):
            _walk(av[1], outer_max)


def check_bounded(pattern: str) -> None:
    """Raise ValueError when ``pattern`` has an unbounded broad repeat or nested repeats."""
    _walk(sre_parse.parse(pattern), 0)


def required_literal(pattern: str, flags: int = 0) -> str | None:
    """The longest literal text every match of ``pattern`` must contain, or None.

    Used as a cheap `in` pre-check so a signature's regex only runs on text that could match.
    """
    parsed = sre_parse.parse(pattern, flags)
    if parsed.state.flags & (sre_c.SRE_FLAG_IGNORECASE | sre_c.SRE_FLAG_VERBOSE):
        return None
    best = ""
    run: list[str] = []
    items: list[tuple[Any, Any]] = list(parsed.data)
    for op, av in items:
        if op == sre_c.LITERAL:
            run.append(chr(av))
            continue
        if len(run) > len(best):
            best = "".join(run)
        run = []
    if len(run) > len(best):
        best = "".join(run)
    return best if len(best) >= 3 else None


_NEWLINE_CATEGORIES = {sre_c.CATEGORY_SPACE, sre_c.CATEGORY_NOT_DIGIT, sre_c.CATEGORY_NOT_WORD}


def _member(op: Any, av: Any) -> bool:
    """Whether one member of a character set matches a newline."""
    if op == sre_c.LITERAL:
        return bool(av == 10)
    if op == sre_c.RANGE:
        return bool(av[0] <= 10 <= av[1])
    return op == sre_c.CATEGORY and av in _NEWLINE_CATEGORIES


def _newline_in_set(items: Any) -> bool:
    negate = any(op == sre_c.NEGATE for op, _ in items)
    return any(_member(op, av) for op, av in items) != negate


def _spans(items: Any, dotall: bool) -> bool:
    for op, av in items:
        if (op == sre_c.LITERAL and av == 10) or (op == sre_c.NOT_LITERAL and av != 10):
            return True
        if (op == sre_c.ANY and dotall) or (op == sre_c.IN and _newline_in_set(av)):
            return True
        if op in _REPEATS and _spans(av[2], dotall):
            return True
        if op == sre_c.SUBPATTERN and _spans(av[-1], dotall):
            return True
        if op == sre_c.BRANCH and any(_spans(branch, dotall) for branch in av[1]):
            return True
        if op in (sre_c.ASSERT, sre_c.ASSERT_NOT) and _spans(av[1], dotall):
            return True
    return False


def may_span_lines(pattern: str, flags: int = 0) -> bool:
    """Whether a match of ``pattern`` can contain a newline (so it cannot be searched per line)."""
    parsed = sre_parse.parse(pattern, flags)
    return _spans(parsed, bool(parsed.state.flags & sre_c.SRE_FLAG_DOTALL))
