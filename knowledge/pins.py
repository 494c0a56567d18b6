"""Pin package remedies to this environment: never an unpinned install of an installed package.

Versions come from what is installed (importlib.metadata) and from the requirements the installed
packages declare, so `upgrade transformers` becomes `pip install -U "transformers>=4.36,<4.58"`
where optimum-onnx declares that range, instead of a bare install that would do nothing (or
break the stack).
"""

from __future__ import annotations

import functools
import re
from importlib import metadata
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

_NAME = re.compile(
    r"^\s*([A-Za-z0-9][\w.\-]{0,100})\s*(?:\[[^\]]{0,200}\])?\s*(?P<spec>[^;]{0,200})"
)


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@functools.lru_cache(maxsize=256)
def installed_version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


@functools.lru_cache(maxsize=1)
def _declared() -> dict[str, list[tuple[str, str]]]:
    """For each package, the (requirer, specifier) pairs the installed distributions declare."""
    found: dict[str, list[tuple[str, str]]] = {}
    for dist in metadata.distributions():
        for requirement in dist.requires or ():
            if "extra ==" in requirement:
                continue
            match = _NAME.match(requirement)
            if match and match.group("spec").strip():
                spec = match.group("spec").strip().strip("()")
                found.setdefault(_canonical(match.group(1)), []).append(
                    (dist.metadata["Name"], spec)
                )
    return found


def declared_range(package: str) -> tuple[str, str] | None:
    """The tightest-looking declared requirement on ``package`` (one with an upper bound first)."""
    pairs = _declared().get(_canonical(package), [])
    bounded = [pair for pair in pairs if "<" in pair[1]]
    chosen = sorted(bounded or pairs, key=lambda pair: (len(pair[1]), pair[0]))
    return chosen[0] if chosen else None


def _satisfies(version: str, spec: str) -> bool:
    """Whether ``version`` already meets ``spec`` (an empty spec is met by any version)."""
    try:
        return Version(version) in SpecifierSet(spec.replace(" ", ""), prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return False  # a spec we cannot read: assume the install changes something


def _newer_than(version: str, spec: str) -> str:
    """``spec`` narrowed so that only versions above the installed one satisfy it."""
    uppers = [part.strip() for part in spec.split(",") if "<" in part]
    return ",".join([f">{version.split('+')[0]}", *uppers])


def pin(action: str, args: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """``args`` with a version spec for an installed pip package, and where the spec came from.

    An upgrade always excludes the installed version (so it changes something); an install keeps
    the entry's or the declared spec, and ``changes_nothing`` says when that is already met.
    """
    package = args.get("package")
    if action not in ("install", "upgrade") or not package or args.get("manager") == "npm":
        return args, None
    version = installed_version(str(package))
    given = str(args.get("spec", "") or "").strip()
    if given:
        if action == "upgrade" and version and _satisfies(version, given):
            spec = _newer_than(version, given)
            return {**args, "spec": spec}, f"{package} {version} is installed and meets {given}"
        return args, None
    if version is None:
        return args, None  # not installed: a plain install is the fix
    declared = declared_range(str(package))
    if declared:
        requirer, spec = declared
        note = f"{package} {version} is installed; {requirer} declares {package}{spec}"
        if action == "upgrade":
            spec = _newer_than(version, spec)  # newer than here, inside the declared range
        return {**args, "spec": spec}, note
    if action == "upgrade":
        return {**args, "spec": f">{version.split('+')[0]}"}, f"{package} {version} is installed"
    return {**args, "spec": f"=={version}"}, f"{package} {version} is already installed here"


def changes_nothing(action: str, args: dict[str, Any]) -> str | None:
    """Why ``pip install`` of these (pinned) args would be a no-op here, or None if it is not.

    A plain install of a package whose installed version already meets the spec leaves the
    environment as it is, so as a remedy it would be a fix that fixes nothing.
    """
    package = args.get("package")
    if action != "install" or not package or args.get("manager") == "npm":
        return None
    version = installed_version(str(package))
    spec = str(args.get("spec", "") or "").strip()
    if version is None or not _satisfies(version, spec):
        return None
    meets = f" and meets {spec}" if spec and not spec.startswith("==") else ""
    return f"{package} {version} is already installed here{meets}"
