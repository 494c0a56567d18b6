"""Prepare a raw export log for matching: strip terminal noise, keep the part that matters."""

from __future__ import annotations

import re

# The final error sits at the end of a failed run, so every signature scans only this much of
# the log's tail; earlier text contributes only lines that carry an error keyword (the digest).
TAIL_CHARS = 1_000_000
DIGEST_LINES = 300
DIGEST_KEYWORDS = ("Error", "error", "Killed", "Exception", "exceeds", "not supported", "Unable")
SUCCESS_MARKER = "The ONNX export succeeded and the exported model was saved at"

_ANSI = re.compile(r"\x1b\[[0-9;?]{0,40}[ -/]{0,4}[@-~]|\x1b\][^\x07\x1b\n]{0,400}(?:\x07|\x1b\\)?")


def _clean_line(line: str) -> str:
    line = line.rstrip("\r")
    if "\r" in line:
        # A progress bar redraws the line after each \r; only the last frame is what was shown.
        line = line.rsplit("\r", 1)[-1]
    return line


def clean(text: str) -> str:
    """Strip ANSI escapes and carriage-return redraws (tqdm bars) from a piece of log."""
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    if "\r" in text:
        text = "\n".join(_clean_line(line) for line in text.split("\n"))
    return text


def _digest(head: str) -> str:
    """The latest lines of ``head`` that carry an error keyword, found without scanning per line."""
    starts: set[int] = set()
    for keyword in DIGEST_KEYWORDS:
        end = len(head)
        found = 0
        while found < DIGEST_LINES:
            hit = head.rfind(keyword, 0, end)
            if hit < 0:
                break
            start = head.rfind("\n", 0, hit) + 1
            starts.add(start)
            found += 1
            end = start
    lines = []
    for start in sorted(starts)[-DIGEST_LINES:]:
        stop = head.find("\n", start)
        lines.append(head[start : stop if stop >= 0 else len(head)][-2000:])
    return clean("\n".join(lines))


def prepare(log: str) -> str:
    """The searchable text: the cleaned tail, after the last success line, plus the digest."""
    head, tail = log[:-TAIL_CHARS], log[-TAIL_CHARS:]
    if head and "\n" in tail:
        tail = tail.split("\n", 1)[1]  # drop the partial first line
    tail = clean(tail)
    success = tail.rfind(SUCCESS_MARKER)
    if success >= 0:
        return tail[success:].split("\n", 1)[1] if "\n" in tail[success:] else ""
    if head:
        success = head.rfind(SUCCESS_MARKER)
        digest = _digest(head[success + len(SUCCESS_MARKER) :] if success >= 0 else head)
        return digest + "\n" + tail
    return tail
