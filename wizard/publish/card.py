"""The model card: front matter with huggingface_hub's ``ModelCardData``, and a body that says
what was converted, how, which file to load where, and how well each variant matches fp32."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

from onnx_wizard.planning.memory import format_size
from onnx_wizard.publish.layout import StagedLayout
from onnx_wizard.publish.provenance import Provenance

# optimum task (without -with-past) -> the Hub's pipeline tag, where they differ.
PIPELINE_TAGS = {
    "semantic-segmentation": "image-segmentation",
    "sentence-similarity": "feature-extraction",
    "text2text-generation": "text2text-generation",
}
NO_PIPELINE = {"multiple-choice", "default", "masked-im", "mask-generation"}
# A first input for each Transformers.js pipeline, so the snippet runs as it stands.
EXAMPLE_INPUTS = {
    "text-classification": "'I love transformers!'",
    "token-classification": "'My name is Sarah and I live in London.'",
    "question-answering": "'Who was Jim Henson?', 'Jim Henson was a nice puppet.'",
    "fill-mask": "'The goal of life is [MASK].'",
    "feature-extraction": "'This is a simple test.', { pooling: 'mean', normalize: true }",
    "text-generation": "'Once upon a time,', { max_new_tokens: 32 }",
    "text2text-generation": "'translate English to German: How old are you?', "
    "{ max_new_tokens: 32 }",
    "summarization": "'A long article to summarise ...', { max_new_tokens: 64 }",
    "translation": "'How old are you?', { max_new_tokens: 32 }",
    "zero-shot-classification": "'I love this film', ['positive', 'negative']",
    "image-classification": "'https://huggingface.co/datasets/Xenova/transformers.js-docs/"
    "resolve/main/tiger.jpg'",
    "object-detection": "'https://huggingface.co/datasets/Xenova/transformers.js-docs/"
    "resolve/main/cats.jpg'",
    "image-segmentation": "'https://huggingface.co/datasets/Xenova/transformers.js-docs/"
    "resolve/main/cats.jpg'",
    "image-to-text": "'https://huggingface.co/datasets/Xenova/transformers.js-docs/"
    "resolve/main/cats.jpg'",
    "automatic-speech-recognition": "'https://huggingface.co/datasets/Xenova/"
    "transformers.js-docs/resolve/main/jfk.wav'",
    "audio-classification": "'https://huggingface.co/datasets/Xenova/transformers.js-docs/"
    "resolve/main/jfk.wav'",
}
WEBGPU_DTYPES = {"fp16", "q4", "q4f16"}


def _version() -> str:
    # Not `from onnx_wizard import __version__`: importing the root package would tie this
    # service to every layer above it (the import-linter layers contract).
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("onnx-wizard")
    except PackageNotFoundError:
        return "(unknown version)"


def pipeline_tag(task: str | None) -> str | None:
    if not task:
        return None
    base = task.removesuffix("-with-past")
    if base in NO_PIPELINE:
        return None
    return PIPELINE_TAGS.get(base, base)


def _private_paths(command: str, export_dir: Path, model: str | None) -> str:
    """The command with local folders shortened to their names: a card is public, and
    ``/home/alice/...`` says nothing a reader can use. Paths inside quoted Python count too."""
    short = {str(export_dir): export_dir.name}
    if model and Path(model).expanduser().is_absolute():
        short[model] = Path(model).name
    for path, name in sorted(short.items(), key=lambda item: -len(item[0])):
        # Only whole paths: /x/bert must not eat the start of /x/bertreal.
        command = re.sub(re.escape(path) + r"(?=[/\s'\"]|$)", name, command)
    return command


def _variants_table(layout: StagedLayout) -> list[str]:
    lines = [
        "| dtype | file(s) | size | accuracy against fp32 | recommended for |",
        "|---|---|---|---|---|",
    ]
    for v in layout.variants:
        files = "<br>".join(f"`{f}`" for f in v.files)
        lines.append(
            f"| {v.dtype} | {files} | {format_size(v.bytes)} | {v.accuracy} | {v.device} |"
        )
    return lines


def _usage(repo_id: str, tag: str | None, layout: StagedLayout) -> list[str]:
    dtype = layout.dtype
    webgpu = layout.config.get("transformers.js_config", {}).get("device_config", {})
    webgpu_dtype = webgpu.get("webgpu", {}).get("dtype")
    lines = ["```js"]
    if tag in EXAMPLE_INPUTS:
        lines += [
            "import { pipeline } from '@huggingface/transformers';",
            "",
            f"const pipe = await pipeline('{tag}', '{repo_id}', {{ dtype: '{dtype}' }});",
            f"const output = await pipe({EXAMPLE_INPUTS[tag]});",
            "console.log(output);",
        ]
    else:
        lines += [
            "import { AutoModel, AutoTokenizer } from '@huggingface/transformers';",
            "",
            f"const model = await AutoModel.from_pretrained('{repo_id}', {{ dtype: '{dtype}' }});",
        ]
    lines.append("```")
    if webgpu_dtype:
        lines += [
            "",
            f"On WebGPU, pass `{{ device: 'webgpu', dtype: '{webgpu_dtype}' }}` "
            "(config.json makes it the WebGPU default).",
        ]
    return lines


def _what(prov: Provenance, config: dict[str, Any], tag: str | None) -> list[str]:
    source = (
        f"[{prov.base_model}](https://huggingface.co/{prov.base_model})"
        if prov.base_model
        else "a local model folder (not on the Hub)"
    )
    arch = ", ".join(config.get("architectures") or []) or config.get("model_type") or "unknown"
    lines = [
        f"ONNX weights of {source} for [Transformers.js](https://huggingface.co/docs/"
        f"transformers.js), converted with onnx-wizard {_version()}.",
        "",
        f"- Architecture: {arch} (model type `{config.get('model_type', 'unknown')}`)",
    ]
    if prov.task:
        lines.append(f"- Export task: `{prov.task}`" + (f" (pipeline `{tag}`)" if tag else ""))
    lines.append(f"- Licence: {prov.license or 'not stated by the source; check it before use'}")
    return lines


def _card_body(text: str) -> str:
    """The source card without its front matter, headings one level down (it sits in ours)."""
    if text.startswith("---"):
        end = text.find("\n---", 3)
        text = text[end + 4 :] if end != -1 else text
    lines, fenced = [], False
    for line in text.strip().splitlines():
        fenced ^= line.lstrip().startswith(("```", "~~~"))
        lines.append("#" + line if line.startswith("#") and not fenced else line)
    return "\n".join(lines)


def build_card(repo_id: str, layout: StagedLayout, prov: Provenance, config: dict[str, Any]) -> str:
    """The card's full text (front matter and body), ready for README.md."""
    from huggingface_hub import ModelCard, ModelCardData

    tag = pipeline_tag(prov.task)
    tags = ["onnx", "transformers.js"]
    if WEBGPU_DTYPES & {v.dtype for v in layout.variants}:
        tags.append("webgpu")
    data = ModelCardData(
        library_name="transformers.js",
        base_model=prov.base_model,
        pipeline_tag=tag,
        tags=tags,
        license=prov.license if prov.license and re.fullmatch(r"[\w.\-]+", prov.license) else None,
    )
    body = [f"# {repo_id.split('/')[-1]}", "", *_what(prov, config, tag), ""]
    if len(layout.variants) > 1:
        checked = (
            "Each quantized variant was checked against the fp32 model on real inputs; "
            "only the ones that passed are here."
        )
    else:
        checked = "Only the fp32 export is published: no quantized variant passed or was made."
    body += ["## Files", "", checked, "", *_variants_table(layout), ""]
    if layout.left_out:
        body += ["Left out:", ""]
        body += [f"- `{item.path}`: {item.reason}" for item in layout.left_out]
        body.append("")
    body += ["## Usage (Transformers.js)", "", *_usage(repo_id, tag, layout), ""]
    commands = [_private_paths(c, layout.source, prov.model) for c in prov.commands]
    commands.append(shlex.join(["onnx-wizard", "publish", layout.source.name, "--repo", repo_id]))
    body += [
        "## How it was made",
        "",
        "The equivalent commands, to redo it by hand:",
        "",
        "```bash",
        *commands,
        "```",
        "",
    ]
    tjs = layout.config.get("transformers.js_config")
    body += [
        "`config.json` carries the Transformers.js defaults:",
        "",
        "```json",
        json.dumps({"transformers.js_config": tjs}, indent=2),
        "```",
        "",
    ]
    if prov.source_card:
        original = _card_body(prov.source_card)
        # Appended as written: its licence terms and warnings travel with the weights.
        body += ["## Source model card", "", original, ""]
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(body)))
