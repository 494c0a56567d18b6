"""Prerequisite checks: Python, packages and their pins, GPU, providers, memory, disk, Hub token.

Everything here reads metadata and files only: torch, transformers, optimum and onnxruntime are
never imported in this process (``probe_gpu=True`` imports them in a child, see ``probe``). The
installed packages are read once per call into an ``Environment`` that tests can replace with a
fake one, so conflicts are simulated without touching the real install.
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from onnx_wizard.checks import probe

Status = Literal["ok", "warn", "fail"]

# The distributions the wizard cares about, by canonical name.
REQUIRED: dict[str, str] = {
    "torch": "pip install torch",
    "transformers": 'pip install "transformers>=4.36,<4.58"',
    "optimum": "pip install optimum",
    "optimum-onnx": 'pip install "optimum-onnx[onnxruntime]"',
    "onnx": "pip install onnx",
    "onnxruntime": "pip install onnxruntime",
}
OPTIONAL: dict[str, str] = {
    "onnxruntime-gpu": "exporting and validating on a CUDA GPU",
    "huggingface-hub": "publishing to the Hub",
    "accelerate": "tied-weight deduplication during export",
    "onnx-ir": "q4 quantization",
    "onnxslim": "--slim",
}
WATCHED: tuple[str, ...] = (*REQUIRED, *OPTIONAL)
ORT_BOTH_FIX = "pip uninstall -y onnxruntime onnxruntime-gpu && pip install onnxruntime-gpu"
GIB = 1024**3
MIN_RAM_GIB = 4.0
MIN_DISK_GIB = 5.0


@dataclass(frozen=True)
class CheckResult:
    """One line of the report: what was checked, how it went, why, and the command that fixes it."""

    name: str
    status: Status
    detail: str
    fix: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class Environment:
    """The installed packages as the checks see them; build a fake one in tests."""

    python_version: tuple[int, int, int]
    versions: Mapping[str, str]  # canonical name -> version, every installed distribution
    requires: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # watched dists only
    files: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # onnxruntime dists only

    @classmethod
    def from_metadata(cls) -> Environment:
        """Read the real install with one ``distributions()`` scan (sys.path order wins)."""
        versions: dict[str, str] = {}
        requires: dict[str, tuple[str, ...]] = {}
        files: dict[str, tuple[str, ...]] = {}
        for dist in metadata.distributions():
            raw_name = dist.metadata["Name"]
            if not raw_name:
                continue
            name = canonicalize_name(raw_name)
            if name in versions:
                continue  # a shadowed copy further down sys.path is not what imports
            versions[name] = dist.version
            if name in WATCHED:
                requires[name] = tuple(dist.requires or ())
            if name.startswith("onnxruntime"):
                files[name] = tuple(str(f) for f in (dist.files or ()))
        major, minor, micro = sys.version_info[:3]
        return cls((major, minor, micro), versions, requires, files)

    def version(self, name: str) -> str | None:
        return self.versions.get(canonicalize_name(name))


def _parse_version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _spec_text(spec: SpecifierSet) -> str:
    """Lower bounds first, so a pin reads ``>=4.36,<4.58.0`` as people write it."""
    order = {">=": 0, ">": 1, "~=": 2, "==": 3, "===": 3, "!=": 4, "<=": 5, "<": 6}
    return ",".join(str(s) for s in sorted(spec, key=lambda s: (order.get(s.operator, 9), str(s))))


def _pip_install(pins: Mapping[str, SpecifierSet]) -> str:
    parts = [f'"{name}{_spec_text(spec)}"' if str(spec) else name for name, spec in pins.items()]
    return "pip install " + " ".join(parts)


def check_python(env: Environment) -> CheckResult:
    version = ".".join(map(str, env.python_version))
    if env.python_version[:2] < (3, 9):
        return CheckResult("python", "fail", f"Python {version} is too old; need 3.9+", "")
    if env.python_version[:2] < (3, 10):
        return CheckResult("python", "warn", f"Python {version} works, 3.10+ recommended", "")
    return CheckResult("python", "ok", f"Python {version}")


def check_packages(env: Environment) -> list[CheckResult]:
    """One line per watched package: installed version, or what is missing and who needs it."""
    results: list[CheckResult] = []
    for name in WATCHED:
        version = env.version(name)
        if version is not None:
            results.append(CheckResult(name, "ok", f"{name} {version}"))
        elif name == "onnxruntime" and env.version("onnxruntime-gpu"):
            results.append(CheckResult(name, "ok", "provided by onnxruntime-gpu"))
        elif name in REQUIRED:
            results.append(CheckResult(name, "fail", f"{name} is not installed", REQUIRED[name]))
        elif name == "onnxruntime-gpu":
            results.append(CheckResult(name, "ok", "not installed (needed only for CUDA)"))
        else:
            need = OPTIONAL[name]
            results.append(
                CheckResult(
                    name, "warn", f"not installed; needed for {need}", f"pip install {name}"
                )
            )
    return results


def check_onnxruntime_build(env: Environment) -> CheckResult:
    cpu, gpu = env.version("onnxruntime"), env.version("onnxruntime-gpu")
    if cpu and gpu:
        detail = (
            f"both onnxruntime {cpu} and onnxruntime-gpu {gpu} are installed; "
            "they overwrite each other's files"
        )
        return CheckResult("onnxruntime build", "fail", detail, ORT_BOTH_FIX)
    if gpu:
        return CheckResult("onnxruntime build", "ok", f"GPU package onnxruntime-gpu {gpu}")
    if cpu:
        return CheckResult("onnxruntime build", "ok", f"CPU package onnxruntime {cpu}")
    return CheckResult(
        "onnxruntime build", "fail", "no onnxruntime package", REQUIRED["onnxruntime"]
    )


def check_dependency_pins(env: Environment) -> CheckResult:
    """Do the installed versions satisfy what each watched package declares it requires?"""
    problems: list[str] = []
    fixes: dict[str, SpecifierSet] = {}
    for owner in WATCHED:
        owner_version = env.version(owner)
        if owner_version is None:
            continue
        for line in env.requires.get(owner, ()):
            try:
                req = Requirement(line)
            except InvalidRequirement:
                continue
            # Extras ("; extra == 'tests'") and other platforms' lines evaluate false here.
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            target = canonicalize_name(req.name)
            have = env.version(target)
            if have is None and target == "onnxruntime":
                have = env.version("onnxruntime-gpu")
            pin = f"{req.name}{_spec_text(req.specifier)}"
            if have is None:
                problems.append(f"{owner} {owner_version} requires {pin}, which is not installed")
                fixes[target] = fixes.get(target, SpecifierSet()) & req.specifier
                continue
            parsed = _parse_version(have)
            if parsed is not None and not req.specifier.contains(parsed, prereleases=True):
                problems.append(
                    f"{owner} {owner_version} requires {pin} but {target} {have} is installed"
                )
                fixes[target] = fixes.get(target, SpecifierSet()) & req.specifier
    if not problems:
        return CheckResult("dependency pins", "ok", "installed versions satisfy each other's pins")
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return CheckResult("dependency pins", "fail", problems[0] + more, _pip_install(fixes))


def check_known_conflicts(env: Environment) -> CheckResult:
    """The combinations known to break optimum-onnx's exporter, named even without a pin."""
    onnx_exporter = env.version("optimum-onnx")
    if onnx_exporter is None:
        return CheckResult("known conflicts", "ok", "optimum-onnx not installed; nothing to check")
    found: list[str] = []
    fixes: dict[str, SpecifierSet] = {}
    transformers = _parse_version(env.version("transformers") or "")
    if transformers is not None and transformers.major >= 5:
        found.append(f"transformers {transformers} (5.x) with optimum-onnx {onnx_exporter}")
        fixes["transformers"] = SpecifierSet(">=4.36,<4.58")
    hub = _parse_version(env.version("huggingface-hub") or "")
    if hub is not None and hub.major >= 1:
        found.append(f"huggingface_hub {hub} (1.x) with optimum-onnx {onnx_exporter}")
        fixes["huggingface-hub"] = SpecifierSet("<1.0")
    if not found:
        return CheckResult("known conflicts", "ok", "no transformers 5 / huggingface_hub 1.x")
    detail = " and ".join(found) + " breaks the ONNX export"
    return CheckResult("known conflicts", "fail", detail, _pip_install(fixes))


