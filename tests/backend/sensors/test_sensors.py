"""Sensors: S2, S6, S10, S12, and who may write."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from dtbase.backend.db import make_session_factory
from dtbase.backend.models.tables import Model, ModelRun
from dtbase.backend.sensors.tables import Sensor, SensorMeasure, SensorReading
from dtbase.schemas.users import Role
from tests.utils.accounts import UserFactory

TEMPERATURE = {"name": "temperature", "units": "K", "datatype": "float"}
WEATHER = {"name": "Weather", "description": None, "measures": [TEMPERATURE]}
S1 = {"unique_identifier": "S1", "name": "Roof", "notes": "North side"}
S2 = {"unique_identifier": "S2", "name": None, "notes": None}


@pytest.fixture
def weather(admin: httpx.Client) -> httpx.Client:
    for body in (WEATHER, {"name": "Other", "measures": []}):
        assert admin.post("/sensor/insert-sensor-type", json=body).status_code == 201
    return admin


def _insert(admin: httpx.Client, type_name: str, sensor: dict[str, Any]) -> None:
    response = admin.post("/sensor/insert-sensor", json={"type_name": type_name, **sensor})
    assert response.status_code == 201, response.text


def _sensors(admin: httpx.Client, **body: Any) -> Any:
    response = admin.post("/sensor/list-sensors", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_insert_sensor_then_list(weather: httpx.Client) -> None:
    response = weather.post("/sensor/insert-sensor", json={"type_name": "Weather", **S1})
    _insert(weather, "Weather", {"unique_identifier": "S2"})

    assert response.status_code == 201
    assert response.json() == {"detail": "Sensor inserted"}
    assert _sensors(weather) == [S1, S2]


def test_list_sensors_by_type(weather: httpx.Client) -> None:
    _insert(weather, "Weather", S1)
    _insert(weather, "Other", S2)

    assert _sensors(weather, type_name="Weather") == [S1]
    assert _sensors(weather, type_name="Other") == [S2]
    assert _sensors(weather, type_name=None) == [S1, S2]
    assert _sensors(weather, type_name="Nope") == []


def test_list_sensors_pages(weather: httpx.Client) -> None:
    for n in range(5):
        _insert(weather, "Weather", {"unique_identifier": f"P{n}"})

    def ids(**body: Any) -> list[str]:
        return [s["unique_identifier"] for s in _sensors(weather, **body)]

    assert ids(limit=2) == ["P0", "P1"]
    assert ids(limit=2, offset=2) == ["P2", "P3"]
    assert ids(offset=4) == ["P4"]
    assert ids(limit=0) == []
    assert ids(type_name="Weather", limit=1, offset=1) == ["P1"]


@pytest.mark.parametrize(
    ("body", "error_type", "loc"),
    [
        (None, "missing", ["body"]),
        ({"limit": -1}, "greater_than_equal", ["body", "limit"]),
        ({"offset": -1}, "greater_than_equal", ["body", "offset"]),
        ({"type_name": 3}, "string_type", ["body", "type_name"]),
    ],
)
def test_list_sensors_rejects_bad_input(
    admin: httpx.Client, body: dict[str, Any] | None, error_type: str, loc: list[Any]
) -> None:
    response = admin.post("/sensor/list-sensors", json=body)

    assert response.status_code == 422
    assert [(e["type"], e["loc"]) for e in response.json()["detail"]] == [(error_type, loc)]


def test_insert_sensor_errors_change_nothing(weather: httpx.Client) -> None:
    _insert(weather, "Weather", S1)

    duplicate = weather.post(
        "/sensor/insert-sensor", json={"type_name": "Other", "unique_identifier": "S1"}
    )
    unknown_type = weather.post(
        "/sensor/insert-sensor", json={"type_name": "Nope", "unique_identifier": "S9"}
    )
    no_id = weather.post("/sensor/insert-sensor", json={"type_name": "Weather"})

    assert (duplicate.status_code, duplicate.json()) == (409, {"detail": "Sensor exists already"})
    assert unknown_type.status_code == 400
    assert unknown_type.json() == {"detail": "Sensor type does not exist"}
    assert no_id.status_code == 422
    assert _sensors(weather) == [S1]


def test_edit_sensor(weather: httpx.Client) -> None:
    _insert(weather, "Weather", S2)

    response = weather.post(
        "/sensor/edit-sensor", json={"unique_identifier": "S2", "name": "New", "notes": "Moved"}
    )

    assert response.status_code == 200
    assert response.json() == {"detail": "Sensor edited"}
    assert _sensors(weather) == [{"unique_identifier": "S2", "name": "New", "notes": "Moved"}]


@pytest.mark.parametrize("cleared", ["name", "notes"])
def test_edit_sensor_null_clears_a_field(weather: httpx.Client, cleared: str) -> None:
    """A sensor may have no name or notes (insert-sensor allows it): null clears one."""
    _insert(weather, "Weather", S1)

    response = weather.post("/sensor/edit-sensor", json=S1 | {cleared: None})

    assert response.status_code == 200
    assert response.json() == {"detail": "Sensor edited"}
    assert _sensors(weather) == [S1 | {cleared: None}]


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"unique_identifier": "S9", "name": "n", "notes": "x"}, 400, "Sensor does not exist"),
        ({"unique_identifier": "S1", "name": "n"}, 422, None),
        ({"unique_identifier": "S1", "notes": None}, 422, None),
        ({"unique_identifier": "S1", "name": 5, "notes": "x"}, 422, None),
    ],
)
def test_edit_sensor_errors(
    weather: httpx.Client, body: dict[str, Any], status: int, detail: str | None
) -> None:
    _insert(weather, "Weather", S1)

    response = weather.post("/sensor/edit-sensor", json=body)

    assert response.status_code == status
    if detail is not None:
        assert response.json() == {"detail": detail}
    assert _sensors(weather) == [S1]


def _stored_readings(engine: Engine) -> int:
    with make_session_factory(engine)() as session:
        return session.scalar(select(func.count()).select_from(SensorReading)) or 0


def test_delete_sensor_takes_its_readings(weather: httpx.Client, engine: Engine) -> None:
    _insert(weather, "Weather", S1)
    _insert(weather, "Weather", S2)
    for uid in ("S1", "S2"):
        weather.post(
            "/sensor/insert-sensor-readings",
            json={
                "measure_name": "temperature",
                "unique_identifier": uid,
                "readings": [1.0, 2.0],
                "timestamps": ["2024-01-01", "2024-01-02"],
            },
        )
    assert _stored_readings(engine) == 4

    response = weather.post("/sensor/delete-sensor", json={"unique_identifier": "S1"})

    assert response.status_code == 200
    assert response.json() == {"detail": "Sensor deleted"}
    assert _sensors(weather) == [S2]
    assert _stored_readings(engine) == 2


def test_delete_unknown_sensor_is_400(weather: httpx.Client) -> None:
    _insert(weather, "Weather", S1)

    response = weather.post("/sensor/delete-sensor", json={"unique_identifier": "S9"})

    assert response.status_code == 400
    assert response.json() == {"detail": "Sensor does not exist"}
    assert _sensors(weather) == [S1]


def test_delete_sensor_used_by_model_runs_is_409(weather: httpx.Client, engine: Engine) -> None:
    _insert(weather, "Weather", S1)
    with make_session_factory(engine).begin() as session:
        sensor_id = session.scalars(select(Sensor.id)).one()
        measure_id = session.scalars(select(SensorMeasure.id)).one()
        model = Model(name="Arima")
        session.add(model)
        session.flush()
        session.add_all(
            ModelRun(
                model_id=model.id,
                sensor_id=sensor_id,
                sensor_measure_id=measure_id,
                time_created=datetime(2024, 1, day, tzinfo=UTC),
            )
            for day in (1, 2)
        )

    response = weather.post("/sensor/delete-sensor", json={"unique_identifier": "S1"})
    measure = weather.post(
        "/sensor/delete-sensor-measure", json={"name": "temperature", "units": "K"}
    )

    assert response.status_code == 409
    assert response.json() == {"detail": "Sensor 'S1' is used by 2 model runs"}
    assert _sensors(weather) == [S1]
    assert measure.status_code == 409  # used by the type (checked first) and by the runs


WRITES: list[tuple[str, dict[str, Any]]] = [
    ("/sensor/insert-sensor-type", {"name": "T", "measures": []}),
    ("/sensor/insert-sensor", {"type_name": "Weather", "unique_identifier": "X"}),
    (
        "/sensor/insert-sensor-location",
        {"unique_identifier": "S1", "schema_name": "xy", "coordinates": {"x": 1.0}},
    ),
    (
        "/sensor/insert-sensor-readings",
        {
            "measure_name": "temperature",
            "unique_identifier": "S1",
            "readings": [1.0],
            "timestamps": ["2024-01-01"],
        },
    ),
    ("/sensor/delete-sensor", {"unique_identifier": "S1"}),
    ("/sensor/delete-sensor-type", {"type_name": "Other"}),
    ("/sensor/edit-sensor", {"unique_identifier": "S1", "name": "n", "notes": "x"}),
    ("/sensor/edit-sensor-type", {"type_name": "Other", "new_name": "O"}),
    ("/sensor/edit-sensor-measure", {"name": "temperature", "units": "K", "new_name": "t"}),
    ("/sensor/delete-sensor-measure", {"name": "temperature", "units": "K"}),
]


@pytest.mark.parametrize(("path", "body"), WRITES)
def test_viewers_cannot_write(
    weather: httpx.Client, user_factory: UserFactory, path: str, body: dict[str, Any]
) -> None:
    _insert(weather, "Weather", S1)
    viewer = user_factory(Role.viewer)
    before = (weather.get("/sensor/list-sensor-types").json(), _sensors(weather))

    response = viewer.post(path, json=body)

    assert response.status_code == 403
    assert "user" in response.json()["detail"]
    assert (weather.get("/sensor/list-sensor-types").json(), _sensors(weather)) == before


def test_users_can_write_and_viewers_can_read(
    weather: httpx.Client, user_factory: UserFactory
) -> None:
    user, viewer = user_factory(Role.user), user_factory(Role.viewer)

    written = user.post("/sensor/insert-sensor", json={"type_name": "Weather", **S1})

    assert written.status_code == 201
    assert viewer.post("/sensor/list-sensors", json={}).json() == [S1]
    assert viewer.get("/sensor/list-sensor-types").status_code == 200
    assert viewer.get("/sensor/list-measures").status_code == 200
    readings = {
        "measure_name": "temperature",
        "unique_identifier": "S1",
        "dt_from": "2024-01-01",
        "dt_to": "2024-01-02",
    }
    assert viewer.post("/sensor/sensor-readings", json=readings).json() == []
    locations = viewer.post("/sensor/list-sensor-locations", json={"unique_identifier": "S1"})
    assert locations.json() == []


def test_reads_need_a_token(anonymous: httpx.Client) -> None:
    assert anonymous.get("/sensor/list-measures").status_code == 401
    assert anonymous.post("/sensor/list-sensors").status_code == 401
    assert anonymous.get("/sensor/list-sensors").status_code == 405


def test_openapi_documents_the_sensor_endpoints(anonymous: httpx.Client) -> None:
    paths = anonymous.get("/openapi.json").json()["paths"]

    sensor_paths = {path for path in paths if path.startswith("/sensor/")}
    # DTBase's 12, edit/delete of types and measures, export, bulk insert (JSON, CSV), latest,
    # one sensor, sensors with details, a page of readings as a table.
    assert len(sensor_paths) == 22
    readings = paths["/sensor/insert-sensor-readings"]["post"]
    assert {"201", "400", "401", "403", "422"} <= set(readings["responses"])
    assert {"200", "400", "409"} <= set(paths["/sensor/delete-sensor"]["post"]["responses"])
    locations = paths["/sensor/list-sensor-locations"]["post"]["responses"]["200"]
    schema = locations["content"]["application/json"]["schema"]
    assert schema["items"] == {"$ref": "#/components/schemas/SensorLocation"}


def test_delete_sensor_measure_with_readings_or_runs_is_409(
    weather: httpx.Client, engine: Engine
) -> None:
    # Neither case is reachable through the API alone: readings and runs of a measure
    # that no type lists any more.
    _insert(weather, "Weather", S1)
    with make_session_factory(engine).begin() as session:
        sensor_id = session.scalars(select(Sensor.id)).one()
        measure = SensorMeasure(name="pressure", units="hPa", datatype="float")
        other = SensorMeasure(name="level", units=None, datatype="integer")
        model = Model(name="Arima")
        session.add_all([measure, other, model])
        session.flush()
        session.add(
            SensorReading(
                sensor_id=sensor_id,
                measure_id=measure.id,
                timestamp=datetime(2024, 1, 1, tzinfo=UTC),
                value_float=1.0,
            )
        )
        session.add(ModelRun(model_id=model.id, sensor_measure_id=other.id))
    before = weather.get("/sensor/list-measures").json()

    readings = weather.post(
        "/sensor/delete-sensor-measure", json={"name": "pressure", "units": "hPa"}
    )
    runs = weather.post("/sensor/delete-sensor-measure", json={"name": "level", "units": None})

    assert readings.status_code == 409
    assert readings.json() == {"detail": "Sensor measure 'pressure' has 1 reading"}
    assert runs.status_code == 409
    assert runs.json() == {"detail": "Sensor measure 'level' is used by 1 model run"}
    assert weather.get("/sensor/list-measures").json() == before
