"""The export plan: every export decision, as main_export() kwargs and as an optimum-cli command.

One table (``_OPTIONS``) names each decision's plan field, its ``optimum-cli export onnx`` flag and
its ``optimum.exporters.onnx.main_export`` keyword, so the three spellings cannot drift apart.
Names were read from the installed optimum-onnx 0.1.0; two differ from the plan's field names:
``no_constant_folding`` is ``do_constant_folding=False`` and ``variant`` is ``_variant``.
``--dynamo`` exists only in optimum-onnx releases after 0.1.0: ``validate()`` says so when the
installed CLI lacks a flag the plan needs.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from onnx_wizard.errors import WizardError

DTYPES = ("fp32", "fp16", "bf16")
OPTIMIZE_LEVELS = ("O1", "O2", "O3", "O4")
LIBRARIES = ("transformers", "diffusers", "timm", "sentence_transformers")
MIN_OPSET, MAX_OPSET = 7, 23
# optimum's DEFAULT_DUMMY_SHAPES keys: the dummy-input sizes main_export takes as **kwargs.
SHAPE_NAMES = (
    "batch_size",
    "sequence_length",
    "num_choices",
    "width",
    "height",
    "num_channels",
    "feature_size",
    "nb_max_frames",
    "audio_sequence_length",
    "point_batch_size",
    "nb_points_per_image",
    "visual_seq_length",
)


class _Option(NamedTuple):
    field: str
    flag: str  # optimum-cli's spelling
    kwarg: str  # main_export's keyword
    kind: str  # str | int | float | flag | json
    choices: tuple[str, ...] = ()


_OPTIONS = (
    _Option("task", "--task", "task", "str"),
    _Option("opset", "--opset", "opset", "int"),
    _Option("device", "--device", "device", "str"),
    _Option("dtype", "--dtype", "dtype", "str", DTYPES),
    _Option("optimize", "--optimize", "optimize", "str", OPTIMIZE_LEVELS),
    _Option("monolith", "--monolith", "monolith", "flag"),
    _Option("no_post_process", "--no-post-process", "no_post_process", "flag"),
    _Option("variant", "--variant", "_variant", "str"),
    _Option("atol", "--atol", "atol", "float"),
    _Option("cache_dir", "--cache_dir", "cache_dir", "str"),
    _Option("trust_remote_code", "--trust-remote-code", "trust_remote_code", "flag"),
    _Option("pad_token_id", "--pad_token_id", "pad_token_id", "int"),
    _Option("library_name", "--library-name", "library_name", "str", LIBRARIES),
    _Option("model_kwargs", "--model-kwargs", "model_kwargs", "json"),
    _Option("no_dynamic_axes", "--no-dynamic-axes", "no_dynamic_axes", "flag"),
    _Option("no_constant_folding", "--no-constant-folding", "do_constant_folding", "flag"),
    _Option("slim", "--slim", "slim", "flag"),
    _Option("dynamo", "--dynamo", "dynamo", "flag"),
)
_BY_KWARG = {o.kwarg: o for o in _OPTIONS}


@dataclass(frozen=True)
class ExportPlan:
    """Every decision of one export; defaults are optimum's defaults, so only changes show."""

    model: str
    output: str
    task: str = "auto"
    opset: int | None = None
    device: str = "cpu"
    dtype: str = "fp32"
    optimize: str | None = None
    monolith: bool = False
    no_post_process: bool = False
    atol: float | None = None
    pad_token_id: int | None = None
    trust_remote_code: bool = False
    library_name: str | None = None
    no_dynamic_axes: bool = False
    no_constant_folding: bool = False
    slim: bool = False
    dynamo: bool = False
    model_kwargs: dict[str, Any] | None = None
    shapes: dict[str, int] = field(default_factory=dict)
    variant: str = "default"
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        # Copies, so a caller mutating its dict cannot change a plan already shown to the user.
        object.__setattr__(self, "output", str(self.output))
        object.__setattr__(self, "shapes", {k: int(v) for k, v in self.shapes.items()})
        if self.model_kwargs is not None:
            object.__setattr__(self, "model_kwargs", json.loads(json.dumps(self.model_kwargs)))

    def _non_default(self, name: str) -> bool:
        default = _DEFAULTS[name]
        return getattr(self, name) != default

    def to_main_export_kwargs(self) -> dict[str, Any]:
        """``main_export`` keywords: model, output, task and every decision not at its default."""
        kwargs: dict[str, Any] = {
            "model_name_or_path": self.model,
            "output": self.output,
            "task": self.task,
        }
        for opt in _OPTIONS:
            if opt.field == "task" or not self._non_default(opt.field):
                continue
            value = getattr(self, opt.field)
            kwargs[opt.kwarg] = False if opt.kwarg == "do_constant_folding" else value
        kwargs.update(self.shapes)
        return kwargs

    @classmethod
    def from_main_export_kwargs(cls, kwargs: dict[str, Any]) -> ExportPlan:
        """The inverse of ``to_main_export_kwargs``; unknown keywords are an error."""
        values: dict[str, Any] = {"shapes": {}}
        for key, value in kwargs.items():
            if key == "model_name_or_path":
                values["model"] = value
            elif key == "output":
                values["output"] = str(value)
            elif key == "do_constant_folding":
                values["no_constant_folding"] = not value
            elif key in _BY_KWARG:
                values[_BY_KWARG[key].field] = value
            elif key in SHAPE_NAMES:
                values["shapes"][key] = value
            else:
                raise WizardError(
                    f"main_export keyword {key!r} has no place in an export plan.",
                    "Remove it, or set it by hand after the wizard's export.",
                )
        return cls(**values)

    def to_cli_args(self) -> list[str]:
        """Arguments after ``optimum-cli export onnx``: model, changed flags, then the output."""
        args = _flag_value("--model", self.model)
        for opt in _OPTIONS:
            if not self._non_default(opt.field):
                continue
            value = getattr(self, opt.field)
            if opt.kind == "flag":
                args.append(opt.flag)
            elif opt.kind == "json":
                args += _flag_value(opt.flag, json.dumps(value, separators=(",", ":")))
            elif opt.kind == "float":
                args += _flag_value(opt.flag, repr(float(value)))
            else:
                args += _flag_value(opt.flag, str(value))
        for name, size in self.shapes.items():
            args += [f"--{name}", str(size)]
        # "--" keeps an output that starts with "-" from being read as a flag.
        args += ["--", self.output] if self.output.startswith("-") else [self.output]
        return args

    def to_command(self) -> str:
        return shlex.join(["optimum-cli", "export", "onnx", *self.to_cli_args()])

    @classmethod
    def from_command(cls, command: str) -> ExportPlan:
        """Parse an ``optimum-cli export onnx ...`` command line (as a shell would split it)."""
        try:
            tokens = shlex.split(command)
        except ValueError as exc:
            raise WizardError(f"Cannot split the command: {exc}.", "Check its quotes.") from exc
        while tokens and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", tokens[0]):
            tokens.pop(0)  # leading VAR=value environment assignments
        if (
            len(tokens) < 3
            or not tokens[0].endswith("optimum-cli")
            or tokens[1:3] != ["export", "onnx"]
        ):
            raise WizardError(
                "This is not an `optimum-cli export onnx` command.",
                "Give a command that starts with: optimum-cli export onnx --model MODEL OUTPUT",
            )
        ns = _command_parser().parse_args(tokens[3:])
        return plan_from_args(ns.model, str(ns.output), ns)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExportPlan:
        unknown = sorted(set(data) - set(_DEFAULTS) - {"model", "output"})
        if unknown:
            raise WizardError(
                f"Saved plan has unknown fields: {', '.join(unknown)}.",
                "Remove them, or recreate the plan with this version of onnx-wizard.",
            )
        return cls(**data)

    def replace(self, **changes: Any) -> ExportPlan:
        """A copy with some decisions changed (plans are frozen)."""
        return replace(self, **changes)

    def changes(self, other: ExportPlan) -> dict[str, tuple[Any, Any]]:
        """Field -> (this plan's value, other's value) for every decision that differs."""
        diff: dict[str, tuple[Any, Any]] = {}
        for f in fields(self):
            old, new = getattr(self, f.name), getattr(other, f.name)
            if old != new:
                diff[f.name] = (old, new)
        return diff

    def validate(self, *, check_installed: bool = True) -> list[str]:
        """Problems that would make optimum refuse or fail this plan, in plain words."""
        problems: list[str] = []
        if not self.model:
            problems.append("no model given")
        if not self.output:
            problems.append("no output folder given")
        if not re.fullmatch(r"cpu|cuda(:\d+)?", self.device):
            problems.append(f"device {self.device!r} is not cpu or cuda")
        on_cuda = self.device.startswith("cuda")
        if self.dtype not in DTYPES:
            problems.append(f"dtype {self.dtype!r} is not one of {', '.join(DTYPES)}")
        elif self.dtype == "fp16" and not on_cuda:
            problems.append("fp16 export needs --device cuda")
        if self.optimize is not None and self.optimize not in OPTIMIZE_LEVELS:
            problems.append(f"optimize level {self.optimize!r} is not one of O1, O2, O3, O4")
        elif self.optimize == "O4" and not on_cuda:
            problems.append("--optimize O4 (mixed precision fp16) needs --device cuda")
        if self.opset is not None and not MIN_OPSET <= self.opset <= MAX_OPSET:
            problems.append(f"opset {self.opset} is outside {MIN_OPSET}..{MAX_OPSET}")
        if self.atol is not None and not self.atol > 0:
            problems.append(f"atol {self.atol} must be a positive number")
        if self.pad_token_id is not None and self.pad_token_id < 0:
            problems.append(f"pad_token_id {self.pad_token_id} must not be negative")
        if self.library_name is not None and self.library_name not in LIBRARIES:
            problems.append(f"library {self.library_name!r} is not one of {', '.join(LIBRARIES)}")
        for name, size in self.shapes.items():
            if name not in SHAPE_NAMES:
                problems.append(f"unknown input shape {name!r}")
            elif size <= 0:
                problems.append(f"input shape {name}={size} must be positive")
        if check_installed:
            known = installed_cli_flags()
            if known is not None:
                for arg in self.to_cli_args():
                    flag = arg.split("=", 1)[0]
                    if arg.startswith("--") and arg != "--" and flag not in known:
                        problems.append(
                            f"the installed optimum-cli has no {flag} flag"
                            " (pip install -U optimum-onnx may add it)"
                        )
        return problems


