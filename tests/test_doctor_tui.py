"""The terminal doctor: the paste box clears, and an unknown log gets the never-empty answer."""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.widgets import Static, TextArea

from onnx_wizard.widgets.tui.doctor import DoctorScreen
from tests.test_tui_support import pilot_test, wait_until

SIZE = (100, 40)


def text_of(widget: Any) -> str:
    return str(widget.render())


UNKNOWN_LOG = (
    "Traceback (most recent call last):\n"
    '  File "/env/lib/python3.11/site-packages/torch/nn/modules/module.py", line 1, in f\n'
    "ZorgError: the zorg flux broke\n"
)


class DoctorOnly(App[None]):
    """The doctor screen on its own, so this test does not depend on the wizard's screens."""

    def on_mount(self) -> None:
        self.push_screen(DoctorScreen())


@pilot_test
async def test_unknown_log_shows_the_summary_and_the_paste_box_clears() -> None:
    app = DoctorOnly()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DoctorScreen)
        screen.query_one(TextArea).text = UNKNOWN_LOG
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: bool(screen.query("#doctor-summary")), 10, "summary")
        shown = text_of(screen.query_one("#doctor-summary", Static))
        assert "ZorgError: the zorg flux broke" in shown and "torch" in shown
        assert "onnx-wizard check" not in shown
        assert screen.query_one("#doctor-clear").display  # the button; its key is ctrl+l
        await pilot.press("ctrl+l")
        await wait_until(pilot, lambda: not screen.query("#doctor-summary"), 5, "cleared")
        assert screen.query_one(TextArea).text == ""
        await pilot.press("ctrl+r")  # an empty paste is answered, not refused
        await wait_until(pilot, lambda: bool(screen.query("#doctor-summary")), 10, "empty")
        assert "empty" in text_of(screen.query_one("#doctor-summary", Static))


def bf16_log() -> str:
    """A real reproduced log (bf16 export on the CPU) where two causes stay close."""
    import json
    from pathlib import Path

    corpus = Path(__file__).resolve().parents[1] / "knowledge" / "corpus" / "dev.jsonl"
    records = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines()]
    return str(next(r for r in records if "(bf16)" in r["source"])["log"])


@pilot_test
async def test_two_close_causes_are_told_apart_on_the_doctor_screen() -> None:
    app = DoctorOnly()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        screen.query_one(TextArea).text = bf16_log()
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: bool(screen.query("#doctor-tell-apart")), 10, "told")
        shown = text_of(screen.query_one("#doctor-tell-apart", Static))
        assert "Two causes remain possible" in shown and "OW-DEVICE-007" in shown


def test_two_close_causes_are_told_apart_in_the_notebook() -> None:
    from onnx_wizard.flow.diagnosis import run_doctor
    from onnx_wizard.widgets.notebook.render import doctor

    page = doctor(run_doctor(bf16_log()))
    assert "onnx-wizard-tell-apart" in page and "Two causes remain possible" in page