def check_gpu(env: Environment, gpu: probe.GpuInfo) -> CheckResult:
    if not gpu.present:
        return CheckResult("nvidia gpu", "ok", "none found; exports run on CPU (fp16/O4 need CUDA)")
    label = ", ".join(gpu.names) or "NVIDIA GPU"
    torch_version = env.version("torch") or ""
    if torch_version.endswith("+cpu"):
        detail = f"{label} found, but torch {torch_version} is a CPU-only build"
        return CheckResult("nvidia gpu", "warn", detail, "")
    return CheckResult("nvidia gpu", "ok", f"{label} ({gpu.how})")


def check_providers(env: Environment, gpu: probe.GpuInfo) -> CheckResult:
    """Execution providers judged from the provider libraries onnxruntime installed."""
    dists = [name for name in ("onnxruntime-gpu", "onnxruntime") if env.version(name)]
    if not dists:
        return CheckResult("ort providers", "fail", "onnxruntime is not installed", "")
    listed = [f for name in dists for f in env.files.get(name, ())]
    if not listed:
        return CheckResult("ort providers", "warn", "installed file list unavailable", "")
    providers = probe.providers_from_files(listed)
    detail = ", ".join(providers) + " (from installed files)"
    if gpu.present and "CUDAExecutionProvider" not in providers:
        detail += "; a GPU is present but onnxruntime has no CUDA provider"
        return CheckResult(
            "ort providers",
            "warn",
            detail,
            "pip uninstall -y onnxruntime && pip install onnxruntime-gpu",
        )
    return CheckResult("ort providers", "ok", detail)


