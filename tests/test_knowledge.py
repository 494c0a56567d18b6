"""The error catalogue recognises every known failure, rejects bad entries, ignores successes."""

# The success logs below are verbatim optimum output, so some lines are longer than 100 columns.
# ruff: noqa: E501

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from onnx_wizard.knowledge import (
    ACTIONS,
    CATEGORIES,
    CatalogueError,
    Diagnosis,
    default_catalogue,
    diagnose,
    extract_plan_command,
    load_catalogue,
    render_text,
)
from onnx_wizard.knowledge.regex_safety import check_bounded

CATALOGUE = default_catalogue()
EXAMPLES = [
    pytest.param(entry, example.log, id=f"{entry.id}-{index}")
    for entry in CATALOGUE.entries
    for index, example in enumerate(entry.examples)
]
DEV_FILE = Path(__file__).parents[1].parent / "shared" / "failures" / "dev.jsonl"
DEV_CASES = (
    [json.loads(line) for line in DEV_FILE.read_text().splitlines() if line.strip()]
    if DEV_FILE.exists()
    else []
)

# Real logs of successful exports (optimum-cli 0.1.0 here, trimmed): warnings, no failure.
SUCCESS_DEFAULT_VERBOSITY = """\
`torch_dtype` is deprecated! Use `dtype` instead!
/root/.pyenv/versions/3.11.7/lib/python3.11/site-packages/transformers/modeling_attn_mask_utils.py:196: TracerWarning: torch.tensor results are registered as constants in the trace. You can safely ignore this warning if you use this function to create tensors out of constant variables that would be the same every time you call this function. In any other case, this might cause the trace to be incorrect.
  inverted_mask = torch.tensor(1.0, dtype=dtype) - expanded_mask
"""
SUCCESS_GPT2 = """\
`torch_dtype` is deprecated! Use `dtype` instead!
/root/.pyenv/versions/3.11.7/lib/python3.11/site-packages/transformers/cache_utils.py:132: TracerWarning: Converting a tensor to a Python boolean might cause the trace to be incorrect. We can't record the data flow of Python values, so this value will be treated as a constant in the future. This means that the trace might not generalize to other inputs!
  if not self.is_initialized or self.keys.numel() == 0:
/root/.pyenv/versions/3.11.7/lib/python3.11/site-packages/transformers/masking_utils.py:235: TracerWarning: Converting a tensor to a Python boolean might cause the trace to be incorrect. We can't record the data flow of Python values, so this value will be treated as a constant in the future. This means that the trace might not generalize to other inputs!
  if padding_mask is not None and padding_mask.shape[-1] > kv_length:
/root/.pyenv/versions/3.11.7/lib/python3.11/site-packages/torch/onnx/_internal/torchscript_exporter/symbolic_opset11.py:954: UserWarning: Exporting aten::index operator of advanced indexing in opset 18 is achieved by combination of multiple ONNX operators, including Reshape, Transpose, Concat, and Gather. If indices include negative values, the exported graph will produce incorrect results.
  return opset9.index(g, self, index)
Found different candidate ONNX initializers (likely duplicate) for the tied weights:
	lm_head.weight: {'onnx::MatMul_670'}
	transformer.wte.weight: {'transformer.wte.weight'}
"""
SUCCESS_T5_INFO = """\
Offline mode: forcing local_files_only=True
loading configuration file ../t5/config.json
***** Exporting submodel 3/3: T5ForConditionalGeneration *****
Using framework PyTorch: 2.13.0+cpu
Overriding 1 configuration item(s)
	- use_cache -> True
Post-processing the exported models...
Deduplicating shared (tied) weights...
Found different candidate ONNX initializers (likely duplicate) for the tied weights:
	decoder.embed_tokens.weight: set() --> ignored (may be a parameter from a part of the model not exported)
	lm_head.weight: {'onnx::MatMul_735'}

Validating ONNX model outt5info/decoder_model_merged.onnx...
	-[✓] ONNX model output names match reference model (present.0.decoder.value, logits)
	- Validating ONNX Model output "logits":
		-[✓] (2, 1, 100) matches (2, 1, 100)
		-[✓] all values close (atol: 1e-05)
The ONNX export succeeded and the exported model was saved at: outt5info
"""
SUCCESS_LOGS = [SUCCESS_DEFAULT_VERBOSITY, SUCCESS_GPT2, SUCCESS_T5_INFO]


