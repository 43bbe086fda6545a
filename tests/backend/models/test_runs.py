"""M10 insert-model-run, M11 list-model-runs, M12 get-model-run,
M13 get-model-run-sensor-measure and the additive delete-model-run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.utils.models import SENSOR_MEASURE, T0, T1, T2, a_run, setup_models

WIDE = {"dt_from": "2000-01-01T00:00:00Z", "dt_to": "2100-01-01T00:00:00Z"}


@pytest.fixture
def world(admin: httpx.Client) -> httpx.Client:
    setup_models(admin)
    return admin


def _runs(admin: httpx.Client, model_name: str = "M1", **filters: Any) -> list[dict[str, Any]]:
    response = admin.post("/model/list-model-runs", json={"model_name": model_name, **filters})
    assert response.status_code == 200, response.text
    return list(response.json())


def _snapshot(admin: httpx.Client) -> dict[str, Any]:
    """Everything a model run could have changed."""
    return {
        "models": admin.get("/model/list-models").json(),
        "scenarios": admin.get("/model/list-model-scenarios").json(),
        "measures": admin.get("/model/list-model-measures").json(),
        "runs": [_runs(admin, name, **WIDE) for name in ["M1", "M2"]],
        "values": [
            admin.post("/model/get-model-run", json={"run_id": run_id}).json()
            for run_id in range(1, 4)
        ],
    }


def _insert(admin: httpx.Client, body: dict[str, Any]) -> None:
    response = admin.post("/model/insert-model-run", json=body)
    assert response.status_code == 201, response.text


def _run_item(run_id: int, time_created: str, **changes: Any) -> dict[str, Any]:
    return {
        "id": run_id,
        "model_id": 1,
        "model_name": "M1",
        "scenario_id": 1,
        "scenario_description": "BAU",
        "time_created": time_created,
        "sensor_unique_id": None,
        "sensor_measure": None,
        **changes,
    }


# --- M10 insert-model-run -----------------------------------------------------------------


def test_insert_run_with_every_datatype_and_read_it_back(world: httpx.Client) -> None:
    body = a_run(
        time_created="2024-01-01T12:00:00.123456Z",
        sensor_unique_id="S1",
        sensor_measure=SENSOR_MEASURE,
        measures_and_values=[
            {"measure_name": "mean temp", "values": [1.5, 3, -0.25], "timestamps": [T0, T1, T2]},
            {"measure_name": "rain?", "values": [True, False], "timestamps": [T0, T1]},
            {"measure_name": "count", "values": [3, -7], "timestamps": [T0, T1]},
            {"measure_name": "label", "values": ["a", ""], "timestamps": [T0, T1]},
        ],
    )

    response = world.post("/model/insert-model-run", json=body)

    assert response.status_code == 201
    assert response.json() == {"detail": "Model run inserted"}
    assert _runs(world, **WIDE) == [
        _run_item(
            1,
            "2024-01-01T12:00:00.123456Z",
            sensor_unique_id="S1",
            sensor_measure=SENSOR_MEASURE,
        )
    ]
    values = world.post("/model/get-model-run", json={"run_id": 1})
    assert values.status_code == 200
    assert values.json() == {
        "mean temp": [
            {"value": 1.5, "timestamp": T0},
            {"value": 3.0, "timestamp": T1},
            {"value": -0.25, "timestamp": T2},
        ],
        "rain?": [{"value": True, "timestamp": T0}, {"value": False, "timestamp": T1}],
        "count": [{"value": 3, "timestamp": T0}, {"value": -7, "timestamp": T1}],
        "label": [{"value": "a", "timestamp": T0}, {"value": "", "timestamp": T1}],
    }
    # `3` into a float measure is stored and returned as a float; integers stay integers.
    assert '{"value":3.0,' in values.text
    assert '{"value":3,' in values.text


def test_points_come_back_in_timestamp_order_and_repeats_are_skipped(
    world: httpx.Client,
) -> None:
    entry = {"measure_name": "count", "values": [2, 0, 1, 9], "timestamps": [T2, T0, T1, T0]}
    _insert(world, a_run(measures_and_values=[entry]))

    assert world.post("/model/get-model-run", json={"run_id": 1}).json() == {
        "count": [
            {"value": 0, "timestamp": T0},
            {"value": 1, "timestamp": T1},
            {"value": 2, "timestamp": T2},
        ]
    }


def test_timestamps_in_other_formats_are_read_as_utc(world: httpx.Client) -> None:
    entry = {
        "measure_name": "count",
        "values": [1, 2, 3],
        "timestamps": ["2030-01-01 03:00:00+03:00", "2030-01-01T01:00:00", 1893463200],
    }
    _insert(world, a_run(time_created="2024-01-01T12:00:00", measures_and_values=[entry]))

    assert _runs(world, **WIDE)[0]["time_created"] == "2024-01-01T12:00:00Z"
    assert world.post("/model/get-model-run", json={"run_id": 1}).json() == {
        "count": [
            {"value": 1, "timestamp": T0},
            {"value": 2, "timestamp": T1},
            {"value": 3, "timestamp": T2},
        ]
    }


def test_time_created_defaults_to_now(world: httpx.Client) -> None:
    before = datetime.now(UTC)
    body = a_run()
    del body["time_created"]

    _insert(world, body)

    [run] = _runs(world)
    created = datetime.fromisoformat(run["time_created"])
    assert before - timedelta(seconds=1) <= created <= datetime.now(UTC)


def test_create_scenario_creates_a_missing_scenario(world: httpx.Client) -> None:
    _insert(world, a_run(model_name="M2", scenario_description="Hot", create_scenario=True))
    _insert(world, a_run(create_scenario=True))  # An existing scenario is used as it is.

    assert world.get("/model/list-model-scenarios").json() == [
        {"model_name": "M1", "description": "BAU"},
        {"model_name": "M2", "description": "Hot"},
    ]
    assert _runs(world, "M2", **WIDE) == [
        _run_item(
            1,
            "2024-01-01T12:00:00Z",
            model_id=2,
            model_name="M2",
            scenario_id=2,
            scenario_description="Hot",
        )
    ]
    assert [run["scenario_id"] for run in _runs(world, **WIDE)] == [1]


def test_a_run_without_outputs_is_fine(world: httpx.Client) -> None:
    _insert(world, a_run(measures_and_values=[]))

    assert len(_runs(world, **WIDE)) == 1
    assert world.post("/model/get-model-run", json={"run_id": 1}).json() == {}


def test_sensor_measure_without_units(world: httpx.Client) -> None:
    humidity = {"name": "humidity", "units": None}
    _insert(world, a_run(sensor_measure=humidity))

    assert _runs(world, **WIDE)[0]["sensor_measure"] == humidity


def test_units_pick_a_measure_that_shares_its_name(world: httpx.Client) -> None:
    world.post(
        "/model/insert-model-measure", json={"name": "mean temp", "units": "C", "datatype": "float"}
    )
    entry = {"measure_name": "mean temp", "units": "C", "values": [1.5], "timestamps": [T0]}

    _insert(world, a_run(measures_and_values=[entry]))

    assert world.post("/model/get-model-run", json={"run_id": 1}).json() == {
        "mean temp": [{"value": 1.5, "timestamp": T0}]
    }
    # The product is the one in C: the one in K can go, the one in C cannot.
    delete_k = {"name": "mean temp", "units": "K"}
    assert world.post("/model/delete-model-measure", json=delete_k).status_code == 200
    delete_c = {"name": "mean temp", "units": "C"}
    assert world.post("/model/delete-model-measure", json=delete_c).status_code == 409


NO_SUCH: list[tuple[dict[str, Any], str]] = [
    (a_run(model_name="nope"), "No such model"),
    (
        a_run(scenario_description="Hot"),
        "No such model scenario (set create_scenario to true to create it)",
    ),
    (
        a_run(model_name="M2", scenario_description="BAU", create_scenario=False),
        "No such model scenario (set create_scenario to true to create it)",
    ),
    (a_run(sensor_unique_id="S2"), "No such sensor"),
    (a_run(sensor_measure={"name": "temperature", "units": "C"}), "No such sensor measure"),
    (a_run(sensor_measure={"name": "temperature", "units": None}), "No such sensor measure"),
    (a_run(sensor_measure={"name": "humidity", "units": ""}), "No such sensor measure"),
    (
        a_run(
            measures_and_values=[
                {"measure_name": "mean temp", "values": [1.0], "timestamps": [T0]},
                {"measure_name": "max temp", "values": [1.0], "timestamps": [T0]},
            ]
        ),
        "No such model measure: 'max temp'",
    ),
    (
        a_run(
            measures_and_values=[
                {"measure_name": "mean temp", "units": "C", "values": [1.0], "timestamps": [T0]}
            ]
        ),
        "No such model measure: 'mean temp' in 'C'",
    ),
]


@pytest.mark.parametrize(("body", "detail"), NO_SUCH)
def test_unknown_references_are_400_and_change_nothing(
    world: httpx.Client, body: dict[str, Any], detail: str
) -> None:
    before = _snapshot(world)

    response = world.post("/model/insert-model-run", json={**body, "create_scenario": False})

    assert response.status_code == 400
    assert response.json() == {"detail": detail}
    assert _snapshot(world) == before


def test_unknown_references_with_create_scenario_create_nothing(world: httpx.Client) -> None:
    before = _snapshot(world)

    response = world.post(
        "/model/insert-model-run",
        json=a_run(scenario_description="Hot", create_scenario=True, sensor_unique_id="S2"),
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "No such sensor"}
    assert _snapshot(world) == before


def test_a_shared_measure_name_without_units_is_400_naming_the_choices(
    world: httpx.Client,
) -> None:
    world.post(
        "/model/insert-model-measure", json={"name": "mean temp", "units": "C", "datatype": "float"}
    )
    before = _snapshot(world)

    response = world.post("/model/insert-model-run", json=a_run())

    assert response.status_code == 400
    assert response.json() == {
        "detail": "Several model measures are called 'mean temp': give `units`, one of 'K', 'C'"
    }
    assert _snapshot(world) == before


def test_same_run_twice_is_409(world: httpx.Client) -> None:
    _insert(world, a_run())
    before = _snapshot(world)

    response = world.post(
        "/model/insert-model-run", json=a_run(measures_and_values=[], create_scenario=True)
    )

    assert response.status_code == 409
    assert response.json() == {
        "detail": "Model run exists already "
        "(same model, scenario, time_created, sensor and measure)"
    }
    assert _snapshot(world) == before


def test_runs_of_one_time_for_different_sensors_or_measures_are_all_stored(
    world: httpx.Client,
) -> None:
    """One call forecasting several sensors writes its runs at one time: none may clash."""
    response = world.post(
        "/sensor/insert-sensor", json={"type_name": "weather", "unique_identifier": "S2"}
    )
    assert response.status_code == 201, response.text
    humidity = {"name": "humidity", "units": None}
    links = [("S1", SENSOR_MEASURE), ("S2", SENSOR_MEASURE), ("S1", humidity)]
    for index, (sensor, measure) in enumerate(links):
        values = [{"measure_name": "mean temp", "values": [index], "timestamps": [T0]}]
        _insert(
            world,
            a_run(sensor_unique_id=sensor, sensor_measure=measure, measures_and_values=values),
        )

    runs = _runs(world, **WIDE)
    assert [(run["sensor_unique_id"], run["sensor_measure"]) for run in runs] == links
    for index, run in enumerate(runs):
        stored = world.post("/model/get-model-run", json={"run_id": run["id"]}).json()
        assert [point["value"] for point in stored["mean temp"]] == [index]


def test_the_same_sensor_run_twice_is_409(world: httpx.Client) -> None:
    linked = a_run(sensor_unique_id="S1", sensor_measure=SENSOR_MEASURE)
    _insert(world, linked)
    _insert(world, a_run())  # no sensor link: another run
    before = _snapshot(world)

    response = world.post("/model/insert-model-run", json=linked)

    assert response.status_code == 409
    assert _snapshot(world) == before


def test_same_time_in_another_scenario_or_model_is_fine(world: httpx.Client) -> None:
    _insert(world, a_run())
    _insert(world, a_run(scenario_description="Hot", create_scenario=True))
    _insert(world, a_run(model_name="M2", create_scenario=True))

    assert [run["scenario_description"] for run in _runs(world, **WIDE)] == ["BAU", "Hot"]
    assert len(_runs(world, "M2", **WIDE)) == 1


TYPE_ERRORS: list[tuple[str, list[Any], int, str]] = [
    ("mean temp", [1.5, "2.5"], 1, "float_type"),
    ("mean temp", [True], 0, "float_type"),
    ("rain?", [True, 1], 1, "bool_type"),
    ("rain?", ["true"], 0, "bool_type"),
    ("count", [1, 2.0], 1, "int_type"),
    ("count", [1, 2, True], 2, "int_type"),
    ("label", ["a", 3], 1, "string_type"),
    ("label", [False], 0, "string_type"),
]


@pytest.mark.parametrize(("measure", "values", "index", "error_type"), TYPE_ERRORS)
def test_every_value_is_checked_against_its_measure(
    world: httpx.Client, measure: str, values: list[Any], index: int, error_type: str
) -> None:
    timestamps = [f"2030-01-01T0{i}:00:00Z" for i in range(len(values))]
    other = "label" if measure == "mean temp" else "mean temp"
    good = {"label": "fine", "mean temp": 1.0}[other]
    body = a_run(
        measures_and_values=[
            {"measure_name": other, "values": [good], "timestamps": [T0]},
            {"measure_name": measure, "values": values, "timestamps": timestamps},
        ]
    )
    before = _snapshot(world)

    response = world.post("/model/insert-model-run", json=body)

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["type"] == error_type
    assert error["loc"] == ["body", "measures_and_values", 1, "values", index]
    assert error["input"] == values[index]
    assert measure in error["msg"]
    assert _snapshot(world) == before


@pytest.mark.parametrize(
    ("entry", "error_type", "loc"),
    [
        (
            {"measure_name": "count", "values": [], "timestamps": []},
            "too_short",
            ["body", "measures_and_values", 1, "values"],
        ),
        (
            {"measure_name": "count", "values": [1, 2], "timestamps": [T0]},
            "value_error",
            ["body", "measures_and_values", 1],
        ),
        (
            {"measure_name": "count", "values": [1], "timestamps": [T0, T1]},
            "value_error",
            ["body", "measures_and_values", 1],
        ),
        (
            {"measure_name": "count", "values": [1], "timestamps": ["yesterday"]},
            "datetime_from_date_parsing",
            ["body", "measures_and_values", 1, "timestamps", 0],
        ),
        (
            {"measure_name": "count", "values": [[1]], "timestamps": [T0]},
            None,
            ["body", "measures_and_values", 1, "values", 0],
        ),
        (
            {"values": [1], "timestamps": [T0]},
            "missing",
            ["body", "measures_and_values", 1, "measure_name"],
        ),
    ],
)
def test_malformed_entries_are_422_naming_the_entry(
    world: httpx.Client, entry: dict[str, Any], error_type: str | None, loc: list[Any]
) -> None:
    first = {"measure_name": "mean temp", "values": [1.0], "timestamps": [T0]}
    before = _snapshot(world)

    response = world.post("/model/insert-model-run", json=a_run(measures_and_values=[first, entry]))

    assert response.status_code == 422
    errors = response.json()["detail"]
    assert all(error["loc"][: len(loc)] == loc for error in errors), errors
    if error_type is not None:
        assert [error["type"] for error in errors] == [error_type]
    assert _snapshot(world) == before


def test_unequal_lengths_message_gives_both_lengths(world: httpx.Client) -> None:
    entry = {"measure_name": "count", "values": [1, 2, 3], "timestamps": [T0, T1]}

    response = world.post("/model/insert-model-run", json=a_run(measures_and_values=[entry]))

    [error] = response.json()["detail"]
    assert "different lengths (3 and 2)" in error["msg"]


def test_two_outputs_of_one_measure_name_are_422(world: httpx.Client) -> None:
    world.post(
        "/model/insert-model-measure", json={"name": "mean temp", "units": "C", "datatype": "float"}
    )
    entries = [
        {"measure_name": "mean temp", "units": "K", "values": [1.0], "timestamps": [T0]},
        {"measure_name": "mean temp", "units": "C", "values": [2.0], "timestamps": [T0]},
    ]
    before = _snapshot(world)

    response = world.post("/model/insert-model-run", json=a_run(measures_and_values=entries))

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "measures_and_values", 1, "measure_name"]
    assert _snapshot(world) == before


@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        ({"scenario_description": None}, ["body", "scenario_description"]),
        ({"model_name": None}, ["body", "model_name"]),
        ({"measures_and_values": None}, ["body", "measures_and_values"]),
        ({"time_created": "yesterday"}, ["body", "time_created"]),
        ({"create_scenario": "perhaps"}, ["body", "create_scenario"]),
        ({"sensor_measure": {"name": "temperature"}}, ["body", "sensor_measure", "units"]),
    ],
)
def test_malformed_runs_are_422(
    world: httpx.Client, changes: dict[str, Any], loc: list[Any]
) -> None:
    before = _snapshot(world)

    response = world.post("/model/insert-model-run", json=a_run(**changes))

    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [loc]
    assert _snapshot(world) == before


def test_missing_required_fields_are_422(world: httpx.Client) -> None:
    response = world.post("/model/insert-model-run", json={"model_name": "M1"})

    assert response.status_code == 422
    assert {tuple(error["loc"]) for error in response.json()["detail"]} == {
        ("body", "scenario_description"),
        ("body", "measures_and_values"),
    }


# --- M11 list-model-runs ------------------------------------------------------------------


def test_list_runs_defaults_to_the_last_seven_days(world: httpx.Client) -> None:
    now = datetime.now(UTC)
    for age in [timedelta(days=8), timedelta(days=6), timedelta(hours=-1)]:
        _insert(world, a_run(time_created=(now - age).isoformat()))
    body = a_run()
    del body["time_created"]
    _insert(world, body)

    runs = _runs(world)

    assert [run["id"] for run in runs] == [2, 4]
    six_days_ago = (now - timedelta(days=6)).isoformat().replace("+00:00", "Z")
    assert runs[0]["time_created"] == six_days_ago


def test_list_runs_window_is_inclusive_and_ordered_by_time(world: httpx.Client) -> None:
    for time in ["2024-01-03T00:00:00Z", "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"]:
        _insert(world, a_run(time_created=time))
    _insert(
        world,
        a_run(
            time_created="2024-01-02T00:00:00Z", scenario_description="Hot", create_scenario=True
        ),
    )

    runs = _runs(world, dt_from="2024-01-01T00:00:00Z", dt_to="2024-01-02T00:00:00Z")

    assert runs == [
        _run_item(2, "2024-01-01T00:00:00Z"),
        _run_item(3, "2024-01-02T00:00:00Z"),
        _run_item(4, "2024-01-02T00:00:00Z", scenario_id=2, scenario_description="Hot"),
    ]
    assert [run["id"] for run in _runs(world, **WIDE)] == [2, 3, 4, 1]


def test_list_runs_with_one_bound(world: httpx.Client) -> None:
    now = datetime.now(UTC)
    for age in [timedelta(days=30), timedelta(days=8), timedelta(days=1)]:
        _insert(world, a_run(time_created=(now - age).isoformat()))

    since = (now - timedelta(days=10)).isoformat()
    assert [run["id"] for run in _runs(world, dt_from=since)] == [2, 3]
    until = (now - timedelta(days=2)).isoformat()
    assert [run["id"] for run in _runs(world, dt_to=until)] == []
    assert [run["id"] for run in _runs(world, dt_from=None, dt_to=None)] == [3]


def test_list_runs_filters_on_scenario(world: httpx.Client) -> None:
    _insert(world, a_run(time_created="2024-01-01T00:00:00Z"))
    _insert(
        world,
        a_run(
            time_created="2024-01-02T00:00:00Z", scenario_description="Hot", create_scenario=True
        ),
    )

    assert [run["id"] for run in _runs(world, scenario="Hot", **WIDE)] == [2]
    assert [run["id"] for run in _runs(world, scenario="BAU", **WIDE)] == [1]
    assert _runs(world, scenario="Cold", **WIDE) == []
    assert [run["id"] for run in _runs(world, scenario=None, **WIDE)] == [1, 2]


def test_list_runs_of_unknown_or_other_model_is_empty(world: httpx.Client) -> None:
    _insert(world, a_run())

    assert _runs(world, "nope", **WIDE) == []
    assert _runs(world, "M2", **WIDE) == []


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({}, ["body", "model_name"]),
        ({"model_name": "M1", "dt_from": "yesterday"}, ["body", "dt_from"]),
        ({"model_name": "M1", "dt_to": "tomorrow"}, ["body", "dt_to"]),
    ],
)
def test_list_runs_rejects_bad_bodies(
    world: httpx.Client, body: dict[str, Any], loc: list[Any]
) -> None:
    response = world.post("/model/list-model-runs", json=body)

    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [loc]


# --- M12 get-model-run and M13 get-model-run-sensor-measure --------------------------------


@pytest.mark.parametrize("run_id", [1, "1"])
def test_get_model_run_accepts_a_numeric_string(world: httpx.Client, run_id: object) -> None:
    _insert(world, a_run())

    response = world.post("/model/get-model-run", json={"run_id": run_id})

    assert response.status_code == 200
    assert response.json() == {
        "mean temp": [{"value": 1.5, "timestamp": T0}, {"value": 2.5, "timestamp": T1}]
    }


def test_get_unknown_model_run_is_an_empty_object(world: httpx.Client) -> None:
    response = world.post("/model/get-model-run", json={"run_id": 99})

    assert response.status_code == 200
    assert response.json() == {}


@pytest.mark.parametrize(
    "path",
    ["/model/get-model-run", "/model/get-model-run-sensor-measure", "/model/delete-model-run"],
)
@pytest.mark.parametrize("body", [{}, {"run_id": "one"}, {"run_id": None}])
def test_run_id_must_be_an_integer(world: httpx.Client, path: str, body: dict[str, Any]) -> None:
    response = world.post(path, json=body)

    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["body", "run_id"]]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, {"sensor_unique_id": None, "sensor_measure": None}),
        ({"sensor_unique_id": "S1"}, {"sensor_unique_id": "S1", "sensor_measure": None}),
        (
            {"sensor_unique_id": "S1", "sensor_measure": SENSOR_MEASURE},
            {"sensor_unique_id": "S1", "sensor_measure": SENSOR_MEASURE},
        ),
        (
            {"sensor_measure": {"name": "humidity", "units": None}},
            {"sensor_unique_id": None, "sensor_measure": {"name": "humidity", "units": None}},
        ),
    ],
)
def test_get_model_run_sensor_measure(
    world: httpx.Client, changes: dict[str, Any], expected: dict[str, Any]
) -> None:
    _insert(world, a_run(**changes))

    response = world.post("/model/get-model-run-sensor-measure", json={"run_id": 1})

    assert response.status_code == 200
    assert response.json() == expected


def test_get_sensor_measure_of_unknown_run_is_400(world: httpx.Client) -> None:
    response = world.post("/model/get-model-run-sensor-measure", json={"run_id": 1})

    assert response.status_code == 400
    assert response.json() == {"detail": "No such model run"}


# --- delete-model-run (additive) ----------------------------------------------------------


def test_delete_model_run_removes_its_outputs(world: httpx.Client) -> None:
    _insert(world, a_run(time_created="2024-01-01T00:00:00Z"))
    _insert(world, a_run(time_created="2024-01-02T00:00:00Z"))

    response = world.post("/model/delete-model-run", json={"run_id": 1})

    assert response.status_code == 200
    assert response.json() == {"detail": "Model run deleted"}
    assert [run["id"] for run in _runs(world, **WIDE)] == [2]
    assert world.post("/model/get-model-run", json={"run_id": 1}).json() == {}
    assert world.post("/model/get-model-run", json={"run_id": 2}).json() != {}
    # With both runs gone, nothing blocks the measure, the scenario or the model.
    assert world.post("/model/delete-model-run", json={"run_id": "2"}).status_code == 200
    assert world.post("/model/delete-model-measure", json={"name": "mean temp"}).status_code == 200
    assert world.post("/model/delete-model", json={"name": "M1"}).status_code == 200


def test_delete_unknown_model_run_is_400(world: httpx.Client) -> None:
    _insert(world, a_run())
    before = _snapshot(world)

    response = world.post("/model/delete-model-run", json={"run_id": 2})

    assert response.status_code == 400
    assert response.json() == {"detail": "No such model run"}
    assert _snapshot(world) == before


# --- Values and ids PostgreSQL could not take: 4xx, never 500 -----------------------------


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        ("/model/get-model-run", 200, {}),
        ("/model/get-model-run-sensor-measure", 400, {"detail": "No such model run"}),
        ("/model/delete-model-run", 400, {"detail": "No such model run"}),
    ],
)
@pytest.mark.parametrize("run_id", [2**31, -(2**31) - 1, 2**70])
def test_run_ids_out_of_range_name_no_run(
    world: httpx.Client, path: str, status: int, body: dict[str, Any], run_id: int
) -> None:
    response = world.post(path, json={"run_id": run_id})

    assert (response.status_code, response.json()) == (status, body)


def test_integers_must_fit_in_64_bits(world: httpx.Client) -> None:
    biggest = {"measure_name": "count", "values": [2**63 - 1, -(2**63)], "timestamps": [T0, T1]}
    _insert(world, a_run(measures_and_values=[biggest]))
    before = _snapshot(world)
    too_big = {"measure_name": "count", "values": [1, 2**63], "timestamps": [T0, T1]}

    response = world.post(
        "/model/insert-model-run",
        json=a_run(time_created="2024-01-02T00:00:00Z", measures_and_values=[too_big]),
    )

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "measures_and_values", 0, "values", 1]
    assert _snapshot(world) == before
    assert before["values"][0]["count"][0]["value"] == 2**63 - 1


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_floats_must_be_finite(world: httpx.Client, token: str) -> None:
    before = _snapshot(world)
    body = (
        '{"model_name": "M1", "scenario_description": "BAU", "measures_and_values": '
        f'[{{"measure_name": "mean temp", "values": [1.0, {token}], '
        f'"timestamps": ["{T0}", "{T1}"]}}]}}'
    )

    response = world.post(
        "/model/insert-model-run", content=body, headers={"content-type": "application/json"}
    )

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "measures_and_values", 0, "values", 1]
    assert "finite" in error["msg"]
    assert _snapshot(world) == before


def test_strings_cannot_hold_nul(world: httpx.Client) -> None:
    before = _snapshot(world)
    entry = {"measure_name": "label", "values": ["ok", "a\u0000b"], "timestamps": [T0, T1]}

    response = world.post("/model/insert-model-run", json=a_run(measures_and_values=[entry]))

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "measures_and_values", 0, "values", 1]
    assert _snapshot(world) == before


@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        ({"model_name": "M\u00001"}, ["body", "model_name"]),
        ({"scenario_description": "B\u0000AU"}, ["body", "scenario_description"]),
        ({"sensor_unique_id": "S\u00001"}, ["body", "sensor_unique_id"]),
    ],
)
def test_names_cannot_hold_nul(
    world: httpx.Client, changes: dict[str, Any], loc: list[Any]
) -> None:
    before = _snapshot(world)

    response = world.post("/model/insert-model-run", json=a_run(**changes))

    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [loc]
    assert _snapshot(world) == before
