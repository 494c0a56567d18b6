"""The fixed vocabularies of the knowledge base: failure categories, remedy actions, commands."""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from onnx_wizard.planning.plan import SHAPE_NAMES

# Every entry belongs to exactly one of these; the engine routes recovery by category.
CATEGORIES: tuple[str, ...] = (
    "task_inference",
    "unsupported_architecture",
    "trust_remote_code",
    "unsupported_operator_opset",
    "validation_mismatch",
    "out_of_memory",
    "model_too_large_2gb",
    "kv_cache_with_past",
    "encoder_decoder_split",
    "quantization_error",
    "onnxruntime_load_error",
    "dependency_version_mismatch",
    "transformers_js_runtime",
    "tokenizer",
    "device_dtype",
    "hub_access",
)

# Short codes used in entry ids (OW-<CODE>-NNN), so an id alone says which family it is in.
CATEGORY_CODES: dict[str, str] = {
    "task_inference": "TASK",
    "unsupported_architecture": "ARCH",
    "trust_remote_code": "REMOTE",
    "unsupported_operator_opset": "OPSET",
    "validation_mismatch": "VALID",
    "out_of_memory": "OOM",
    "model_too_large_2gb": "BIG",
    "kv_cache_with_past": "KV",
    "encoder_decoder_split": "ENCDEC",
    "quantization_error": "QUANT",
    "onnxruntime_load_error": "ORT",
    "dependency_version_mismatch": "DEPS",
    "transformers_js_runtime": "TJS",
    "tokenizer": "TOK",
    "device_dtype": "DEVICE",
    "hub_access": "HUB",
}

# The engine knows how to apply each of these to a plan (or to the environment).
ACTIONS: tuple[str, ...] = (
    "set_opset",
    "set_task",
    "set_device",
    "set_dtype",
    "set_atol",
    "set_optimize",
    "no_post_process",
    "monolith",
    "reduce_shapes",
    "external_data",
    "use_dynamo",
    "use_torchscript",
    "trust_remote_code",
    "install",
    "upgrade",
    "uninstall",
    "set_library",
    "set_pad_token_id",
    "use_related_config",
    "smaller_variant",
    "manual",
)

# Running code from the internet or changing the environment always needs the user's yes.
CONSENT_ACTIONS: frozenset[str] = frozenset(
    {"trust_remote_code", "install", "upgrade", "uninstall"}
)

# Dummy-input shape flags of `optimum-cli export onnx`: the plan keeps the one list of them.
SHAPE_FLAGS: tuple[str, ...] = SHAPE_NAMES

_SINGLE_FLAG: dict[str, tuple[str, str]] = {
    "set_opset": ("--opset", "opset"),
    "set_task": ("--task", "task"),
    "set_device": ("--device", "device"),
    "set_dtype": ("--dtype", "dtype"),
    "set_atol": ("--atol", "atol"),
    "set_optimize": ("--optimize", "level"),
    "set_library": ("--library-name", "library"),
    "set_pad_token_id": ("--pad_token_id", "pad_token_id"),
}

_BARE_FLAG: dict[str, str] = {
    # The plan's flag (optimum-onnx 0.1 lacks it: the wizard calls torch.onnx.export(dynamo=True)).
    "use_dynamo": "--dynamo",
    "no_post_process": "--no-post-process",
    "monolith": "--monolith",
    "trust_remote_code": "--trust-remote-code",
}


def _requirement(args: Mapping[str, object]) -> str:
    """`package` plus an optional version `spec` ("==1.15.0", "<4.58"), as one pip argument."""
    package = str(args["package"])
    spec = str(args.get("spec", "") or "")
    if spec and spec[0].isdigit():
        spec = "==" + spec  # a bare version means exactly that version
    return package + spec


def command_for(action: str, args: Mapping[str, object]) -> str | None:
    """The fix as a command-line hint, or None when no single command expresses it.

    Export settings become `optimum-cli export onnx` flags; environment changes become pip (or
    npm, when ``args["manager"] == "npm"``) commands. Values are shell-quoted.
    """
    if action in _SINGLE_FLAG:
        flag, key = _SINGLE_FLAG[action]
        if str(args.get(key, "")).lower() in ("", "none"):
            return None  # no value, or "drop the flag": nothing to add to the command line
        return f"{flag} {shlex.quote(str(args[key]))}"
    if action in _BARE_FLAG:
        return _BARE_FLAG[action]
    if action == "reduce_shapes":
        parts = [f"--{name} {shlex.quote(str(args[name]))}" for name in SHAPE_FLAGS if name in args]
        return " ".join(parts) or None
    if action in ("install", "upgrade", "uninstall") and "package" in args:
        npm = args.get("manager") == "npm"
        if action == "install":
            if npm:
                return f"npm install {shlex.quote(str(args['package']))}"
            return f"pip install {shlex.quote(_requirement(args))}"
        if action == "upgrade":
            if npm:
                return f"npm install {shlex.quote(str(args['package']) + '@latest')}"
            return f"pip install -U {shlex.quote(_requirement(args))}"
        if npm:
            return f"npm uninstall {shlex.quote(str(args['package']))}"
        return f"pip uninstall -y {shlex.quote(str(args['package']))}"
    return None