_DEFAULTS: dict[str, Any] = {
    f.name: (f.default_factory() if f.default is MISSING else f.default)  # type: ignore[operator]
    for f in fields(ExportPlan)
    if f.name not in ("model", "output")
}


def _flag_value(flag: str, value: str) -> list[str]:
    # "--flag=value" only where a value starting with "-" would be taken for a flag.
    return [f"{flag}={value}"] if value.startswith("-") else [flag, value]


@lru_cache(maxsize=1)
def installed_cli_flags() -> frozenset[str] | None:
    """Flags the installed ``optimum-cli export onnx`` defines, read from its source, no import."""
    from importlib import metadata

    for dist in ("optimum-onnx", "optimum"):
        try:
            files = metadata.files(dist) or []
        except metadata.PackageNotFoundError:
            continue
        for f in files:
            if str(f).replace("\\", "/").endswith("optimum/commands/export/onnx.py"):
                try:
                    text = Path(f.locate()).read_text(encoding="utf-8")
                except OSError:
                    return None
                return frozenset(re.findall(r"[\"'](--[A-Za-z][\w-]*)[\"']", text))
    return None


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON ({exc.msg})") from exc
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object like '{\"key\": 1}'")
    return value


def _add_options(parser: argparse.ArgumentParser, *, aliases: bool) -> None:
    """The plan's flags; ``aliases`` adds dash spellings of optimum's underscore flags."""
    types: dict[str, Any] = {"str": str, "int": int, "float": float, "json": _json_object}
    for opt in _OPTIONS:
        names = [opt.flag]
        if aliases and "_" in opt.flag:
            names.append(opt.flag.replace("_", "-"))
        if opt.kind == "flag":
            parser.add_argument(*names, dest=opt.field, action="store_true")
        else:
            choices = list(opt.choices) or None
            parser.add_argument(
                *names, dest=opt.field, type=types[opt.kind], choices=choices, default=None
            )
    for name in SHAPE_NAMES:
        names = [f"--{name}"] + ([f"--{name.replace('_', '-')}"] if aliases and "_" in name else [])
        parser.add_argument(*names, dest=name, type=int, default=None, metavar="N")


