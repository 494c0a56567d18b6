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


def pin(action: str, args: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """``args`` with a version spec for an installed pip package, and where the spec came from."""
    package = args.get("package")
    if action not in ("install", "upgrade") or not package or args.get("manager") == "npm":
        return args, None
    if str(args.get("spec", "") or "").strip():
        return args, None
    version = installed_version(str(package))
    if version is None:
        return args, None  # not installed: a plain install is the fix
    declared = declared_range(str(package))
    if declared:
        requirer, spec = declared
        note = f"{package} {version} is installed; {requirer} declares {package}{spec}"
        if action == "upgrade":
            # Newer than what is here, and still inside the range the stack declares.
            uppers = [part.strip() for part in spec.split(",") if "<" in part]
            spec = ",".join([f">{version.split('+')[0]}", *uppers])
        return {**args, "spec": spec}, note
    if action == "upgrade":
        return {**args, "spec": f">{version.split('+')[0]}"}, f"{package} {version} is installed"
    return {**args, "spec": f"=={version}"}, f"{package} {version} is already installed here"
