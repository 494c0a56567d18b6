# ruff: noqa: E501 - long bounded regexes / one-off data plumbing read better on one line
"""Reproduce real export failures (and clean runs) with the installed stack; write their logs.

Run: python tests/corpus/reproduce.py OUTDIR. Each case runs a real command on a tiny local
sample model and stores what it printed, so the corpus holds today's wording of each family.
Not part of the test suite (it takes minutes); its output is turned into corpus records.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from onnx_wizard.inspection.samples import ensure_sample

PY = sys.executable


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    full = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **(env or {})}
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=full, timeout=300)
    return (done.stdout + done.stderr)[-6000:]


def py(code: str, cwd: Path, python: str = PY) -> str:
    return run([python, "-c", textwrap.dedent(code)], cwd)


def main(out: Path) -> None:
    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    bert, gpt2, t5 = (ensure_sample(n) for n in ("bert-classifier", "gpt2", "t5"))
    cases: list[dict[str, str]] = []

    def add(name: str, command: str, log: str, failed: bool = True) -> None:
        cases.append({"name": name, "command": command, "log": log, "failed": str(failed)})

    def cli(name: str, model: Path, *flags: str, failed: bool = True) -> None:
        argv = ["optimum-cli", "export", "onnx", "--model", str(model), *flags, f"out-{name}"]
        add(name, " ".join(argv), run(argv, work), failed)

    cli("opset13", bert, "--task", "text-classification", "--opset", "13")
    cli("opset9", bert, "--task", "text-classification", "--opset", "9")
    cli("gpt2-fp16-cpu", gpt2, "--task", "text-generation-with-past", "--dtype", "fp16")
    cli("bert-wrong-task", bert, "--task", "image-classification")
    cli("bert-o4-cpu", bert, "--task", "text-classification", "--optimize", "O4")
    cli("bert-ok", bert, "--task", "text-classification", failed=False)
    cli("gpt2-ok", gpt2, "--task", "text-generation-with-past", failed=False)
    cli("t5-ok", t5, "--task", "text2text-generation-with-past", failed=False)
    cli("bert-atol", bert, "--task", "text-classification", "--atol", "1e-12", failed=False)
    cli("hub-offline", Path("someone/some-model"), "--task", "text-classification")
    cli("hub-offline-auto", Path("someone/some-model"))
    # A model type transformers knows but optimum has no ONNX config for.
    odd = work / "mamba-like"
    py(
        f"""
        from transformers import MambaConfig, MambaForCausalLM
        MambaForCausalLM(MambaConfig(hidden_size=16, num_hidden_layers=1, vocab_size=100,
            state_size=4)).save_pretrained({str(odd)!r})
        """,
        work,
    )
    cli("unsupported-type", odd, "--task", "text-generation")
    # A model type transformers does not know.
    unknown = work / "unknown-type"
    shutil.copytree(bert, unknown, dirs_exist_ok=True)
    cfg = json.loads((unknown / "config.json").read_text())
    cfg["model_type"] = "brandnewformer"
    (unknown / "config.json").write_text(json.dumps(cfg))
    cli("unknown-type", unknown, "--task", "text-classification")
    # Remote code without trust.
    remote = work / "remote-code"
    shutil.copytree(bert, remote, dirs_exist_ok=True)
    cfg = json.loads((remote / "config.json").read_text())
    cfg["auto_map"] = {"AutoConfig": "configuration_x.XConfig"}
    (remote / "config.json").write_text(json.dumps(cfg))
    (remote / "configuration_x.py").write_text(
        "from transformers import BertConfig\nclass XConfig(BertConfig):\n    model_type='x'\n"
    )
    cli("remote-code", remote, "--task", "text-classification")
    # No tokenizer files.
    notok = work / "no-tokenizer"
    notok.mkdir(exist_ok=True)
    for f in ("config.json", "model.safetensors"):
        shutil.copy(bert / f, notok / f)
    add(
        "tokenizer-missing",
        "AutoTokenizer.from_pretrained(folder without tokenizer files)",
        py(
            f"from transformers import AutoTokenizer; AutoTokenizer.from_pretrained({str(notok)!r})",
            work,
        ),
    )
    # ONNX Runtime on broken and mismatched files.
    onnx_ok = work / "out-bert-ok" / "model.onnx"
    trunc = work / "truncated.onnx"
    if onnx_ok.exists():
        trunc.write_bytes(onnx_ok.read_bytes()[:5000])
    add(
        "ort-truncated",
        "onnxruntime.InferenceSession(truncated file)",
        py(f"import onnxruntime as o; o.InferenceSession({str(trunc)!r})", work),
    )
    add(
        "ort-missing-file",
        "onnxruntime.InferenceSession(missing file)",
        py("import onnxruntime as o; o.InferenceSession('nope/model.onnx')", work),
    )
    add(
        "ort-wrong-input",
        "session.run with a wrong input name",
        py(
            f"""
        import numpy as np, onnxruntime as o
        s = o.InferenceSession({str(onnx_ok)!r})
        s.run(None, {{'input_idz': np.ones((1, 4), dtype=np.int64)}})
        """,
            work,
        ),
    )
    add(
        "ort-wrong-dtype",
        "session.run with int32 ids",
        py(
            f"""
        import numpy as np, onnxruntime as o
        s = o.InferenceSession({str(onnx_ok)!r})
        s.run(None, {{'input_ids': np.ones((1, 4), dtype=np.int32),
                      'attention_mask': np.ones((1, 4), dtype=np.int64),
                      'token_type_ids': np.ones((1, 4), dtype=np.int64)}})
        """,
            work,
        ),
    )
    add(
        "ort-missing-input",
        "session.run without attention_mask",
        py(
            f"""
        import numpy as np, onnxruntime as o
        s = o.InferenceSession({str(onnx_ok)!r})
        s.run(None, {{'input_ids': np.ones((1, 4), dtype=np.int64)}})
        """,
            work,
        ),
    )
    add(
        "ort-wrong-rank",
        "session.run with 1-D ids",
        py(
            f"""
        import numpy as np, onnxruntime as o
        s = o.InferenceSession({str(onnx_ok)!r})
        s.run(None, {{'input_ids': np.ones((4,), dtype=np.int64),
                      'attention_mask': np.ones((4,), dtype=np.int64),
                      'token_type_ids': np.ones((4,), dtype=np.int64)}})
        """,
            work,
        ),
    )
    add(
        "ort-ir-too-new",
        "InferenceSession on a model stamped IR version 99",
        py(
            f"""
        import onnx, onnxruntime as o
        m = onnx.load({str(onnx_ok)!r}); m.ir_version = 99; onnx.save(m, 'ir99.onnx')
        o.InferenceSession('ir99.onnx')
        """,
            work,
        ),
    )
    add(
        "ort-opset-too-new",
        "InferenceSession on a model stamped opset 40",
        py(
            f"""
        import onnx, onnxruntime as o
        m = onnx.load({str(onnx_ok)!r})
        for imp in m.opset_import:
            if imp.domain in ('', 'ai.onnx'): imp.version = 40
        onnx.save(m, 'op40.onnx')
        o.InferenceSession('op40.onnx')
        """,
            work,
        ),
    )
    add(
        "ort-external-data-missing",
        "InferenceSession after the .onnx_data file was lost",
        py(
            f"""
        import onnx, onnxruntime as o, os
        m = onnx.load({str(onnx_ok)!r})
        onnx.save(m, 'ext.onnx', save_as_external_data=True, location='ext.onnx_data', size_threshold=0)
        os.remove('ext.onnx_data')
        o.InferenceSession('ext.onnx')
        """,
            work,
        ),
    )
    add(
        "ort-cuda-provider",
        "InferenceSession with CUDAExecutionProvider on a CPU build",
        py(
            f"""
        import onnxruntime as o
        s = o.InferenceSession({str(onnx_ok)!r}, providers=['CUDAExecutionProvider'])
        """,
            work,
        ),
    )
    add(
        "quantize-bad-kwarg",
        "quantize_dynamic with an argument it no longer takes",
        py(
            f"""
        from onnxruntime.quantization import quantize_dynamic
        quantize_dynamic({str(onnx_ok)!r}, 'q.onnx', activation_type='uint8', optimize_model=True)
        """,
            work,
        ),
    )
    add(
        "quantize-weight-type",
        "quantize_dynamic with a string weight type",
        py(
            f"""
        from onnxruntime.quantization import quantize_dynamic
        quantize_dynamic({str(onnx_ok)!r}, 'q.onnx', weight_type='QInt8')
        """,
            work,
        ),
    )
    add(
        "quantize-missing-file",
        "quantize_dynamic on a missing file",
        py(
            "from onnxruntime.quantization import quantize_dynamic\nquantize_dynamic('gone.onnx', 'q.onnx')",
            work,
        ),
    )
    add(
        "fp16-cast-cpu",
        "torch model.half() forward on CPU",
        py(
            f"""
        import torch
        from transformers import AutoModelForCausalLM
        m = AutoModelForCausalLM.from_pretrained({str(gpt2)!r}).to(torch.bfloat16)
        m.half()(torch.ones(1, 4, dtype=torch.long))
        torch.nn.functional.layer_norm(torch.ones(2, 4, dtype=torch.float16), (4,), torch.ones(4))
        """,
            work,
        ),
    )
    add(
        "devices-mismatch",
        "tensors on different devices",
        py("import torch; torch.ones(2, device='meta') + torch.ones(2)", work),
    )
    add(
        "randrange-py311",
        "random.randrange(1, 1) on Python 3.11",
        py("import random; random.randrange(1, 1)", work),
    )
    add(
        "randrange-py312",
        "random.randrange(1, 1) on Python 3.12",
        py("import random; random.randrange(1, 1)", work, python="python3.12"),
    )
    add(
        "module-missing",
        "import of a package that is not installed",
        py("import sentencepiece_nope", work),
    )
    add(
        "cannot-import-name",
        "import of a name a package no longer has",
        py("from transformers import TFAutoModelNope", work),
    )
    add(
        "torch-export-dynamo-fail",
        "torch.onnx.export(dynamo=True) of data-dependent control flow",
        py(
            """
        import torch
        class M(torch.nn.Module):
            def forward(self, x):
                if x.sum() > 0:
                    return x * 2
                return x
        torch.onnx.export(M(), (torch.ones(2),), 'd.onnx', dynamo=True)
        """,
            work,
        ),
    )
    add(
        "torch-export-sdpa-opset13",
        "torch.onnx.export(dynamo=False) of sdpa at opset 13",
        py(
            """
        import torch
        class M(torch.nn.Module):
            def forward(self, q):
                return torch.nn.functional.scaled_dot_product_attention(q, q, q)
        torch.onnx.export(M(), (torch.ones(1, 2, 4, 8),), 's.onnx', opset_version=13, dynamo=False)
        """,
            work,
        ),
    )
    (out / "reproduced.jsonl").write_text(
        "".join(json.dumps(c) + "\n" for c in cases), encoding="utf-8"
    )


def variants(out: Path) -> None:
    """The same families on the other samples and with other flags: today's wording, again."""
    work = out / "work2"
    work.mkdir(parents=True, exist_ok=True)
    models = {n: ensure_sample(n) for n in ("bert-classifier", "gpt2", "t5")}
    tasks = {
        "bert-classifier": "text-classification",
        "gpt2": "text-generation-with-past",
        "t5": "text2text-generation-with-past",
    }
    cases: list[dict[str, str]] = []
    for name, model in models.items():
        for flags, tag in (
            (["--opset", "13"], "opset13"),
            (["--opset", "11"], "opset11"),
            (["--opset", "9"], "opset9"),
            (["--optimize", "O4"], "o4"),
            (["--dtype", "fp16"], "fp16"),
            (["--dtype", "bf16"], "bf16"),
            (["--device", "cuda"], "cuda"),
        ):
            argv = [
                "optimum-cli",
                "export",
                "onnx",
                "--model",
                str(model),
                "--task",
                tasks[name],
                *flags,
                f"out-{name}-{tag}",
            ]
            log = run(argv, work)
            cases.append(
                {"name": f"{name}-{tag}", "command": " ".join(argv), "log": log, "failed": "True"}
            )
        for task in ("image-classification", "automatic-speech-recognition"):
            argv = [
                "optimum-cli",
                "export",
                "onnx",
                "--model",
                str(model),
                "--task",
                task,
                f"out-{name}-{task}",
            ]
            cases.append(
                {
                    "name": f"{name}-{task}",
                    "command": " ".join(argv),
                    "log": run(argv, work),
                    "failed": "True",
                }
            )
    for repo in ("google-bert/bert-base-uncased", "meta-llama/Llama-3.2-1B"):
        argv = ["optimum-cli", "export", "onnx", "--model", repo, "out-hub"]
        cases.append(
            {
                "name": f"hub-{repo}",
                "command": " ".join(argv),
                "log": run(argv, work),
                "failed": "True",
            }
        )
    env = {"PYENV_VERSION": "3.12.1"}
    cases.append(
        {
            "name": "randrange-py312",
            "command": "random.randrange(1, 1) on Python 3.12",
            "log": run(["python3.12", "-c", "import random; random.randrange(1, 1)"], work, env),
            "failed": "True",
        }
    )
    (out / "variants.jsonl").write_text(
        "".join(json.dumps(c) + "\n" for c in cases), encoding="utf-8"
    )


