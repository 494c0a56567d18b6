"""Which fallback route the wizard announces, and in which order --auto-fix tries them."""

from __future__ import annotations

from typing import Any

from onnx_wizard.fallback.outlook import describe_outlook, measured, route_order, route_outlook
from onnx_wizard.fallback.routes import AUTO, DYNAMO, FAMILY, LINEAGE, TORCHSCRIPT, choose_routes

DATA: dict[str, Any] = {
    "measured_types": 40,
    "route_success": {
        "vision": {
            TORCHSCRIPT: {"tried": 10, "validated": 9},
            LINEAGE: {"tried": 4, "validated": 1},
            FAMILY: {"tried": 8, "validated": 4},
        },
        "text": {
            LINEAGE: {"tried": 10, "validated": 9},
            TORCHSCRIPT: {"tried": 10, "validated": 2},
        },
    },
    "types": {
        "ijepa": {"route": LINEAGE, "related": "vit", "validated": True, "modality": "vision"},
        "llava": {"route": None, "validated": False, "diagnosis": "placeholders"},
    },
}


def test_routes_are_ordered_by_measured_success_per_modality() -> None:
    assert route_order("vision", DATA) == (TORCHSCRIPT, FAMILY, LINEAGE, DYNAMO)
    assert route_order("text", DATA) == (LINEAGE, TORCHSCRIPT, FAMILY, DYNAMO)
    # No figures: the ladder's default order.
    assert route_order("audio", DATA) == (LINEAGE, FAMILY, TORCHSCRIPT, DYNAMO)


def test_outlook_for_an_unseen_unsupported_type_quotes_the_modality_figures() -> None:
    report = {"model_type": "newvit", "supported": False, "modality": "vision"}
    outlook = route_outlook(report, DATA)
    assert outlook["route"] == TORCHSCRIPT and outlook["this_type"] is None
    assert outlook["measured"] == {"modality": "vision", "validated": 9, "tried": 10, "rate": 0.9}
    text = describe_outlook(outlook)
    assert "newvit" in text and "9 of 10 vision models" in text and "90%" in text


def test_outlook_for_a_measured_type_leads_with_what_worked_on_it() -> None:
    outlook = route_outlook({"model_type": "ijepa", "supported": False, "modality": "vision"}, DATA)
    assert outlook["route"] == LINEAGE and outlook["order"][0] == LINEAGE
    assert "vit" in outlook["label"] and "validated" in outlook["why"]
    unseen = route_outlook({"model_type": "x", "supported": False, "modality": "text"}, DATA)
    assert unseen["route"] == LINEAGE and "?" not in unseen["label"]
    assert "derive from" in unseen["label"]
    failed = route_outlook(
        {"model_type": "llava", "supported": False, "modality": "multimodal"}, DATA
    )
    assert "no route validated" in failed["why"] and "placeholders" in failed["why"]


def test_supported_types_keep_optimum() -> None:
    outlook = route_outlook({"model_type": "bert", "supported": True, "modality": "text"}, DATA)
    assert outlook["route"] == "optimum" and outlook["order"] == ["optimum"]


def test_auto_fix_takes_the_ladder_first_with_the_measured_order() -> None:
    report = {
        "model_type": "newvit",
        "supported": False,
        "task": "image-classification",
        "modality": "vision",
        "closest": [],
    }
    offers = choose_routes(report)
    assert offers[0]["route"] == AUTO
    assert offers[0]["order"] == list(route_order("vision"))
    assert offers[0]["why"].startswith(offers[0]["outlook"]["label"])


def test_committed_benchmark_data_is_shipped_and_consistent() -> None:
    data = measured()
    assert data["measured_types"] == len(data["types"]) > 0
    for figures in data["route_success"].values():
        for tally in figures.values():
            assert 0 <= tally["validated"] <= tally["tried"]


def test_a_graph_that_takes_a_fixed_number_of_images_says_so() -> None:
    from onnx_wizard.fallback.ladder import _fixed_media_notes

    llava_like = {
        "dynamic_axes": {"input_ids": {"0": "batch_size", "1": "sequence_length"}},
        "traced_shapes": {"input_ids": [2, 9], "pixel_values": [1, 3, 30, 30]},
    }
    (note,) = _fixed_media_notes(llava_like)
    assert "pixel_values" in note and "exactly 1 per call" in note
    per_row = {
        "dynamic_axes": {"input_ids": {"0": "b"}, "pixel_values": {"0": "b"}},
        "traced_shapes": {"input_ids": [2, 9], "pixel_values": [2, 3, 30, 30]},
    }
    assert _fixed_media_notes(per_row) == []
