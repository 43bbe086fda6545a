"""M7 insert-model-measure, M8 list-model-measures, M9 delete-model-measure and the
additive edit-model-measure."""

from __future__ import annotations

import httpx
import pytest

TEMPERATURE = {"name": "temperature", "units": "K", "datatype": "float"}
CELSIUS = {"name": "temperature", "units": "C", "datatype": "float"}
RAIN = {"name": "rain?", "units": "", "datatype": "boolean"}


def _measures(admin: httpx.Client) -> list[dict[str, object]]:
    response = admin.get("/model/list-model-measures")
    assert response.status_code == 200
    return list(response.json())


def _insert(admin: httpx.Client, *measures: dict[str, str]) -> None:
    for measure in measures:
        response = admin.post("/model/insert-model-measure", json=measure)
        assert response.status_code == 201, response.text


def _run_using(admin: httpx.Client, measure_name: str, units: str) -> None:
    admin.post("/model/insert-model", json={"name": "M"})
    response = admin.post(
        "/model/insert-model-run",
        json={
            "model_name": "M",
            "scenario_description": "BAU",
            "create_scenario": True,
            "measures_and_values": [
                {
                    "measure_name": measure_name,
                    "units": units,
                    "values": [1.5],
                    "timestamps": ["2030-01-01T00:00:00Z"],
                }
            ],
        },
    )
    assert response.status_code == 201, response.text


def test_insert_and_list_measures_in_insertion_order(admin: httpx.Client) -> None:
    response = admin.post("/model/insert-model-measure", json=TEMPERATURE)
    assert response.status_code == 201
    assert response.json() == {"detail": "Model measure inserted"}
    _insert(admin, RAIN, CELSIUS, {"name": "n", "units": "1", "datatype": "integer"})
    _insert(admin, {"name": "s", "units": "-", "datatype": "string"})

    assert _measures(admin) == [
        TEMPERATURE,
        RAIN,
        CELSIUS,
        {"name": "n", "units": "1", "datatype": "integer"},
        {"name": "s", "units": "-", "datatype": "string"},
    ]


def test_duplicate_measure_is_409(admin: httpx.Client) -> None:
    _insert(admin, TEMPERATURE)

    response = admin.post("/model/insert-model-measure", json={**TEMPERATURE, "datatype": "string"})

    assert response.status_code == 409
    assert response.json() == {"detail": "Model measure exists already"}
    assert _measures(admin) == [TEMPERATURE]


@pytest.mark.parametrize(
    ("body", "error_type", "loc"),
    [
        ({**TEMPERATURE, "units": None}, "string_type", ["body", "units"]),
        ({"name": "t", "datatype": "float"}, "missing", ["body", "units"]),
        ({**TEMPERATURE, "datatype": "double"}, "enum", ["body", "datatype"]),
        ({**TEMPERATURE, "name": None}, "string_type", ["body", "name"]),
    ],
)
def test_insert_measure_rejects_bad_bodies(
    admin: httpx.Client, body: dict[str, object], error_type: str, loc: list[object]
) -> None:
    response = admin.post("/model/insert-model-measure", json=body)

    assert response.status_code == 422
    assert [(e["type"], e["loc"]) for e in response.json()["detail"]] == [(error_type, loc)]
    assert _measures(admin) == []


def test_delete_measure_deletes_every_measure_of_that_name(admin: httpx.Client) -> None:
    _insert(admin, TEMPERATURE, RAIN, CELSIUS)

    response = admin.post("/model/delete-model-measure", json={"name": "temperature"})

    assert response.status_code == 200
    assert response.json() == {"detail": "Model measure deleted"}
    assert _measures(admin) == [RAIN]


def test_delete_measure_with_units_deletes_only_that_one(admin: httpx.Client) -> None:
    _insert(admin, TEMPERATURE, RAIN, CELSIUS)

    response = admin.post("/model/delete-model-measure", json={"name": "temperature", "units": "C"})

    assert response.status_code == 200
    assert _measures(admin) == [TEMPERATURE, RAIN]