def _noisy(log: str) -> str:
    """The same log as a terminal shows it: colours, progress bars, unrelated warnings."""
    bar = "".join(
        f"\rDownloading model.safetensors: {p:3d}%|{'#' * (p // 10):10}|" for p in (0, 40, 100)
    )
    colored = "\n".join(
        f"\x1b[31m{line}\x1b[0m" if "Error" in line else line for line in log.splitlines()
    )
    return (
        "\x1b[1m\x1b[33mWARNING\x1b[0m: some weights of the checkpoint were not used\n"
        f"{bar}\n"
        "/usr/lib/python3/site-packages/urllib3/__init__.py:35: NotOpenSSLWarning: urllib3 v2 only "
        "supports OpenSSL 1.1.1+\n  warnings.warn(\n"
        "Traceback (most recent call last):\n"
        '  File "/usr/lib/python3/site-packages/pkg_resources/__init__.py", line 3, in <module>\n'
        "DeprecationWarning: pkg_resources is deprecated as an API\n"
        f"{bar}\n{colored}\n"
        "\x1b[2mTelemetry: 12 events sent\x1b[0m\r\n"
    )


@pytest.mark.parametrize(("entry", "log"), EXAMPLES)
def test_every_example_is_diagnosed_as_its_own_entry(entry, log) -> None:
    diagnoses = diagnose(log)
    assert diagnoses, f"{entry.id}: example not recognised"
    # One answer per cause: a category's best entry speaks for it, so the category must agree.
    assert diagnoses[0].category == entry.category, [d.id for d in diagnoses]


def test_almost_every_example_puts_its_own_id_first() -> None:
    firsts = [
        diagnose(example.log)[0].id == e.id for e in CATALOGUE.entries for example in e.examples
    ]
    assert sum(firsts) >= 0.95 * len(firsts)


@pytest.mark.parametrize(("entry", "log"), EXAMPLES)
def test_noise_does_not_change_the_diagnosis(entry, log) -> None:
    clean = diagnose(log)[0]
    noisy = diagnose(_noisy(log))
    assert noisy and noisy[0].id == clean.id
    assert noisy[0].remedies == clean.remedies


def _remedy_matches(diagnosis: Diagnosis, flag: str) -> bool:
    """Does one of the diagnosis' remedies express this fix (a CLI flag, pip/npm command, or hint)?"""
    cli = {
        "opset": "set_opset",
        "device": "set_device",
        "dtype": "set_dtype",
        "optimize": "set_optimize",
    }
    for part in (p.strip() for p in flag.split("&&")):
        if match := re.fullmatch(r"--([\w-]+)(?:[ =](\S+))?", part):
            name, value = match.groups()
            action = cli.get(name, name.replace("-", "_"))
            if name == "task":
                action, value = "set_task", None  # the task itself is model-specific
            found = any(
                r.action == action and (value is None or str(value) in map(str, r.args.values()))
                for r in diagnosis.remedies
            )
        elif match := re.fullmatch(r"(?:pip )?(install|uninstall)(?: -[Uy])* (\S+)", part):
            verb, package = match.groups()
            package = re.split(r"[=<>\[]", package)[0].lower()
            actions = {"uninstall"} if verb == "uninstall" else {"install", "upgrade"}
            found = any(
                (
                    r.action in actions
                    and (
                        str(r.args.get("package", "")).lower() == package
                        or package in (r.command or "").split()
                    )
                )
                # A thread's own pin is not copied into remedies (issue 12); a remedy that says
                # to pin that package to the caller's declared release covers it.
                or (r.action == "manual" and f"'{package}==" in r.note)
                # Installed here already: the remedy says to install it in the environment that
                # failed, and how to check that environment, instead of a no-op install.
                or (r.command == f"python -m pip show {package}" and "install it there" in r.note)
                for r in diagnosis.remedies
            )
        elif match := re.fullmatch(r"npm install (@?[^@\s]+)(?:@\S+)?", part):
            found = any(
                r.action in ("install", "upgrade") and r.args.get("package") == match.group(1)
                for r in diagnosis.remedies
            )
        elif "external_data" in part:
            found = any(r.action == "external_data" for r in diagnosis.remedies)
        else:  # a free-text hint: one of its distinctive words must appear in a remedy
            words = {w.strip("'\".*") for w in re.findall(r"[\w'\"./*=-]{6,}", part)} - {
                "import",
                "empty",
            }
            text = " ".join(f"{r.note} {r.command or ''}" for r in diagnosis.remedies)
            found = any(word and word in text for word in words)
        if not found:
            return False
    return True


