"""What the engine knows is shown where a choice is made (``flow.explain`` through the views):
weights and memory on the model step, each file choice's files and costs, real defaults, a
remote-code switch only for models with code, a --slim option for the check that names it, and
a way on from an unsupported model."""

from __future__ import annotations

from onnx_wizard.flow import engine, machine
from onnx_wizard.flow.actions import WORK_BUSY
from onnx_wizard.flow.steps import Step
from onnx_wizard.validation.report import default_atol
from tests.test_machine import DECODER, ENCODER, ENCODER_DECODER, at

RAM_CHECK = {"name": "ram", "status": "ok", "detail": "2.0 GiB free of 8.0 GiB; export needs ~2x"}


def info(state: machine.WizardState, name: str) -> str:
    return str(machine.view(state).field(name).value)


def test_model_step_shows_weights_and_memory_against_free_ram() -> None:
    report = {
        **ENCODER,
        "weight_files": ["model.safetensors"],
        "weight_bytes": 169_472,
        "dtype": "float32",
        "ram_estimate_bytes": 3 * 1024**3,
    }
    state = machine.with_facts(at(Step.MODEL, report), checks=(RAM_CHECK,))
    assert info(state, "weights") == "found: model.safetensors (169.5 KB, float32)"
    memory = info(state, "ram")
    assert "3.2 GB at the peak" in memory and "2.1 GB free now" in memory
    assert "NOT enough" in memory  # 3.2 GB needed, 2.1 GB free
    roomy = machine.with_facts(state, checks=({**RAM_CHECK, "detail": "30.0 GiB free of 64"},))
    assert "(enough)" in info(roomy, "ram")
    bare = machine.with_facts(state, report={**report, "weight_files": [], "weight_bytes": 0})
    assert info(bare, "weights").startswith("none found")


def test_the_remote_code_switch_is_drawn_only_for_models_with_code() -> None:
    plain = machine.view(at(Step.MODEL, ENCODER)).field("trust_remote_code")
    assert plain.hidden
    custom = machine.view(at(Step.MODEL, {**ENCODER, "needs_remote_code": True}))
    assert not custom.field("trust_remote_code").hidden
    # A remedy can still turn it on for a model whose report did not say so.
    state = machine.with_answers(at(Step.REVIEW, ENCODER), {"trust_remote_code": True})
    assert state.answers["trust_remote_code"] is True


def test_an_unsupported_model_is_not_a_dead_end() -> None:
    report = {**ENCODER, "supported": False, "model_type": "oddnet", "spec": "me/oddnet"}
    state = machine.with_facts(at(Step.MODEL, ENCODER), report=report)
    view = machine.view(state)
    assert view.status == "ready" and view.field("route").value == "auto"
    # The review's command is the route's, runnable as it stands.
    review = engine.refresh(machine.with_answers(at(Step.REVIEW, ENCODER), {}))
    review = machine.with_facts(review, report=report)
    command = engine.plan_command(review)
    assert command.startswith("onnx-wizard export") and "--route auto" in command
    # Outside transformers no route fits: blocked, saying why and what is left.
    other = {**report, "library": "timm"}
    view = machine.view(machine.with_facts(at(Step.MODEL, ENCODER), report=other))
    assert view.status == "blocked" and view.error
    assert "timm model (oddnet)" in view.error and "transformers models only" in view.error
    assert "doctor" in view.error and "--auto-fix" not in view.error


def test_file_choices_say_what_they_write_and_cost_before_any_toggle() -> None:
    view = machine.view(machine.next(at(Step.TASK, ENCODER_DECODER)))
    assert view.step is Step.ARCHITECTURE
    text = view.field("file_choices").value
    assert "decoder_model_merged.onnx" in text and "decoder_with_past_model.onnx" in text
    assert "less memory" in text and "both decoders are loaded" in text  # both sides of split
    decoder = machine.view(machine.next(at(Step.TASK, DECODER))).field("file_choices").value
    assert "With a KV cache" in decoder and "Without a KV cache" in decoder