@pytest.mark.parametrize(
    "body", [{"name": "nope"}, {"name": "temperature", "units": "F"}, {"name": "K"}]
)
def test_delete_unknown_measure_is_400(admin: httpx.Client, body: dict[str, str]) -> None:
    _insert(admin, TEMPERATURE)

    response = admin.post("/model/delete-model-measure", json=body)

    assert response.status_code == 400
    assert response.json() == {"detail": "No such model measure"}
    assert _measures(admin) == [TEMPERATURE]


def test_delete_measure_used_by_a_run_is_409_naming_the_run(admin: httpx.Client) -> None:
    _insert(admin, TEMPERATURE, CELSIUS)
    _run_using(admin, "temperature", "C")

    response = admin.post("/model/delete-model-measure", json={"name": "temperature"})

    assert response.status_code == 409
    assert response.json() == {
        "detail": "Model measure 'temperature' is used by model runs (1): "
        "delete them first (/model/delete-model-run)"
    }
    assert _measures(admin) == [TEMPERATURE, CELSIUS]
    # The unused one can still go on its own.
    response = admin.post("/model/delete-model-measure", json={"name": "temperature", "units": "K"})
    assert response.status_code == 200
    assert _measures(admin) == [CELSIUS]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"new_name": "temp"}, {**TEMPERATURE, "name": "temp"}),
        ({"new_units": "degK"}, {**TEMPERATURE, "units": "degK"}),
        (
            {"new_name": "temp", "new_units": "degK"},
            {**TEMPERATURE, "name": "temp", "units": "degK"},
        ),
        ({}, TEMPERATURE),
        ({"new_name": None, "new_units": "kelvin"}, {**TEMPERATURE, "units": "kelvin"}),
    ],
)
def test_edit_measure(
    admin: httpx.Client, change: dict[str, object], expected: dict[str, str]
) -> None:
    _insert(admin, TEMPERATURE, RAIN)

    response = admin.post(
        "/model/edit-model-measure", json={"name": "temperature", "units": "K", **change}
    )

    assert response.status_code == 200
    assert response.json() == {"detail": "Model measure edited"}
    assert _measures(admin) == [expected, RAIN]


def test_edit_measure_used_by_a_run_keeps_the_runs_values(admin: httpx.Client) -> None:
    _insert(admin, TEMPERATURE)
    _run_using(admin, "temperature", "K")

    admin.post(
        "/model/edit-model-measure", json={"name": "temperature", "units": "K", "new_name": "T"}
    )

    run = admin.post("/model/get-model-run", json={"run_id": 1}).json()
    assert run == {"T": [{"value": 1.5, "timestamp": "2030-01-01T00:00:00Z"}]}


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        (
            {"name": "temperature", "units": "F", "new_name": "x"},
            400,
            "No such model measure: 'temperature' in 'F'",
        ),
        (
            {"name": "nope", "units": "K", "new_name": "x"},
            400,
            "No such model measure: 'nope' in 'K'",
        ),
        (
            {"name": "temperature", "units": "K", "new_units": "C"},
            409,
            "Model measure exists already",
        ),
    ],
)
def test_edit_measure_errors(
    admin: httpx.Client, body: dict[str, object], status: int, detail: str
) -> None:
    _insert(admin, TEMPERATURE, CELSIUS)

    response = admin.post("/model/edit-model-measure", json=body)

    assert response.status_code == status
    assert response.json() == {"detail": detail}
    assert _measures(admin) == [TEMPERATURE, CELSIUS]


def test_edit_measure_needs_units(admin: httpx.Client) -> None:
    _insert(admin, TEMPERATURE)

    response = admin.post(
        "/model/edit-model-measure", json={"name": "temperature", "new_name": "t"}
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "units"]
    assert _measures(admin) == [TEMPERATURE]