def check_gpu_probe(report: Mapping[str, object], gpu: probe.GpuInfo) -> CheckResult:
    """Interpret what the child process saw after importing torch and onnxruntime."""
    if "error" in report:
        return CheckResult("gpu probe", "warn", str(report["error"]), "")
    parts: list[str] = []
    if "torch_error" in report:
        parts.append(f"torch failed to import ({report['torch_error']})")
    elif report.get("cuda_available"):
        parts.append(f"torch sees CUDA device {report.get('cuda_device')}")
    else:
        parts.append("torch sees no CUDA device")
    if "onnxruntime_error" in report:
        parts.append(f"onnxruntime failed to import ({report['onnxruntime_error']})")
    else:
        providers = report.get("providers")
        names = [str(p) for p in providers] if isinstance(providers, list) else []
        parts.append("onnxruntime providers: " + ", ".join(names))
    failed = "torch_error" in report or "onnxruntime_error" in report
    unusable_gpu = gpu.present and not report.get("cuda_available")
    status: Status = "warn" if failed or unusable_gpu else "ok"
    return CheckResult("gpu probe", status, "; ".join(parts), "")


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def hub_cache_dir(environ: Mapping[str, str]) -> Path:
    if environ.get("HF_HUB_CACHE"):
        return Path(environ["HF_HUB_CACHE"]).expanduser()
    return hf_home(environ) / "hub"


def hf_home(environ: Mapping[str, str]) -> Path:
    if environ.get("HF_HOME"):
        return Path(environ["HF_HOME"]).expanduser()
    xdg = environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "huggingface"


def check_memory() -> CheckResult:
    import psutil  # a declared dependency, but keep a missing one a finding, not a crash

    mem = psutil.virtual_memory()
    free, total = mem.available / GIB, mem.total / GIB
    detail = f"{free:.1f} GiB free of {total:.1f} GiB; export needs ~2-3x the weights' size"
    return CheckResult("ram", "warn" if free < MIN_RAM_GIB else "ok", detail)


