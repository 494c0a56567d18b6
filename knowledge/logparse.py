# ruff: noqa: E501 - long bounded regexes / one-off data plumbing read better on one line
"""Read a pasted text's structure before matching: errors, raising packages, statuses, command.

``parse(text) -> LogFacts`` finds the last exception and its chain, the packages of the frames
that raised, ONNX Runtime's ``[ONNXRuntimeError] : N : CODE`` status, JavaScript ``Error:``
lines, an HTTP status with the file asked for, pip's resolver block, the command that was run and
the versions the text names; ``kind`` says whether it is empty, prose, a clean log or a failure.
Every regex is bounded and runs once per line, so a long log stays linear.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_EXCEPTION = re.compile(
    r"^[\s>*]{0,8}(?:[\w.]{1,200}\.)?(?P<type>[A-Z]\w{0,80}(?:Error|Exception|Exit|Fail|"
    r"NotImplemented|InvalidArgument|InvalidProtobuf|NoSuchFile|InvalidGraph|EPFail))"
    r"(?::[ \t]?(?P<message>[^\n]{0,2000}))?$"
)
_FRAME = re.compile(r"[\\/](?:site|dist)-packages[\\/](?P<package>[\w\-]{1,80})")
_NODE_FRAME = re.compile(
    r"node_modules[\\/](?P<package>@[\w\-.]{1,80}[\\/][\w\-.]{1,80}|[\w\-.]{1,80})"
)
_ORT_STATUS = re.compile(
    r"\[ONNXRuntimeError\] : (?P<code>\d{1,3}) : (?P<name>[A-Z_]{2,40}) : (?P<message>[^\n]{0,2000})"
)
_ORT_JAVA = re.compile(
    r"Error code - (?P<name>ORT_[A-Z_]{2,40}) - message: (?P<message>[^\n]{0,2000})"
)
_JS_ERROR = re.compile(
    r"^[\s]{0,8}(?:Uncaught \(in promise\) )?(?P<type>(?:\w{0,40})Error): (?P<message>[^\n]{1,2000})$"
)
_HTTP = re.compile(
    r"\b(?P<status>[45]\d\d) Client Error[^\n]{0,300}?(?:for url: |url )(?P<url>https?://[^\s\"']{1,500})"
)
_URL_FILE = re.compile(
    r"(?:Could not locate file: |for url: |url )\"?(?P<url>https?://[^\s\"']{1,500})"
)
_PIP_CONFLICT = re.compile(
    r"^\s{0,8}(?P<line>(?:The user requested|[\w\-.]{1,80} [\w.+\-]{1,40} depends on) [^\n]{1,300})$"
)
_PIP_ERROR = re.compile(
    r"^ERROR: (?P<message>(?:ResolutionImpossible|Cannot install|Could not find a version|No matching distribution)[^\n]{0,500})$"
)
_COMMAND = re.compile(
    r"^(?:[$#>] ?|!)?(?P<command>(?:optimum-cli|python3?|huggingface-cli|hf|npm|npx|node|pip3?|"
    r"onnx-wizard|torchrun|accelerate)\b[^\n]{0,2000})$"
)
_VERSION = re.compile(
    r"\b(?P<package>[a-z][\w\-.]{1,60}?)(?:==| version:? | |@)(?P<version>\d{1,4}\.\d{1,4}(?:\.\d{1,6})?(?:[.+\-]?(?:dev|rc|post|a|b|cu|cpu)\w{0,20})?)\b"
)
_FAILURE_WORDS = re.compile(
    r"Traceback \(most recent call last\)|\[ONNXRuntimeError\]|\bERROR\b|[Ee]rror\b|\bfail(?:ed|ure|s)?\b|"
    r"^\s{0,8}Killed\s{0,8}$|exit (?:code|status) -?\d{1,4}|[Ee]xception|not supported|[Uu]nsupported|"
    r"[Cc]annot |[Cc]ould not|[Cc]ouldn't|[Uu]nable to|No module named|requires? |missing|not found|"
    r"exceeds|out of memory|values not close|[Nn]ot implemented|[Ii]nvalid|denied|Unauthorized|"
    r"not (?:a )?valid|Killed process|no attribute|got an unexpected|"
    # onnxruntime's ORT_ENFORCE wording: "<condition> was false. <why>"
    r"\bwas false\.|must not be empty",
    re.MULTILINE,
)
# A token that only code, paths or program output carry: prose has none of these.
_CODEISH = re.compile(
    r"[_/\\`=<>{}\[\]|]|\"[\w.\-]{1,80}\"|::|\w\(|\b[A-Z][a-z]{1,30}[A-Z]\w{0,60}|\w: \d|\w\.\w|\b(?:[A-Z]\w{0,60})?(?:Error|Exception):|^\s{2,}\S|\t|\d:\d"
)
_LABEL_FAILURE = re.compile(
    r"^[\w .\-]{1,40}: [^\n]{0,300}(?:fail|error|[Uu]nsupported|not supported)", re.MULTILINE
)

MAX_LINES = 4000  # the tail that is read for structure; the final error is at the end


@dataclass(frozen=True)
class LogFacts:
    """What a pasted text says, read from its structure."""

    kind: str  # "empty", "prose", "clean" or "failure"
    exceptions: tuple[tuple[str, str], ...] = ()  # (type, message), in order; last is final
    chained: bool = False
    raising_packages: tuple[str, ...] = ()  # packages of the frames, innermost last
    ort_status: tuple[str, str, str] | None = None  # (code, NAME, message)
    js_errors: tuple[str, ...] = ()
    http: tuple[str, str] | None = None  # (status, url)
    file_asked: str | None = None
    pip_conflicts: tuple[str, ...] = ()
    pip_error: str | None = None
    command: str | None = None
    versions: tuple[tuple[str, str], ...] = ()
    error_line: str | None = None  # the one line that best states the failure
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def last_exception(self) -> tuple[str, str] | None:
        return self.exceptions[-1] if self.exceptions else None

    @property
    def raising_package(self) -> str | None:
        return self.raising_packages[-1] if self.raising_packages else None


def _is_prose(lines: list[str]) -> bool:
    """Sentences people write (a question, a comment), not the output of a program."""
    if len(lines) > 6:
        return False
    text = "\n".join(lines)
    if _CODEISH.search(text) or _LABEL_FAILURE.search(text):
        return False
    return all(len(line.split()) >= 3 for line in lines)


def _dedupe(items: list[str]) -> tuple[str, ...]:
    seen: list[str] = []
    for item in items:
        if item in seen:
            seen.remove(item)
        seen.append(item)
    return tuple(seen)


def parse(text: str) -> LogFacts:
    """The structure of ``text`` (only its last MAX_LINES lines are read)."""
    if not text.strip():
        return LogFacts(kind="empty")
    lines = [line.rstrip("\r") for line in text.strip().split("\n")][-MAX_LINES:]
    nonblank = [line for line in lines if line.strip()]
    if _is_prose(nonblank):
        return LogFacts(kind="prose")
    exceptions: list[tuple[str, str]] = []
    packages: list[str] = []
    js: list[str] = []
    conflicts: list[str] = []
    versions: dict[str, str] = {}
    ort = http = None
    file_asked = pip_error = command = None
    chained = False
    for line in lines:
        if (m := _EXCEPTION.match(line)) and not line.lstrip().startswith("File "):
            exceptions.append((m.group("type"), (m.group("message") or "").strip()))
        if 'File "' in line or "site-packages" in line or "dist-packages" in line:
            if m := _FRAME.search(line):
                packages.append(m.group("package"))
        elif " at " in line and (m := _NODE_FRAME.search(line)):
            packages.append(m.group("package"))
        if "[ONNXRuntimeError]" in line and (m := _ORT_STATUS.search(line)):
            ort = (m.group("code"), m.group("name"), m.group("message").strip())
        elif "Error code - ORT_" in line and (m := _ORT_JAVA.search(line)):
            ort = ("", m.group("name").removeprefix("ORT_"), m.group("message").strip())
        if "Error: " in line and (m := _JS_ERROR.match(line)):
            js.append(f"{m.group('type')}: {m.group('message').strip()}")
        if "Client Error" in line and (m := _HTTP.search(line)):
            http = (m.group("status"), m.group("url").rstrip(".\"'"))
        if ("http" in line) and (m := _URL_FILE.search(line)):
            file_asked = m.group("url").rstrip(".\"'").rsplit("/", 1)[-1] or None
        if ("depends on" in line or "user requested" in line) and (m := _PIP_CONFLICT.match(line)):
            conflicts.append(m.group("line").strip())
        if line.startswith("ERROR: ") and (m := _PIP_ERROR.match(line)):
            pip_error = m.group("message")
        if "The above exception was the direct cause" in line or "During handling of" in line:
            chained = True
        if m := _COMMAND.match(line.strip()):
            command = m.group("command").strip()
        for m in _VERSION.finditer(line):
            if m.group("package") not in ("version", "python", "line", "opset", "and", "of", "to"):
                versions[m.group("package")] = m.group("version")
    failing = bool(exceptions or ort or js or http or conflicts or pip_error)
    failing = failing or bool(_FAILURE_WORDS.search("\n".join(lines[-400:])))
    error_line = _error_line(lines, exceptions, ort, js)
    return LogFacts(
        kind="failure" if failing else "clean",
        exceptions=tuple(exceptions),
        chained=chained,
        raising_packages=_dedupe(packages),
        ort_status=ort,
        js_errors=tuple(js),
        http=http,
        file_asked=file_asked,
        pip_conflicts=tuple(conflicts),
        pip_error=pip_error,
        command=command,
        versions=tuple(versions.items())[:20],
        error_line=error_line,
    )


def _error_line(
    lines: list[str],
    exceptions: list[tuple[str, str]],
    ort: tuple[str, str, str] | None,
    js: list[str],
) -> str | None:
    if ort:
        return f"[ONNXRuntimeError] {ort[1]}: {ort[2]}"[:400]
    if exceptions:
        kind, message = exceptions[-1]
        return (f"{kind}: {message}" if message else kind)[:400]
    if js:
        return js[-1][:400]
    for line in reversed(lines[-200:]):
        if _FAILURE_WORDS.search(line):
            return line.strip()[:400]
    return None
