"""M4 insert-model-scenario, M5 list-model-scenarios, M6 delete-model-scenario and the
additive edit-model-scenario."""

from __future__ import annotations

import httpx
import pytest


def _scenarios(admin: httpx.Client) -> list[dict[str, object]]:
    response = admin.get("/model/list-model-scenarios")
    assert response.status_code == 200
    return list(response.json())


@pytest.fixture
def models(admin: httpx.Client) -> httpx.Client:
    for name in ["A", "B"]:
        assert admin.post("/model/insert-model", json={"name": name}).status_code == 201
    return admin


def _insert(admin: httpx.Client, model_name: str, description: str | None) -> httpx.Response:
    return admin.post(
        "/model/insert-model-scenario", json={"model_name": model_name, "description": description}
    )


def _run(admin: httpx.Client, model_name: str, scenario: str) -> None:
    admin.post("/model/insert-model-measure", json={"name": "t", "units": "K", "datatype": "float"})
    response = admin.post(
        "/model/insert-model-run",
        json={
            "model_name": model_name,
            "scenario_description": scenario,
            "measures_and_values": [
                {"measure_name": "t", "values": [1.0], "timestamps": ["2030-01-01T00:00:00Z"]}
            ],
        },
    )
    assert response.status_code == 201, response.text


def test_insert_and_list_scenarios_in_insertion_order(models: httpx.Client) -> None:
    for model_name, description in [("B", "BAU"), ("A", "BAU"), ("A", None), ("A", "Hot")]:
        response = _insert(models, model_name, description)
        assert response.status_code == 201
        assert response.json() == {"detail": "Model scenario inserted"}

    assert _scenarios(models) == [
        {"model_name": "B", "description": "BAU"},
        {"model_name": "A", "description": "BAU"},
        {"model_name": "A", "description": None},
        {"model_name": "A", "description": "Hot"},
    ]


@pytest.mark.parametrize("description", ["BAU", None])
def test_duplicate_scenario_is_409_null_included(
    models: httpx.Client, description: str | None
) -> None:
    _insert(models, "A", description)

    response = _insert(models, "A", description)

    assert response.status_code == 409
    assert response.json() == {"detail": "Scenario exists already"}
    assert _scenarios(models) == [{"model_name": "A", "description": description}]


def test_scenario_of_unknown_model_is_400(models: httpx.Client) -> None:
    response = _insert(models, "nope", "BAU")

    assert response.status_code == 400
    assert response.json() == {"detail": "No such model"}
    assert _scenarios(models) == []


def test_description_is_required_but_nullable(models: httpx.Client) -> None:
    response = models.post("/model/insert-model-scenario", json={"model_name": "A"})

    assert response.status_code == 422
    assert [(e["type"], e["loc"]) for e in response.json()["detail"]] == [
        ("missing", ["body", "description"])
    ]
    assert _scenarios(models) == []


@pytest.mark.parametrize("description", ["BAU", None])
def test_delete_scenario(models: httpx.Client, description: str | None) -> None:
    _insert(models, "A", "BAU")
    _insert(models, "A", None)
    _insert(models, "B", description)

    response = models.post(
        "/model/delete-model-scenario", json={"model_name": "A", "description": description}
    )

    assert response.status_code == 200
    assert response.json() == {"detail": "Model scenario deleted"}
    remaining = [{"model_name": "A", "description": d} for d in ["BAU", None] if d != description]
    assert _scenarios(models) == [*remaining, {"model_name": "B", "description": description}]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"model_name": "nope", "description": "BAU"}, "No such model"),
        ({"model_name": "A", "description": "Other"}, "No such model scenario"),
        ({"model_name": "A", "description": None}, "No such model scenario"),
        ({"model_name": "B", "description": "BAU"}, "No such model scenario"),
    ],
)
def test_delete_unknown_scenario_is_400(
    models: httpx.Client, body: dict[str, object], detail: str
) -> None:
    _insert(models, "A", "BAU")

    response = models.post("/model/delete-model-scenario", json=body)

    assert response.status_code == 400
    assert response.json() == {"detail": detail}
    assert _scenarios(models) == [{"model_name": "A", "description": "BAU"}]


def test_delete_scenario_used_by_runs_is_409(models: httpx.Client) -> None:
    _insert(models, "A", "BAU")
    _run(models, "A", "BAU")

    response = models.post(
        "/model/delete-model-scenario", json={"model_name": "A", "description": "BAU"}
    )

    assert response.status_code == 409
    assert "used by 1 model run" in response.json()["detail"]
    assert _scenarios(models) == [{"model_name": "A", "description": "BAU"}]


def test_delete_scenario_needs_description_key(models: httpx.Client) -> None:
    _insert(models, "A", None)

    response = models.post("/model/delete-model-scenario", json={"model_name": "A"})

    assert response.status_code == 422
    assert _scenarios(models) == [{"model_name": "A", "description": None}]


@pytest.mark.parametrize(("old", "new"), [("BAU", "Hot"), (None, "Hot"), ("BAU", None)])
def test_edit_scenario(models: httpx.Client, old: str | None, new: str | None) -> None:
    _insert(models, "A", old)
    _insert(models, "B", old)

    response = models.post(
        "/model/edit-model-scenario",
        json={"model_name": "A", "description": old, "new_description": new},
    )

    assert response.status_code == 200
    assert response.json() == {"detail": "Model scenario edited"}
    assert _scenarios(models) == [
        {"model_name": "A", "description": new},
        {"model_name": "B", "description": old},
    ]


def test_edit_scenario_keeps_its_runs(models: httpx.Client) -> None:
    _insert(models, "A", "BAU")
    _run(models, "A", "BAU")

    models.post(
        "/model/edit-model-scenario",
        json={"model_name": "A", "description": "BAU", "new_description": "Usual"},
    )

    runs = models.post("/model/list-model-runs", json={"model_name": "A"}).json()
    assert [run["scenario_description"] for run in runs] == ["Usual"]


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        (
            {"model_name": "nope", "description": "BAU", "new_description": "X"},
            400,
            "No such model",
        ),
        (
            {"model_name": "A", "description": "X", "new_description": "Y"},
            400,
            "No such model scenario",
        ),
        (
            {"model_name": "A", "description": "BAU", "new_description": None},
            409,
            "Scenario exists already",
        ),
    ],
)
def test_edit_scenario_errors(
    models: httpx.Client, body: dict[str, object], status: int, detail: str
) -> None:
    _insert(models, "A", "BAU")
    _insert(models, "A", None)

    response = models.post("/model/edit-model-scenario", json=body)

    assert response.status_code == status
    assert response.json() == {"detail": detail}
    assert _scenarios(models) == [
        {"model_name": "A", "description": "BAU"},
        {"model_name": "A", "description": None},
    ]


def test_edit_scenario_needs_new_description_key(models: httpx.Client) -> None:
    _insert(models, "A", "BAU")

    response = models.post(
        "/model/edit-model-scenario", json={"model_name": "A", "description": "BAU"}
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "new_description"]
    assert _scenarios(models) == [{"model_name": "A", "description": "BAU"}]
