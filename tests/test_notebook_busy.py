"""The notebook says what the engine is doing while it works: the pressed action's own words,
never another button's."""

from __future__ import annotations

from pathlib import Path

from onnx_wizard.flow.actions import BUSY_NEXT
from onnx_wizard.flow.steps import Step


def test_the_busy_line_uses_the_engines_words(tmp_path: Path) -> None:
    from onnx_wizard.widgets.notebook import Wizard

    wizard = Wizard(
        model="sample:bert-classifier", output=str(tmp_path / "out"), offer_resume=False
    )
    seen: list[str] = []
    wizard.busy_note.observe(lambda change: seen.append(str(change["new"])), names="value")
    wizard.button("next").click()
    wizard.wait(300)
    assert wizard.last_error is None, wizard.last_error
    shown = " | ".join(seen)
    assert BUSY_NEXT[Step.SOURCE] in shown  # what Next on the first step does
    assert "Going back" not in shown  # never another button's words
    assert wizard.view.step is not Step.SOURCE
    seen.clear()
    assert wizard.view.offers("back")  # the first button now is Back
    wizard.button("next").click()
    wizard.wait(300)
    assert seen and not any("Going back" in text for text in seen), seen