def check_disk(paths: Iterable[Path]) -> list[CheckResult]:
    import psutil

    results: list[CheckResult] = []
    seen: set[int] = set()
    for wanted in paths:
        path = _existing(wanted)
        device = path.stat().st_dev
        if device in seen:
            continue  # same filesystem as a path already reported
        seen.add(device)
        free = psutil.disk_usage(str(path)).free / GIB
        detail = f"{free:.1f} GiB free at {wanted}; weights + ONNX files need ~2x the model"
        results.append(CheckResult("disk", "warn" if free < MIN_DISK_GIB else "ok", detail))
    return results


# huggingface_hub 0.34 added the `hf` command (`hf auth login`); 1.0 removed `huggingface-cli`.
HF_CLI_SINCE = Version("0.34.0")


def hub_login_command(hub_version: str | None) -> str:
    """The login command the installed huggingface_hub offers (``None``: not installed)."""
    if hub_version is None:
        return 'pip install -U "huggingface_hub>=0.34" && hf auth login'
    try:
        has_hf = Version(hub_version) >= HF_CLI_SINCE
    except InvalidVersion:
        has_hf = True  # an unparseable (development) version is a recent one
    return "hf auth login" if has_hf else "huggingface-cli login"


def installed_hub_version() -> str | None:
    try:
        return metadata.version("huggingface_hub")
    except metadata.PackageNotFoundError:
        return None


def check_hub_token(environ: Mapping[str, str], env: Environment | None = None) -> CheckResult:
    """Say where a token would come from; never read, print or keep its value."""
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        if environ.get(var, "").strip():
            return CheckResult("hub token", "ok", f"present (from env {var})")
    candidates = []
    if environ.get("HF_TOKEN_PATH"):
        candidates.append(Path(environ["HF_TOKEN_PATH"]).expanduser())
    candidates.append(hf_home(environ) / "token")
    for path in candidates:
        try:
            if path.is_file() and path.stat().st_size > 0:
                return CheckResult("hub token", "ok", f"present (from file {path})")
        except OSError:
            continue
    return CheckResult(
        "hub token",
        "warn",
        "absent; needed for gated models and publishing",
        hub_login_command(
            env.version("huggingface_hub") if env is not None else installed_hub_version()
        ),
    )


def run_checks(
    *,
    probe_gpu: bool = False,
    env: Environment | None = None,
    environ: Mapping[str, str] | None = None,
    probe_timeout: float = 60.0,
) -> list[CheckResult]:
    """Run every prerequisite check; fast (no heavy imports) unless ``probe_gpu`` is set."""
    env = env or Environment.from_metadata()
    environ = os.environ if environ is None else environ
    gpu = probe.detect_nvidia_gpu()
    results = [check_python(env), *check_packages(env), check_onnxruntime_build(env)]
    results += [check_dependency_pins(env), check_known_conflicts(env)]
    results += [check_gpu(env, gpu), check_providers(env, gpu)]
    if probe_gpu:
        results.append(check_gpu_probe(probe.probe_child(probe_timeout), gpu))
    try:
        results.append(check_memory())
        results += check_disk([Path.cwd(), hub_cache_dir(environ)])
    except ImportError:
        results.append(
            CheckResult("ram/disk", "warn", "psutil is not installed", "pip install psutil")
        )
    results.append(check_hub_token(environ, env))
    return results


def overall_exit_code(results: Iterable[CheckResult]) -> int:
    return 1 if any(r.status == "fail" for r in results) else 0


def render_text(results: Iterable[CheckResult]) -> str:
    """An aligned table, one line per check, with the fix under each failure or warning."""
    rows = list(results)
    width = max((len(r.name) for r in rows), default=0)
    lines: list[str] = []
    for r in rows:
        lines.append(f"[{r.status:<4}] {r.name:<{width}}  {r.detail}")
        if r.status != "ok" and r.fix:
            lines.append(f"{'':7}{'':<{width}}  fix: {r.fix}")
    failed = sum(r.status == "fail" for r in rows)
    warned = sum(r.status == "warn" for r in rows)
    lines.append(f"{len(rows)} checks: {failed} failed, {warned} warnings")
    return "\n".join(lines)
