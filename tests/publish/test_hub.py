"""``onnx-wizard publish`` against a local fake Hub that records every request it gets.

Each publish runs the real CLI in a child process with HF_ENDPOINT pointing at the fake Hub
and offline mode lifted only there. The token must show up in Authorization headers and
nowhere else: not in a URL, a body, another header, the output, the log or a staged file.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fake_hub import FakeHub
from tests.publish.support import TOKEN

SOURCE_CARD = b"---\nlicense: apache-2.0\n---\n# bert-base-uncased\n\nThe original card.\n"


def publish(
    folder: Path,
    *args: str,
    endpoint: str,
    home: Path,
    token: str | None = TOKEN,
    **env_changes: str,
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any] | None]:
    # conftest's offline switches (TRANSFORMERS_OFFLINE too: huggingface_hub honours it) go.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HF_", "HUGGING_FACE")) and k != "TRANSFORMERS_OFFLINE"
    }
    env.update(
        HF_ENDPOINT=endpoint, HF_HOME=str(home / "hf"), ONNX_WIZARD_HOME=str(home), **env_changes
    )
    if token:
        env["HF_TOKEN"] = token
    done = subprocess.run(
        [sys.executable, "-m", "onnx_wizard", "publish", str(folder), *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    payload = json.loads(done.stdout) if "--json" in args and done.returncode == 0 else None
    return done, payload


def assert_token_only_in_authorization(hub: FakeHub) -> None:
    for request in hub.requests:
        assert TOKEN not in request.path and TOKEN.encode() not in request.body
        for name, value in request.headers.items():
            if name != "authorization":
                assert TOKEN not in value, name
        if request.route in ("lfs-upload",):  # a storage URL never gets the token
            assert "authorization" not in request.headers


def assert_no_token_anywhere(done: subprocess.CompletedProcess[str], *folders: Path) -> None:
    assert TOKEN not in done.stdout and TOKEN not in done.stderr
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                assert TOKEN.encode() not in path.read_bytes(), path


def staged_tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def test_bert_publish_sends_exactly_the_staged_files_then_nothing_new(
    bert_q: Path,
    export_home: Path,
    tmp_path: Path,
) -> None:
    with FakeHub(TOKEN) as hub:
        hub.add_repo("google-bert/bert-base-uncased", {"README.md": SOURCE_CARD})
        args = (
            "--repo",
            "me/tiny-bert-ONNX",
            "--yes",
            "--json",
            "--base-model",
            "google-bert/bert-base-uncased",
        )
        done, result = publish(bert_q, *args, endpoint=hub.url, home=export_home)
        assert done.returncode == 0, done.stderr
        staged = staged_tree(bert_q.parent / ".bert.onnx-wizard-publish")
        assert sorted(staged) == sorted(
            [
                "README.md",
                "config.json",
                "onnx/model.onnx",
                "onnx/model_fp16.onnx",
                "onnx/model_quantized.onnx",
                "special_tokens_map.json",
                "tokenizer.json",
                "tokenizer_config.json",
                "vocab.txt",
            ]
        )
        assert result is not None and sorted(result["uploaded"]) == sorted(staged)
        repo = hub.repos["me/tiny-bert-ONNX"]
        assert {p: f.content for p, f in repo.files.items() if p != ".gitattributes"} == staged
        assert [r.route for r in hub.requests if r.route == "lfs-upload"] == ["lfs-upload"] * 3
        (commit,) = repo.commits
        assert commit["header"]["summary"] == "Publish ONNX (fp32, q8, fp16) with onnx-wizard"
        kinds = {op["value"]["path"]: op["key"] for op in commit["operations"]}
        assert kinds["onnx/model_fp16.onnx"] == "lfsFile" and kinds["config.json"] == "file"
        from huggingface_hub import ModelCard

        card = ModelCard(repo.files["README.md"].content.decode())
        # The export's recorded source is the local sample folder: its card is the one appended
        # (it states no licence), and no request goes out for the Hub model's card.
        assert card.data.license is None and "RANDOM weights" in card.text
        assert "resolve" not in hub.routes()
        assert_token_only_in_authorization(hub)
        log = Path(result["log"])  # the per-file events, kept in the wizard's home
        assert export_home in log.parents and '"status": "uploaded"' in log.read_text()
        assert_no_token_anywhere(done, export_home, bert_q.parent)
        assert "[3/9] uploaded" in done.stderr  # per-file progress

        hub.requests.clear()
        again, second = publish(bert_q, *args, endpoint=hub.url, home=export_home)
        assert again.returncode == 0, again.stderr
        assert second is not None and second["up_to_date"] and second["uploaded"] == []
        assert {"preupload", "lfs-batch", "lfs-upload", "commit"}.isdisjoint(hub.routes())
        assert len(repo.commits) == 1


def test_t5_publish_sends_the_encoder_and_merged_decoder_only(t5_q: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"  # without the export's run logs: the source is only --base-model
    with FakeHub(TOKEN) as hub:
        hub.add_repo("google-t5/t5-small", {"README.md": SOURCE_CARD})
        done, _ = publish(
            t5_q,
            "--repo",
            "me/tiny-t5",
            "--yes",
            "--json",
            "--private",
            "--base-model",
            "google-t5/t5-small",
            endpoint=hub.url,
            home=home,
        )
        assert done.returncode == 0, done.stderr
        repo = hub.repos["me/tiny-t5"]
        assert repo.private
        onnx_files = sorted(p for p in repo.files if p.startswith("onnx/"))
        assert onnx_files == [
            "onnx/decoder_model_merged.onnx",
            "onnx/decoder_model_merged_quantized.onnx",
            "onnx/encoder_model.onnx",
            "onnx/encoder_model_quantized.onnx",
        ]
        assert "generation_config.json" in repo.files
        config = json.loads(repo.files["config.json"].content)
        assert config["transformers.js_config"]["dtype"] == "q8"
        from huggingface_hub import ModelCard

        card = ModelCard(repo.files["README.md"].content.decode())
        assert card.data.license == "apache-2.0"  # carried over from the Hub model's card
        assert card.data.base_model == "google-t5/t5-small"
        assert card.data.pipeline_tag == "text2text-generation"
        assert "The original card." in card.text
        assert_token_only_in_authorization(hub)
        assert_no_token_anywhere(done, home, t5_q.parent)


def test_dry_run_makes_no_request_and_keeps_the_staged_folder(
    bert_q: Path,
    export_home: Path,
) -> None:
    with FakeHub(TOKEN) as hub:
        done, result = publish(
            bert_q,
            "--repo",
            "me/x",
            "--dry-run",
            "--json",
            "--base-model",
            "google-bert/bert-base-uncased",
            endpoint=hub.url,
            home=export_home,
        )
        assert done.returncode == 0, done.stderr
        assert hub.requests == []
    assert result is not None and result["status"] == "dry-run"
    staged = Path(result["staged"])
    assert sorted(f["path"] for f in result["files"]) == sorted(staged_tree(staged))
    assert result["total_bytes"] == sum(len(b) for b in staged_tree(staged).values())
    assert f"The staged folder is {staged}" in done.stderr


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("wrong-token", ["401", "hf auth login"]),
        ("create-403", ["403", "Write role", "--repo YOUR-NAME/"]),
        ("create-404", ["404", "Check the owner"]),
        ("commit-409", ["409", "Rerun the same command"]),
        ("network", ["Could not reach the Hub", "Check the network"]),
        ("no-token", ["No Hugging Face token", "hf auth login"]),
        ("offline", ["HF_HUB_OFFLINE", "--dry-run"]),
        ("no-yes", ["needs your yes", "--yes"]),
    ],
)
def test_failures_say_what_happened_and_the_fix_without_the_token(
    bert_q: Path,
    export_home: Path,
    case: str,
    words: list[str],
) -> None:
    with FakeHub(TOKEN) as hub:
        endpoint, token, extra = hub.url, TOKEN, {}
        flags = ["--repo", "me/tiny-bert-ONNX", "--yes"]
        if case == "wrong-token":
            hub.token = "hf_SomeOtherTokenTheServerExpects0123456"
        elif case in ("create-403", "create-404", "commit-409"):
            route, status = case.split("-")
            hub.fail[route] = int(status)
        elif case == "network":
            endpoint = f"http://127.0.0.1:{closed_port()}"
        elif case == "no-token":
            token = None
        elif case == "offline":
            extra = {"HF_HUB_OFFLINE": "1"}
        elif case == "no-yes":
            flags.remove("--yes")
        done, _ = publish(bert_q, *flags, endpoint=endpoint, home=export_home, token=token, **extra)
        if case in ("no-token", "offline", "no-yes"):
            assert hub.requests == []
    assert done.returncode == 2, done.stderr
    assert all(word in done.stderr for word in words), done.stderr
    assert "Traceback" not in done.stderr
    assert_no_token_anywhere(done, export_home)


def test_other_content_is_refused_until_overwrite_is_asked_for(
    bert_q: Path,
    export_home: Path,
) -> None:
    with FakeHub(TOKEN) as hub:
        repo = hub.add_repo(
            "me/taken", {"README.md": b"# someone else's card\n", "weights.bin": b"\0" * 64}
        )
        done, _ = publish(bert_q, "--repo", "me/taken", "--yes", endpoint=hub.url, home=export_home)
        assert done.returncode == 2
        assert "README.md" in done.stderr and "weights.bin" in done.stderr
        assert "--overwrite" in done.stderr
        assert repo.commits == [] and repo.files["README.md"].content.startswith(b"# someone")
        done, result = publish(
            bert_q,
            "--repo",
            "me/taken",
            "--yes",
            "--overwrite",
            "--json",
            endpoint=hub.url,
            home=export_home,
        )
        assert done.returncode == 0, done.stderr
        assert result is not None and result["deleted"] == ["weights.bin"]
        assert "weights.bin" not in repo.files
        assert b"library_name: transformers.js" in repo.files["README.md"].content


def test_a_rerun_after_a_failed_commit_does_not_send_the_big_files_twice(
    bert_q: Path,
    export_home: Path,
) -> None:
    with FakeHub(TOKEN) as hub:
        hub.fail["commit"] = 500
        done, _ = publish(
            bert_q, "--repo", "me/resume", "--yes", endpoint=hub.url, home=export_home
        )
        assert done.returncode == 2 and "500" in done.stderr
        assert hub.routes().count("lfs-upload") == 3 and hub.repos["me/resume"].commits == []
        del hub.fail["commit"]
        done, result = publish(
            bert_q, "--repo", "me/resume", "--yes", "--json", endpoint=hub.url, home=export_home
        )
        assert done.returncode == 0, done.stderr
        assert hub.routes().count("lfs-upload") == 3  # the LFS store had them: none re-sent
        assert result is not None and len(result["uploaded"]) == 9
        assert len(hub.repos["me/resume"].commits) == 1


SAVE_TOKEN = """
import sys
from onnx_wizard.errors import WizardError
from onnx_wizard.publish.login import save_token, token_source
print(token_source())
try:
    print(save_token(sys.stdin.read()))