@pytest.mark.skipif(not DEV_CASES, reason="shared/failures/dev.jsonl not present")
@pytest.mark.parametrize("case", DEV_CASES, ids=[c["id"] for c in DEV_CASES])
def test_dev_failures_get_their_category_and_fix(case: dict) -> None:
    diagnoses = diagnose(case["error_log"])
    assert diagnoses and diagnoses[0].category == case["category"], [d.id for d in diagnoses]
    for flag in case["fix_flags"]:
        assert _remedy_matches(diagnoses[0], flag), f"{flag!r} not among {diagnoses[0].remedies}"


@pytest.mark.parametrize("log", SUCCESS_LOGS)
def test_successful_exports_give_no_diagnosis(log: str) -> None:
    assert diagnose(log) == []
    assert diagnose(_noisy(log)) == []
    # Even without optimum's final success line, nothing in a healthy run looks like a failure.
    assert diagnose(log.replace("The ONNX export succeeded and", "")) == []


def test_the_final_error_outranks_earlier_problems() -> None:
    earlier = (
        "ModuleNotFoundError: No module named 'tensorflow'\n"
        + CATALOGUE.get("OW-VALID-001").examples[0].log
        + "\n"
    )
    noise = "INFO:root:retrying with another opset\n" * 120
    final = CATALOGUE.get("OW-OPSET-001").examples[0].log
    diagnoses = diagnose(earlier + noise + final)
    assert diagnoses[0].id == "OW-OPSET-001"
    assert {"OW-VALID-001", "OW-DEPS-006"} <= {d.id for d in diagnoses}


def test_a_failure_after_a_success_is_still_diagnosed() -> None:
    log = SUCCESS_T5_INFO + "Killed\n"
    assert diagnose(log)[0].category == "out_of_memory"


SEED_FILE = Path(__file__).parents[1].parent / "shared" / "seeds" / "000_54aeb0b26ecef9dc.txt"
SEED_SECTIONS = {  # heading in "Common Errors and Solutions" -> category it belongs to
    "Can't determine model task": "task_inference",
    "Model architecture not supported": "unsupported_architecture",
    "RuntimeError: ONNX export failed": "unsupported_operator_opset",
    "Validation error: output mismatch": "validation_mismatch",
    "Out of memory during export": "out_of_memory",
    "Model produces wrong outputs after conversion": "validation_mismatch",
    "WebGPU falls back to WASM in browser": "transformers_js_runtime",
}


@pytest.mark.skipif(not SEED_FILE.exists(), reason="shared/seeds not present")
def test_the_seed_guides_headings_are_not_diagnoses() -> None:
    """Headings of a blog post are no program's output: a heading alone gets no diagnosis."""
    for heading in (
        "Out of memory during export",
        "Model produces wrong outputs after conversion",
        "WebGPU falls back to WASM in browser",
        "Validation error: output mismatch",
    ):
        assert diagnose(heading) == [], heading


def test_every_category_has_several_entries() -> None:
    grouped = CATALOGUE.by_category()
    assert set(grouped) == set(CATEGORIES)
    assert {name: len(entries) for name, entries in grouped.items() if len(entries) < 2} == {}
    assert len(CATALOGUE.entries) >= 40


def test_entries_use_only_the_fixed_vocabularies_and_ask_before_risky_fixes() -> None:
    for entry in CATALOGUE.entries:
        for remedy in entry.remedies:
            assert remedy.action in ACTIONS
            if remedy.action in ("install", "upgrade", "uninstall", "trust_remote_code"):
                assert remedy.needs_consent, entry.id


def test_captured_values_fill_typed_args_and_commands() -> None:
    log = (
        "torch.onnx.errors.UnsupportedOperatorError: Exporting the operator "
        "'aten::scaled_dot_product_attention' to ONNX opset version 13 is not supported. "
        "Support for this operator was added in version 14, try exporting with this version"
    )
    top = diagnose(log)[0]
    assert top.id == "OW-OPSET-001"
    assert top.remedies[0].args == {"opset": 14}
    assert top.remedies[0].command == "--opset 14"
    assert top.evidence.startswith("torch.onnx.errors.UnsupportedOperatorError")
    assert 0 < top.confidence <= 1