def add_plan_arguments(parser: argparse.ArgumentParser) -> None:
    """Add every export decision as a flag (optimum-cli's names, plus dash spellings)."""
    _add_options(parser, aliases=True)


def plan_from_args(model: str, output: str, args: argparse.Namespace) -> ExportPlan:
    """Build a plan from parsed flags; a flag left out keeps optimum's default."""
    values: dict[str, Any] = {}
    for opt in _OPTIONS:
        value = getattr(args, opt.field, None)
        if opt.kind == "flag":
            values[opt.field] = bool(value)
        elif value is not None:
            values[opt.field] = value
    shapes = {n: getattr(args, n) for n in SHAPE_NAMES if getattr(args, n, None) is not None}
    return ExportPlan(model=model, output=str(output), shapes=shapes, **values)


class _CommandParser(argparse.ArgumentParser):
    """argparse that raises WizardError instead of printing usage and exiting."""

    def error(self, message: str) -> Any:  # argparse's signature is NoReturn
        raise WizardError(
            f"The optimum-cli command is not valid: {message}.",
            "Run `optimum-cli export onnx --help` for the accepted flags.",
        )

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:
        ns, extra = self.parse_known_args(args, namespace)
        if extra:
            flags = [a for a in extra if a.startswith("-")]
            what = flags[0].split("=", 1)[0] if flags else extra[0]
            raise WizardError(
                f"Unknown flag {what} in the optimum-cli command."
                if flags
                else f"Unexpected argument {what!r} in the optimum-cli command.",
                f"Remove {what}; `optimum-cli export onnx --help` lists the accepted flags.",
            )
        return ns


