"""A token pasted anywhere in a run's facts never reaches the session file."""

from __future__ import annotations

import json
from pathlib import Path

from onnx_wizard.flow import machine
from onnx_wizard.flow.session import load_session, save_session
from onnx_wizard.flow.steps import Step, WizardState
from onnx_wizard.secrets import has_secret

TOKEN = "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"  # the shape of a real user token


def test_a_token_anywhere_in_the_facts_is_masked_in_the_session_file(tmp_path: Path) -> None:
    state = WizardState(Step.RECOVER, {"source": "sample:bert-classifier"}, history=(Step.RUN,))
    state = machine.with_facts(
        state,
        run={
            "status": "failed",
            "detail": f"401 Client Error for url with token {TOKEN}",
            "attempts": [{"log": "x", "error": {"message": f"Authorization: Bearer {TOKEN}"}}],
            "files": [],
        },
        diagnosis={
            "id": "OW-WIZ-UNKNOWN",
            "title": "A failure onnx-wizard does not recognise",
            "explanation": f"Its last lines:\nHF_TOKEN={TOKEN}\nhuggingface_hub.errors",
            "remedies": [],
        },
        publish={"status": "failed", "problem": f"token {TOKEN} was refused"},
    )
    state = state.__class__(
        state.step, state.answers, state.facts, state.history, {"remedy": f"bad {TOKEN}"}
    )
    path = save_session(state, tmp_path / "session.json")
    text = path.read_text(encoding="utf-8")
    assert TOKEN not in text and TOKEN[3:20] not in text
    assert not has_secret(text)
    assert "401 Client Error" in text  # the rest of the message is kept
    saved = json.loads(text)["state"]["facts"]
    assert saved["run"]["attempts"][0]["error"]["message"].startswith("Authorization: Bearer ")
    loaded = load_session(path)  # still a session that resumes
    assert loaded.step is Step.RECOVER and "***" in str(loaded.facts.diagnosis)