def test_tolerance_is_raised_to_the_next_power_of_ten() -> None:
    log = (
        "\t\t-[x] values not close enough, max diff: 0.0006952285766601562 (atol: 1e-05)\n"
        "The ONNX export succeeded with the warning: The maximum absolute difference between the "
        "output of the reference model and the ONNX exported model is not within the set tolerance "
        "1e-05:\n- logits: max diff = 0.0006952285766601562.\n"
    )
    remedy = diagnose(log)[0].remedies[0]
    assert remedy.action == "set_atol" and remedy.args == {"atol": 0.001}
    assert remedy.command == "--atol 0.001"


def test_install_commands_are_pip_and_npm_commands() -> None:
    accelerate = diagnose(
        "ImportError: Using `low_cpu_mem_usage=True` or a `device_map` requires "
        "Accelerate: `pip install accelerate`"
    )[0]
    # accelerate is installed here and meets what the stack declares: installing it again would
    # change nothing, so the remedy says what else is wrong and how to check it.
    first = accelerate.remedies[0]
    assert first.action == "manual" and first.command == "python -m pip show accelerate"
    assert "already installed" in first.note
    missing = diagnose("ModuleNotFoundError: No module named 'frobnicate_wizard_pkg'")[0]
    assert missing.remedies[0].command == "pip install frobnicate_wizard_pkg"
    assert missing.remedies[0].needs_consent
    js = diagnose('Unknown model class "xlm-roberta", attempting to construct from base class.')[0]
    assert js.remedies[0].command == "npm install @huggingface/transformers@latest"


def test_to_dict_has_exactly_the_public_keys() -> None:
    data = diagnose(
        "RuntimeError: Cannot infer the task from a local directory yet, please "
        "specify the task manually (text-classification)."
    )[0].to_dict()
    assert list(data) == ["id", "category", "title", "confidence", "explanation", "remedies"]
    assert {"action", "args", "command"} <= set(data["remedies"][0])
    json.dumps(data)  # serialisable as it is


def test_render_text_lists_cause_explanation_and_numbered_fixes() -> None:
    text = render_text(diagnose(EXAMPLES[0].values[1]))
    assert "1. " in text and "Why:" in text and "Fixes:" in text and "1) " in text
    opset = render_text(diagnose("Support for this operator was added in version 14"))
    assert opset.startswith("No known failure")  # a fragment without the full message is not enough
    full = CATALOGUE.get("OW-OPSET-001").examples[0].log
    assert "$ --opset 14" in render_text(diagnose(full))


def test_limit_caps_the_number_of_diagnoses() -> None:
    with_examples = [entry for entry in CATALOGUE.entries if entry.examples]
    log = "\n".join(example.log for entry in with_examples[:12] for example in entry.examples)
    assert len(diagnose(log, limit=3)) == 3
    assert diagnose(log, limit=0) == []
    confidences = [d.confidence for d in diagnose(log, limit=20)]
    assert confidences == sorted(confidences, reverse=True)


def test_extract_plan_command_finds_the_last_export_command() -> None:
    log = (
        "$ optimum-cli export onnx --model gpt2 out1\n...\n"
        "\x1b[32m$ optimum-cli export onnx \\\n    --model ./my model/ \\\n    --opset 13 out2\x1b[0m\n"
        "torch.onnx.errors.UnsupportedOperatorError: ...\n"
    )
    assert (
        extract_plan_command(log) == "optimum-cli export onnx --model ./my model/ --opset 13 out2"
    )
    assert extract_plan_command("!optimum-cli export onnx --model t5-small t5_onnx/") == (
        "optimum-cli export onnx --model t5-small t5_onnx/"
    )
    assert extract_plan_command("ValueError: something else") is None


