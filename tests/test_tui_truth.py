"""Terminal details a careful user notices: keys overlay, quit during an export, boxes readable
without colour, folders only in the picker, tables that stack at 80 columns instead of cutting
cells, the history of attempts in the run pane, the engine's words while it works."""

from __future__ import annotations

from pathlib import Path

from textual.app import App, ComposeResult
from textual.widgets import Input, Label, SelectionList, Static

from onnx_wizard.flow import machine
from onnx_wizard.flow.actions import WORK_BUSY
from onnx_wizard.flow.steps import Step
from onnx_wizard.flow.steps import Table as ViewTable
from onnx_wizard.widgets.tui.app import WizardApp
from onnx_wizard.widgets.tui.fields import TableView
from onnx_wizard.widgets.tui.narrow import TickList
from onnx_wizard.widgets.tui.overlays import FolderTree, KeysScreen
from onnx_wizard.widgets.tui.run_pane import RunPane
from tests.test_tui_support import pilot_test, start, walk


@pilot_test
async def test_question_mark_lists_the_keys_from_the_bindings(tmp_path: Path) -> None:
    state = walk(start("bert-classifier", str(tmp_path / "out")), Step.EXPORT_OPTIONS)
    app = WizardApp(state, offer_resume=False, autorun=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.set_focus(None)  # in a text box "?" is a character, not a key
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, KeysScreen)
        keys = str(app.screen.query_one("#keys-list", Static).render())
        for shown in ("Ctrl+Q", "Quit", "Ctrl+N", "Ctrl+B", "Back", "Ctrl+O", "Doctor"):
            assert shown in keys
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, KeysScreen)


@pilot_test
async def test_ticked_boxes_read_without_colour_and_are_counted(tmp_path: Path) -> None:
    state = walk(start("bert-classifier", str(tmp_path / "out")), Step.QUANTIZATION)
    app = WizardApp(state, offer_resume=False, autorun=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        boxes = app.query(TickList).first()
        total = boxes.option_count
        lines = [boxes.render_line(y).text for y in range(total)]
        assert all(line.startswith("[ ]") for line in lines), lines
        boxes.focus()
        await pilot.press("space")  # tick the highlighted (first) one
        await pilot.pause()
        assert boxes.render_line(0).text.startswith("[x]")
        assert boxes.render_line(1).text.startswith("[ ]")
        row = boxes.parent
        while row is not None and not row.query(".pick-count"):
            row = row.parent
        assert row is not None
        count = str(row.query_one(".pick-count", Label).render())
        assert count == f"1 of {total} selected"
        assert len(app.state.answers[boxes.name or ""]) == 1  # the app answered it too


def test_the_folder_picker_shows_folders_without_hidden_ones(tmp_path: Path) -> None:
    root = tmp_path / "pick"
    for name in ("models", ".git", ".cache"):
        (root / name).mkdir(parents=True)
    (root / "notes.txt").write_text("x")
    tree = FolderTree(str(root))
    shown = {p.name for p in tree.filter_paths(root.iterdir())}
    assert shown == {"models"}


class OneTable(App[None]):
    def __init__(self, table: ViewTable) -> None:
        super().__init__()
        self.table = table

    def compose(self) -> ComposeResult:
        yield TableView(self.table)


WIDE = ViewTable(
    "files",
    "Files",
    ("File", "Size", "Variant", "Ratio", "Accuracy", "Latency", "Max |diff|", "Result"),
    (
        tuple(
            [
                "decoder_model_merged.onnx",
                "281.0 KiB",
                "fp32",
                "1.00",
                "reference",
                "-",
                "1.07e-06",
                "passed",
            ]
        ),
        tuple(
            [
                "encoder_model.onnx",
                "116.1 KiB",
                "q4f16",
                "0.25",
                "99.1%",
                "12 ms",
                "8.34e-07",
                "FAILED",
            ]
        ),
    ),
)


@pilot_test
async def test_a_wide_table_stacks_at_80_columns_and_cuts_no_cell() -> None:
    for width, stacked in ((80, True), (160, False)):
        app = OneTable(WIDE)
        async with app.run_test(size=(width, 40)) as pilot:
            await pilot.pause()
            shown = app.query_one(TableView)
            text = str(shown.render()) if stacked else ""
            if stacked:
                for row in WIDE.rows:
                    for cell in row:
                        assert cell in text, (cell, text)
                assert "Max |diff|: 1.07e-06" in text
                assert max(len(line) for line in text.splitlines()) <= 80
            else:
                assert "Max |diff|: 1.07e-06" not in str(shown.render())


@pilot_test
async def test_the_run_pane_keeps_a_history_of_attempts(tmp_path: Path) -> None:
    state = machine.advance(walk(start("bert-classifier", str(tmp_path / "out")), Step.REVIEW))
    app = WizardApp(state, offer_resume=False, autorun=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        pane = app.query_one(RunPane)
        pane.handle({"event": "attempt", "number": 1, "command": "optimum-cli export onnx a"})
        pane.handle({"event": "stage", "stage": "export", "label": "exporting submodel 1/2"})
        assert "exporting submodel 1/2" in str(app.query_one("#run-current", Static).render())
        pane.handle({"event": "finished", "status": "failed"})
        pane.handle({"event": "attempt", "number": 2, "command": "optimum-cli export onnx b"})
        await pilot.pause()
        history = app.query_one("#run-history", Static)
        assert history.display
        assert "Attempt 1: failed during Export" in str(history.render())
        assert "attempt 2" in str(app.query_one("#run-current", Static).render())


@pilot_test
async def test_long_work_shows_the_engines_words(tmp_path: Path) -> None:
    state = machine.advance(start("bert-classifier", str(tmp_path / "out")))
    assert machine.view(state).work == "checks"
    app = WizardApp(state, offer_resume=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        # What the busy line said while the checks ran (kept after they end).
        assert app.busy_text == WORK_BUSY["checks"]


def test_selection_list_is_the_tick_list() -> None:
    assert issubclass(TickList, SelectionList)


@pilot_test
async def test_the_suggested_output_folder_follows_the_chosen_sample() -> None:
    app = WizardApp(machine.start({}), offer_resume=False, autorun=False)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        await pilot.click("#sample-gpt2")
        await pilot.pause()
        output = app.query_one("#field-output", Input)
        assert output.value == "" and output.placeholder.endswith("gpt2-onnx (default)")
        await pilot.click("#sample-t5")
        await pilot.pause()
        assert output.placeholder.endswith("t5-onnx (default)")
