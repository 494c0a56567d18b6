"""``transformers.js_config`` in config.json: the default dtype per device and external data,
naming only files that are in the repo."""

from __future__ import annotations

from typing import Any

# Which dtype Transformers.js should load by default, best first: the seed guidance (WASM q8,
# WebGPU fp16 or q4f16, then q4; fp32 is always there).
DEFAULT_PREFERENCE = ("q8", "uint8", "int8", "q4", "bnb4", "fp16", "fp32")
WEBGPU_PREFERENCE = ("fp16", "q4f16", "q4")


def _pick(preference: tuple[str, ...], available: set[str]) -> str | None:
    return next((d for d in preference if d in available), None)


def with_transformers_js_config(
    config: dict[str, Any], available: set[str], external: dict[str, int]
) -> dict[str, Any]:
    """``config`` with a ``transformers.js_config`` that names only staged files.

    A dtype the quantization step chose is kept when its files are staged; otherwise the best
    staged one is chosen, so Transformers.js never asks for a file that is not in the repo
    (without a dtype it loads q8 on WASM, which fails when only fp32 is published).
    """
    current = dict(config.get("transformers.js_config") or {})

    def staged(dtype: Any) -> bool:
        if isinstance(dtype, dict):
            return all(value in available for value in dtype.values())
        return dtype in available

    if not staged(current.get("dtype")):
        current["dtype"] = _pick(DEFAULT_PREFERENCE, available) or "fp32"
    devices = dict(current.get("device_config") or {})
    webgpu = dict(devices.get("webgpu") or {})
    if not staged(webgpu.get("dtype")):
        webgpu.pop("dtype", None)
        if choice := _pick(WEBGPU_PREFERENCE, available):
            webgpu["dtype"] = choice
    if webgpu:
        devices["webgpu"] = webgpu
    else:
        devices.pop("webgpu", None)
    if devices:
        current["device_config"] = devices
    else:
        current.pop("device_config", None)
    if external:
        current["use_external_data_format"] = dict(sorted(external.items()))
    else:
        current.pop("use_external_data_format", None)
    return {**config, "transformers.js_config": current}