GOOD_ENTRY = """\
id = "OW-OPSET-999"
category = "unsupported_operator_opset"
title = "test entry"
signatures = ['Support for this operator was added in version (?P<opset>\\d+)']
explanation = "A test."

[[remedies]]
action = "set_opset"
args = { opset = "{opset}" }
note = "Use the opset."
needs_consent = false

[[examples]]
source = "test"
log = "Support for this operator was added in version 14"
"""
# name: (text in GOOD_ENTRY, replacement, expected part of the error)
BAD_ENTRIES = {
    "unknown category": ("unsupported_operator_opset", "cuda_problems", "unknown category"),
    "unknown action": ('action = "set_opset"', 'action = "reboot"', "unknown action"),
    "regex does not compile": ("(?P<opset>\\d+)'", "(?P<opset>\\d+'", "does not compile"),
    "unbounded regex": ("version (?P<opset>", "version .*(?P<opset>", "not bounded"),
    "nested repeats": ("version (?P<opset>", "(?:v[^\\n]{0,9}){0,50}(?P<opset>", "nested"),
    "arg without capture": ('opset = "{opset}"', 'opset = "{version}"', "{version}"),
    "install without consent": (
        'action = "set_opset"\nargs = { opset = "{opset}" }',
        'action = "install"\nargs = { package = "x" }',
        "needs_consent must be true",
    ),
    "toml syntax": ('title = "test entry"', 'title = "unterminated', ""),
}


def test_a_good_entry_loads(tmp_path: Path) -> None:
    (tmp_path / "OW-OPSET-999-test-entry.toml").write_text(GOOD_ENTRY)
    catalogue = load_catalogue(tmp_path)
    assert diagnose("...added in version 17", catalogue=catalogue) == []
    top = diagnose(
        "RuntimeError: Support for this operator was added in version 17", catalogue=catalogue
    )[0]
    assert top.remedies[0].args == {"opset": 17}


@pytest.mark.parametrize("kind", list(BAD_ENTRIES))
def test_catalogue_rejects_bad_entries_naming_the_file(tmp_path: Path, kind: str) -> None:
    old, new, _ = BAD_ENTRIES[kind]
    assert old in GOOD_ENTRY
    broken = GOOD_ENTRY.replace(old, new)
    (tmp_path / "OW-OPSET-999-broken.toml").write_text(broken)
    with pytest.raises(CatalogueError) as error:
        load_catalogue(tmp_path)
    assert "OW-OPSET-999-broken.toml" in str(error.value)
    assert BAD_ENTRIES[kind][2] in str(error.value)


def test_catalogue_rejects_misnamed_files_and_duplicate_ids(tmp_path: Path) -> None:
    (tmp_path / "opset.toml").write_text(GOOD_ENTRY)
    with pytest.raises(CatalogueError, match=r"opset\.toml: file name"):
        load_catalogue(tmp_path)
    (tmp_path / "opset.toml").unlink()
    (tmp_path / "OW-OPSET-999-a.toml").write_text(GOOD_ENTRY)
    (tmp_path / "OW-OPSET-999-b.toml").write_text(GOOD_ENTRY)
    with pytest.raises(CatalogueError, match=r"already used by OW-OPSET-999-a\.toml"):
        load_catalogue(tmp_path)


@pytest.mark.parametrize(
    "pattern", [r"a.*b", r"(?:\w+\s)+x", r"[^\n]+end", r"(?:x[^\n]{0,9}){0,99}"]
)
def test_unbounded_regexes_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError):
        check_bounded(pattern)


def test_knowledge_imports_nothing_heavy() -> None:
    code = (
        "import sys, onnx_wizard.knowledge as k\n"
        "k.diagnose('Killed')\n"
        "heavy = {'torch', 'transformers', 'optimum', 'onnxruntime', 'onnx', 'textual'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def _export(model: Path, out: Path, *flags: str) -> str:
    code = "import sys\nfrom optimum.commands.optimum_cli import main\nsys.exit(main())"
    argv = ["optimum-cli", "export", "onnx", "--model", str(model), *flags, str(out)]
    done = subprocess.run(
        [sys.executable, "-c", code, *argv[1:]], capture_output=True, text=True, timeout=300
    )
    return done.stdout + done.stderr


@pytest.mark.slow
def test_live_optimum_runs_success_and_opset_failure(sample_bert: Path, tmp_path: Path) -> None:
    ok = _export(sample_bert, tmp_path / "ok", "--task", "text-classification")
    assert (tmp_path / "ok" / "model.onnx").exists()
    assert diagnose(ok) == []
    failed = _export(
        sample_bert, tmp_path / "bad", "--task", "text-classification", "--opset", "13"
    )
    top = diagnose(failed)[0]
    assert (top.id, top.remedies[0].command) == ("OW-OPSET-001", "--opset 14")