@lru_cache(maxsize=1)
def _command_parser() -> argparse.ArgumentParser:
    """A mirror of optimum-cli's ``export onnx`` parser (plus --dynamo, from newer releases)."""
    parser = _CommandParser(prog="optimum-cli export onnx", allow_abbrev=False, add_help=False)
    parser.add_argument("-m", "--model", required=True)
    parser.add_argument("output")
    parser.add_argument("--framework", choices=["pt"], default="pt")
    _add_options(parser, aliases=False)
    return parser


def render_plan_text(plan: ExportPlan) -> str:
    """A readable summary: each decision, any problems, and the equivalent command."""

    def show(value: Any, default_text: str) -> str:
        return default_text if value is None else str(value)

    yes_no = {True: "yes", False: "no"}
    rows = [
        ("model", plan.model),
        ("output", plan.output),
        ("task", plan.task + (" (inferred from the model)" if plan.task == "auto" else "")),
        ("opset", show(plan.opset, "exporter default for the architecture")),
        ("device", plan.device),
        ("dtype", plan.dtype),
        ("optimize", show(plan.optimize, "none")),
        ("post-process", "skipped" if plan.no_post_process else "yes (e.g. merge decoders)"),
        ("single file", yes_no[plan.monolith]),
        ("atol", show(plan.atol, "exporter default")),
        ("pad token id", show(plan.pad_token_id, "from the tokenizer")),
        ("remote code", "trusted" if plan.trust_remote_code else "not trusted"),
        ("library", show(plan.library_name, "inferred")),
        ("dynamic axes", "off" if plan.no_dynamic_axes else "on"),
        ("const folding", "off" if plan.no_constant_folding else "on"),
        ("onnxslim", yes_no[plan.slim]),
        ("dynamo", yes_no[plan.dynamo]),
        ("model kwargs", "none" if plan.model_kwargs is None else json.dumps(plan.model_kwargs)),
        ("input shapes", ", ".join(f"{k}={v}" for k, v in plan.shapes.items()) or "defaults"),
    ]
    if plan.variant != "default":
        rows.append(("variant", plan.variant))
    if plan.cache_dir is not None:
        rows.append(("cache dir", plan.cache_dir))
    width = max(len(name) for name, _ in rows)
    lines = ["Export plan"] + [f"  {name:<{width}}  {value}" for name, value in rows]
    problems = plan.validate()
    if problems:
        lines.append("Problems")
        lines += [f"  - {p}" for p in problems]
    lines += ["Equivalent command", f"  {plan.to_command()}"]
    return "\n".join(lines)