except WizardError as error:
    print(error, file=sys.stderr)
    sys.exit(2)
print(token_source())
"""


def test_a_typed_token_is_checked_saved_with_huggingface_login_and_used(
    bert_q: Path, export_home: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HF_", "HUGGING_FACE")) and k != "TRANSFORMERS_OFFLINE"
    }
    with FakeHub(TOKEN) as hub:
        env.update(HF_ENDPOINT=hub.url, HF_HOME=str(home / "hf"))
        wrong = subprocess.run(
            [sys.executable, "-c", SAVE_TOKEN],
            input="hf_" + "x" * 34,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert wrong.returncode == 2 and "401" in wrong.stderr and "x" * 34 not in wrong.stderr
        assert not (home / "hf" / "token").exists()
        done = subprocess.run(
            [sys.executable, "-c", SAVE_TOKEN],
            input=TOKEN + "\n",
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[0] == "None"
        assert "'user': 'me'" in done.stdout and "'can_write': True" in done.stdout
        assert done.stdout.splitlines()[-1] == "the saved Hugging Face login"
        assert (home / "hf" / "token").read_text().strip() == TOKEN  # huggingface_hub's store
        assert_no_token_anywhere(done)
        published, _ = publish(
            bert_q, "--repo", "me/saved", "--yes", endpoint=hub.url, home=home, token=None
        )
        assert published.returncode == 0, published.stderr
        assert "me/saved" in hub.repos
        assert_token_only_in_authorization(hub)
