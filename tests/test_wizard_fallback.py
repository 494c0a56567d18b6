"""The wizard's fallback routes, driven through the engine both faces draw and the CLI.

sample:ernie is a real ERNIE 4.5 decoder (random weights) that optimum has no ONNX config for:
the model step offers the routes, the run takes the chosen one, a route whose export fails
validation is answered with the other routes as fixes, and a supported model whose optimum
export fails gets the ladder as its last fix. Every export here is real and validated.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import onnx
import pytest

from onnx_wizard.flow import engine, machine
from onnx_wizard.flow.results import snippets
from onnx_wizard.flow.steps import Step, WizardState

pytestmark = pytest.mark.slow


def walk(state: WizardState, *actions: str) -> WizardState:
    for action in actions:
        state = engine.act(state, action)
        while machine.view(state).work is not None:
            state = engine.work(state)
    return state


def test_a_failed_route_offers_the_others_and_auto_exports_with_the_kv_cache(
    tmp_path: Path,
) -> None:
    output = tmp_path / "ernie-onnx"
    answers = {"source": "sample:ernie", "output": str(output), "opset": 17}
    state = walk(machine.start(answers), "next", "next")
    view = machine.view(state)
    assert view.step is Step.MODEL and view.status == "ready"
    assert view.field("route").value == "auto"
    assert "ernie4_5" in str(view.field("route_outlook").value)
    # TorchScript freezes a reshape of this model to the traced length: validation catches it.
    state = machine.answer(state, "route", "torchscript")
    state = walk(state, "next", "next", "next", "next", "next")
    assert machine.view(state).step is Step.REVIEW
    assert "--route torchscript" in str(state.facts.command)
    assert machine.view(state).field("plan_route").value == "torch.onnx.export (TorchScript)"
    state = walk(state, "run")
    view = machine.view(state)
    assert view.step is Step.RECOVER
    diagnosis = state.facts.diagnosis or {}
    assert diagnosis["id"] == "OW-WIZ-ROUTE-FAILED" and "validates" in diagnosis["title"]
    offered = [dict(r["answers"])["route"] for r in diagnosis["remedies"]]
    assert offered[0] == "auto" and "torchscript" not in offered
    assert not output.exists()  # a failed route leaves nothing that looks like an export
    state = walk(state, "apply")  # the first fix: the routes in order of measured success
    view = machine.view(state)
    assert view.step is Step.VALIDATE and view.status == "success", view.error
    how = str(view.field("route_used").value)
    assert "KV cache: yes" in how and "opset 17" in how
    graph = onnx.load(str(output / "model.onnx"))
    assert "past_key_values.0.key" in [i.name for i in graph.graph.input]
    assert {o.version for o in graph.opset_import if o.domain in ("", "ai.onnx")} == {17}
    assert "--route auto" in str(state.facts.command)
    # The history of attempts survives the retry, each with the route it really ran.
    (history,) = [t for t in view.tables if t.name == "attempts"]
    assert [row[1] for row in history.rows] == ["failed", "ok"]
    assert "--route torchscript" in history.rows[0][3] and "--route auto" in history.rows[1][3]
    code = snippets(state.answers, state.facts)
    assert "InferenceSession" in code["python"] and "ORTModel" not in code["python"]


def test_options_a_route_cannot_honour_are_refused_on_their_field() -> None:
    from tests.test_machine import DECODER, at

    report = {**DECODER, "supported": False, "model_type": "newlm"}
    state = machine.with_facts(at(Step.EXPORT_OPTIONS, DECODER), report=report)
    state = machine.answer(machine.answer(state, "optimize", "O2"), "dtype", "fp16")
    moved = machine.next(state)
    assert moved.step is Step.EXPORT_OPTIONS  # refused, not dropped
    errors = {f.name: f.error for f in machine.view(moved).fields if f.error}
    assert "optimizer" in str(errors["optimize"]) and "fp32" in str(errors["dtype"])
    fine = machine.answer(machine.answer(state, "optimize", None), "dtype", "fp32")
    assert machine.next(fine).step is Step.QUANTIZATION


def test_a_supported_model_whose_export_fails_gets_the_ladder_as_its_last_fix(
    tmp_path: Path,
) -> None:
    output = tmp_path / "bert-onnx"
    answers = {"source": "sample:bert-classifier", "output": str(output), "opset": 13}
    state = walk(machine.start(answers), *["next"] * 6, "run")
    remedies = (state.facts.diagnosis or {})["remedies"]
    assert [dict(r["answers"]) for r in remedies][-1] == {"route": "auto"}
    assert dict(remedies[0]["answers"]) == {"opset": 14}  # the precise fix stays first
    state = machine.answer(state, "remedy", len(remedies) - 1)
    state = walk(state, "apply")
    view = machine.view(state)
    assert view.step is Step.VALIDATE and view.status == "success", view.error
    how = str(view.field("route_used").value)
    assert "optimum's own export of this bert failed" in how
    # opset 13 cannot hold this attention: the route that worked wrote a newer one, and says so.
    assert "opset 13 was asked" in how
    # Back on the model step the choice shows, and can be undone.
    model = machine.view(engine.back_to(state, Step.MODEL))
    assert not model.field("route").hidden and model.field("route").value == "auto"


def test_cli_takes_a_named_related_config_and_refuses_an_unknown_route(tmp_path: Path) -> None:
    output = tmp_path / "granite-route"
    command = [sys.executable, "-m", "onnx_wizard", "export", "sample:ernie", str(output)]
    done = subprocess.run(
        [*command, "--route", "related-config:granite"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "optimum with the ONNX config of granite" in done.stdout
    assert (output / "model.onnx").exists()
    wrong = subprocess.run(
        [*command[:-1], str(tmp_path / "x"), "--route", "nonsense"], capture_output=True, text=True
    )
    assert wrong.returncode != 0
    assert "--route auto" in wrong.stderr and "--route torchscript" in wrong.stderr
    assert not (tmp_path / "x").exists()
    # An option the routes would drop is refused before anything runs, not silently ignored.
    dropped = subprocess.run(
        [*command[:-1], str(tmp_path / "y"), "--auto-fix", "--optimize", "O2"],
        capture_output=True,
        text=True,
    )
    assert dropped.returncode != 0 and "--optimize" in dropped.stderr, dropped.stderr[-800:]
    assert "optimizer" in dropped.stderr and not (tmp_path / "y").exists()


def test_terminal_app_offers_the_routes_and_their_risk_follows_the_choice(
    tmp_path: Path,
) -> None:
    import asyncio
    import time

    from textual.widgets import Select

    from onnx_wizard.widgets.tui.app import WizardApp
    from onnx_wizard.widgets.tui.fields import FieldRow

    async def settle(app: WizardApp, pilot: object) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            await pilot.pause(0.05)  # type: ignore[attr-defined]
            if app.settled and machine.view(app.state).work is None:
                return
        raise AssertionError(f"the app never settled on {app.state.step}")

    async def drive() -> tuple[str, str, str]:
        prefill = {"source": "sample:ernie", "output": str(tmp_path / "out")}
        app = WizardApp(prefill=prefill, offer_resume=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(app, pilot)
            for _ in range(2):
                await pilot.press("ctrl+n")
                await settle(app, pilot)
            assert app.state.step is Step.MODEL
            row = next(r for r in app.query(FieldRow) if r.item.name == "route")
            before = str(row.item.help)
            ids = [value for value, _ in row.item.choices]
            row.query_one(Select).value = ids.index("torchscript")  # options carry the index
            await settle(app, pilot)
            row = next(r for r in app.query(FieldRow) if r.item.name == "route")
            outlook = str(machine.view(app.state).field("route_outlook").value)
            await pilot.press("ctrl+q")
            return before, str(row.item.help), outlook

    before, after, outlook = asyncio.run(drive())
    assert "Risk:" in before and "Risk:" in after and before != after
    assert "Tracing records one path" in after  # TorchScript's own risk, not auto's
    assert "Odds:" in outlook


def test_python_api_takes_the_routes_and_keeps_a_decoders_cache(tmp_path: Path) -> None:
    import onnx_wizard
    from onnx_wizard.errors import WizardError

    with pytest.raises(WizardError) as refused:  # no route named: the routes are listed
        onnx_wizard.export("sample:ernie", tmp_path / "none")
    assert "--route auto" in refused.value.problem and not (tmp_path / "none").exists()
    result = onnx_wizard.export("sample:ernie", tmp_path / "auto", auto_fix=True)
    assert result.task == "text-generation-with-past"
    assert result.command.endswith("--route auto")
    graph = onnx.load(str(tmp_path / "auto" / "model.onnx"))
    assert "past_key_values.0.key" in [i.name for i in graph.graph.input]