def runtime_variants(out: Path) -> None:
    """ONNX Runtime on the exported decoder and encoder-decoder: cache inputs, dtypes, files."""
    work = out / "work3"
    work.mkdir(parents=True, exist_ok=True)
    gpt2 = out / "work2" / "out-gpt2-cuda"  # never written; the clean export below is used
    cases: list[dict[str, str]] = []
    exports = {}
    for name, task in (
        ("gpt2", "text-generation-with-past"),
        ("t5", "text2text-generation-with-past"),
    ):
        target = work / f"{name}-onnx"
        if not (target / "config.json").exists():
            run(
                [
                    "optimum-cli",
                    "export",
                    "onnx",
                    "--model",
                    str(ensure_sample(name)),
                    "--task",
                    task,
                    str(target),
                ],
                work,
            )
        exports[name] = target
    del gpt2

    def add(name: str, family: str, code: str) -> None:
        cases.append(
            {
                "name": name,
                "family": family,
                "command": name,
                "log": py(code, work),
                "failed": "True",
            }
        )

    g, t = exports["gpt2"] / "model.onnx", exports["t5"] / "decoder_model_merged.onnx"
    add(
        "gpt2-no-past",
        "kv-inputs",
        f"""
        import numpy as np, onnxruntime as o
        s = o.InferenceSession({str(g)!r})
        s.run(None, {{'input_ids': np.ones((1, 4), np.int64), 'attention_mask': np.ones((1, 4), np.int64)}})
        """,
    )
    add(
        "t5-no-cache-branch",
        "kv-inputs",
        f"""
        import numpy as np, onnxruntime as o
        s = o.InferenceSession({str(t)!r})
        s.run(None, {{'input_ids': np.ones((1, 1), np.int64)}})
        """,
    )
    add(
        "gpt2-int32",
        "ort-dtype",
        f"""
        import numpy as np, onnxruntime as o
        s = o.InferenceSession({str(g)!r})
        feed = {{i.name: np.zeros([1 if isinstance(d, str) else d for d in i.shape], np.float32 if 'float' in i.type else np.int32) for i in s.get_inputs()}}
        s.run(None, feed)
        """,
    )
    add(
        "gpt2-rank",
        "ort-rank",
        f"""
        import numpy as np, onnxruntime as o
        s = o.InferenceSession({str(g)!r})
        feed = {{i.name: np.zeros((2,), np.float32 if 'float' in i.type else np.int64) for i in s.get_inputs()}}
        s.run(None, feed)
        """,
    )
    add(
        "t5-encoder-missing",
        "ortmodel-files",
        f"""
        import shutil
        from pathlib import Path
        d = Path('t5-broken'); shutil.copytree({str(exports["t5"])!r}, d, dirs_exist_ok=True)
        (d / 'encoder_model.onnx').unlink()
        from optimum.onnxruntime import ORTModelForSeq2SeqLM
        ORTModelForSeq2SeqLM.from_pretrained(str(d))
        """,
    )
    add(
        "gpt2-ortmodel-empty",
        "ortmodel-files",
        """
        from pathlib import Path
        Path('empty-model').mkdir(exist_ok=True)
        from optimum.onnxruntime import ORTModelForCausalLM
        ORTModelForCausalLM.from_pretrained('empty-model')
        """,
    )
    add(
        "gpt2-external-missing",
        "ort-external",
        f"""
        import onnx, onnxruntime as o, os
        m = onnx.load({str(g)!r})
        onnx.save(m, 'g.onnx', save_as_external_data=True, location='g.onnx_data', size_threshold=0)
        os.remove('g.onnx_data')
        o.InferenceSession('g.onnx')
        """,
    )
    add(
        "gpt2-truncated",
        "ort-truncated",
        f"""
        import onnxruntime as o
        open('gt.onnx', 'wb').write(open({str(g)!r}, 'rb').read()[:3000])
        o.InferenceSession('gt.onnx')
        """,
    )
    add(
        "gpt2-quantize-missing",
        "quant-missing",
        """
        from onnxruntime.quantization import quantize_dynamic, QuantType
        quantize_dynamic('no/such/model.onnx', 'q.onnx', weight_type=QuantType.QInt8)
        """,
    )
    add(
        "gpt2-monolith-past",
        "monolith-past",
        f"""
        import subprocess, sys
        r = subprocess.run(['optimum-cli', 'export', 'onnx', '--model', {str(ensure_sample("gpt2"))!r},
                            '--task', 'text-generation-with-past', '--monolith', 'mono'],
                           capture_output=True, text=True)
        sys.stderr.write(r.stdout + r.stderr); sys.exit(r.returncode)
        """,
    )
    add(
        "t5-decoder-task",
        "encdec-task",
        f"""
        import subprocess, sys
        r = subprocess.run(['optimum-cli', 'export', 'onnx', '--model', {str(ensure_sample("t5"))!r},
                            '--task', 'text-generation', 'dec'], capture_output=True, text=True)
        sys.stderr.write(r.stdout + r.stderr); sys.exit(r.returncode)
        """,
    )
    add(
        "bert-seq-len-1",
        "randrange",
        f"""
        import subprocess, sys
        r = subprocess.run(['optimum-cli', 'export', 'onnx', '--model', {str(ensure_sample("gpt2"))!r},
                            '--task', 'text-generation-with-past', '--sequence_length', '1', 'seq1'],
                           capture_output=True, text=True)
        sys.stderr.write(r.stdout + r.stderr); sys.exit(r.returncode)
        """,
    )
    (out / "runtime_variants.jsonl").write_text(
        "".join(json.dumps(c) + "\n" for c in cases), encoding="utf-8"
    )


if __name__ == "__main__":
    if sys.argv[2:] == ["runtime"]:
        runtime_variants(Path(sys.argv[1]))
    elif sys.argv[2:] == ["variants"]:
        variants(Path(sys.argv[1]))
    else:
        main(Path(sys.argv[1]))
