"""M1 insert-model, M2 list-models, M3 delete-model and the additive edit-model."""

from __future__ import annotations

import httpx
import pytest


def _models(admin: httpx.Client) -> list[dict[str, object]]:
    response = admin.get("/model/list-models")
    assert response.status_code == 200
    return list(response.json())


def test_no_models_at_first(admin: httpx.Client) -> None:
    assert _models(admin) == []


def test_insert_and_list_models_in_insertion_order(admin: httpx.Client) -> None:
    for name in ["Zeta", "Alpha", "Mid"]:
        response = admin.post("/model/insert-model", json={"name": name})
        assert response.status_code == 201
        assert response.json() == {"detail": "Model inserted"}

    assert _models(admin) == [{"name": "Zeta"}, {"name": "Alpha"}, {"name": "Mid"}]


def test_duplicate_model_is_409_and_changes_nothing(admin: httpx.Client) -> None:
    admin.post("/model/insert-model", json={"name": "ARIMA"})

    response = admin.post("/model/insert-model", json={"name": "ARIMA"})

    assert response.status_code == 409
    assert response.json() == {"detail": "Model exists already"}
    assert _models(admin) == [{"name": "ARIMA"}]


@pytest.mark.parametrize(
    ("body", "error_type", "loc"),
    [
        ({}, "missing", ["body", "name"]),
        ({"name": None}, "string_type", ["body", "name"]),
        ({"name": 3}, "string_type", ["body", "name"]),
    ],
)
def test_insert_model_rejects_bad_bodies(
    admin: httpx.Client, body: dict[str, object], error_type: str, loc: list[object]
) -> None:
    response = admin.post("/model/insert-model", json=body)

    assert response.status_code == 422
    assert [(e["type"], e["loc"]) for e in response.json()["detail"]] == [(error_type, loc)]
    assert _models(admin) == []


def test_insert_model_without_body_is_422(admin: httpx.Client) -> None:
    response = admin.post("/model/insert-model")

    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "missing"


def test_delete_model_removes_it_and_its_scenarios(admin: httpx.Client) -> None:
    admin.post("/model/insert-model", json={"name": "A"})
    admin.post("/model/insert-model", json={"name": "B"})
    admin.post("/model/insert-model-scenario", json={"model_name": "A", "description": "BAU"})
    admin.post("/model/insert-model-scenario", json={"model_name": "B", "description": "BAU"})

    response = admin.post("/model/delete-model", json={"name": "A"})

    assert response.status_code == 200
    assert response.json() == {"detail": "Model deleted"}
    assert _models(admin) == [{"name": "B"}]
    assert admin.get("/model/list-model-scenarios").json() == [
        {"model_name": "B", "description": "BAU"}
    ]


def test_delete_unknown_model_is_400(admin: httpx.Client) -> None:
    admin.post("/model/insert-model", json={"name": "A"})

    response = admin.post("/model/delete-model", json={"name": "nope"})

    assert response.status_code == 400
    assert response.json() == {"detail": "No such model"}
    assert _models(admin) == [{"name": "A"}]


def test_delete_model_with_runs_is_409_naming_them(admin: httpx.Client) -> None:
    admin.post("/model/insert-model", json={"name": "A"})
    admin.post("/model/insert-model-measure", json={"name": "t", "units": "K", "datatype": "float"})
    run = {
        "model_name": "A",
        "scenario_description": "BAU",
        "create_scenario": True,
        "measures_and_values": [
            {"measure_name": "t", "values": [1.5], "timestamps": ["2030-01-01T00:00:00Z"]}
        ],
    }
    assert admin.post("/model/insert-model-run", json=run).status_code == 201

    response = admin.post("/model/delete-model", json={"name": "A"})

    assert response.status_code == 409
    assert "1 model run" in response.json()["detail"]
    assert _models(admin) == [{"name": "A"}]
    assert admin.get("/model/list-model-scenarios").json() == [
        {"model_name": "A", "description": "BAU"}
    ]
    assert len(admin.post("/model/list-model-runs", json={"model_name": "A"}).json()) == 1


def test_edit_model_renames_it_and_keeps_its_scenarios(admin: httpx.Client) -> None:
    admin.post("/model/insert-model", json={"name": "A"})
    admin.post("/model/insert-model-scenario", json={"model_name": "A", "description": "BAU"})

    response = admin.post("/model/edit-model", json={"name": "A", "new_name": "B"})

    assert response.status_code == 200
    assert response.json() == {"detail": "Model edited"}
    assert _models(admin) == [{"name": "B"}]
    assert admin.get("/model/list-model-scenarios").json() == [
        {"model_name": "B", "description": "BAU"}
    ]


def test_edit_unknown_model_is_400(admin: httpx.Client) -> None:
    response = admin.post("/model/edit-model", json={"name": "A", "new_name": "B"})

    assert response.status_code == 400
    assert response.json() == {"detail": "No such model"}
    assert _models(admin) == []


def test_edit_model_to_a_taken_name_is_409(admin: httpx.Client) -> None:
    admin.post("/model/insert-model", json={"name": "A"})
    admin.post("/model/insert-model", json={"name": "B"})

    response = admin.post("/model/edit-model", json={"name": "A", "new_name": "B"})

    assert response.status_code == 409
    assert response.json() == {"detail": "Model exists already"}
    assert _models(admin) == [{"name": "A"}, {"name": "B"}]


def test_edit_model_needs_new_name(admin: httpx.Client) -> None:
    admin.post("/model/insert-model", json={"name": "A"})

    response = admin.post("/model/edit-model", json={"name": "A"})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "new_name"]
    assert _models(admin) == [{"name": "A"}]


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        ("/model/insert-model", {"name": "x" * 101}, ["body", "name"]),
        ("/model/insert-model", {"name": "a\u0000b"}, ["body", "name"]),
        ("/model/edit-model", {"name": "A", "new_name": "x" * 101}, ["body", "new_name"]),
        ("/model/delete-model", {"name": "A\u0000"}, ["body", "name"]),
    ],
)
def test_names_postgresql_cannot_store_are_422(
    admin: httpx.Client, path: str, body: dict[str, object], loc: list[object]
) -> None:
    admin.post("/model/insert-model", json={"name": "A"})

    response = admin.post(path, json=body)

    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [loc]
    assert _models(admin) == [{"name": "A"}]


def test_a_name_of_100_characters_is_fine(admin: httpx.Client) -> None:
    assert admin.post("/model/insert-model", json={"name": "x" * 100}).status_code == 201
    assert _models(admin) == [{"name": "x" * 100}]