def test_options_show_real_defaults_and_say_why_a_choice_has_one_option() -> None:
    view = machine.view(at(Step.EXPORT_OPTIONS, DECODER))
    assert view.field("opset").placeholder == "18 (default)"
    floor, words = default_atol("text-generation", "fp32")
    assert view.field("atol").placeholder == f"{floor:g} (default)"
    assert words in view.field("atol").help
    assert "no CUDA GPU" in view.field("device").help  # one option: why
    gpu = machine.view(at(Step.EXPORT_OPTIONS, DECODER, gpu=True))
    assert "no CUDA GPU" not in gpu.field("device").help


def test_the_slim_check_has_a_matching_option() -> None:
    state = at(Step.EXPORT_OPTIONS, DECODER)
    assert "--slim" in machine.view(state).field("slim").label
    missing = (
        {"name": "onnxslim", "status": "warn", "detail": "not installed; needed for --slim"},
    )
    state = machine.answer(machine.with_facts(state, checks=missing), "slim", True)
    refused = machine.next(state)
    assert refused.step is Step.EXPORT_OPTIONS
    assert "pip install onnxslim" in (machine.view(refused).field("slim").error or "")
    installed = ({"name": "onnxslim", "status": "ok", "detail": "onnxslim 0.1"},)
    assert machine.next(machine.with_facts(state, checks=installed)).step is Step.QUANTIZATION


def test_the_suggested_output_folder_follows_the_model() -> None:
    first = machine.start({"source": "sample:gpt2"})
    assert machine.view(first).field("output").placeholder.endswith("gpt2-onnx (default)")
    other = machine.answer(first, "source", "sample:t5")
    assert machine.view(other).field("output").placeholder.endswith("t5-onnx (default)")


def test_long_work_has_words_for_every_face() -> None:
    assert "environment" in WORK_BUSY["checks"] and "model" in WORK_BUSY["inspect"]


def test_a_run_step_title_is_true_once_the_run_ended() -> None:
    running = machine.next(at(Step.REVIEW, DECODER))
    assert machine.view(running).title == "Exporting"
    cancelled = machine.with_facts(running, run={"status": "cancelled"})
    assert machine.view(cancelled).title == "Export cancelled"


def test_the_summary_counts_every_output_an_entry_names_as_not_validated() -> None:
    from onnx_wizard.validation.report import OutputCheck, ValidationReport

    check = OutputCheck("decoder_model_merged", "logits", 1e-6, 4e-4, True, (1, 2, 3))
    entry = (
        "decoder_model_merged.onnx present.0.encoder.key, present.0.encoder.value, "
        "present.1.encoder.key, present.1.encoder.value (step 2 (with cache)): placeholders"
    )
    report = ValidationReport(True, 1e-4, "why", "inputs", (check,), not_validated=(entry,))
    assert "4 item(s) not validated (listed below)" in report.summary()
    single = ValidationReport(True, 1e-4, "why", "inputs", (check,), not_validated=("a.onnx: x",))
    assert "1 item(s) not validated" in single.summary()
    assert single.summary().startswith("Validation passed: 1 output within its tolerance;")
    assert (
        "2 outputs, each within its tolerance"
        in ValidationReport(True, 1e-4, "why", "inputs", (check, check)).summary()
    )


def test_a_failed_run_reads_as_sentences_without_the_command_line_hint() -> None:
    from onnx_wizard.flow.results import failed_text

    hint = {"detail": "the export failed; rerun with --auto-fix to apply the safe remedies"}
    assert failed_text(hint) == "The export failed."
    reason = {"detail": "still failing after 3 attempts"}
    assert failed_text(reason) == "The export failed. Still failing after 3 attempts."
    running = machine.next(at(Step.REVIEW, DECODER))
    failed = machine.with_facts(running, run={"status": "failed", **hint, "log": "/tmp/a.log"})
    text = machine.view(failed).outcome
    assert text == "The export failed. The log: /tmp/a.log" and "--auto-fix" not in text
