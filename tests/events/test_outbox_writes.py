"""Every write path records its event in its own transaction, over the real backend:
the right metadata for each kind, and nothing for a write that fails or stores nothing."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from dtbase.backend.db import make_session_factory
from dtbase.backend.sensors import store as sensors_store
from dtbase.backend.services import store as services_store
from dtbase.backend.services.runs import BackgroundRuns
from tests.utils.events import events_since, kinds_and_meta, last_id
from tests.utils.models import T0, T1, T2, a_run, setup_models
from tests.utils.sensors import add_sensors
from tests.utils.stub_service import StubService, local_policy

TEMPERATURE = {"name": "temperature", "units": "C", "datatype": "float"}
HUMIDITY = {"name": "humidity", "units": "%", "datatype": "float"}
EARLY, MIDDLE, LATE = "2031-01-01T00:00:00Z", "2031-01-01T00:01:00Z", "2031-01-01T00:02:00Z"


@pytest.fixture
def sensors(admin: httpx.Client) -> httpx.Client:
    """Sensors a and b of type weather (temperature, humidity); events start after them."""
    add_sensors(admin, "weather", [TEMPERATURE, HUMIDITY], ["a", "b"])
    return admin


def _post(client: httpx.Client, path: str, body: Any, status: int = 201) -> Any:
    response = client.post(path, json=body)
    assert response.status_code == status, response.text
    return response.json()


def _series(uid: str, measure: str, timestamps: list[str]) -> dict[str, Any]:
    values = [float(index) for index, _ in enumerate(timestamps)]
    return {
        "unique_identifier": uid,
        "measure_name": measure,
        "readings": values,
        "timestamps": timestamps,
    }


def _readings(uid: str, first: str, last: str, count: int, *measures: str) -> dict[str, Any]:
    return {
        "sensor": uid,
        "sensor_type": "weather",
        "measure": list(measures),
        "first": first,
        "last": last,
        "count": count,
    }


def test_sensor_creation_and_deletion(admin: httpx.Client) -> None:
    add_sensors(admin, "weather", [TEMPERATURE], ["a"])
    _post(admin, "/sensor/delete-sensor", {"unique_identifier": "a"}, 200)
    _post(admin, "/sensor/insert-sensor", {"type_name": "nope", "unique_identifier": "x"}, 400)

    assert kinds_and_meta(events_since(admin)) == [
        ("sensor.created", {"sensor": "a", "sensor_type": "weather"}),
        ("sensor.deleted", {"sensor": "a", "sensor_type": "weather"}),
    ]


def test_insert_sensor_readings(sensors: httpx.Client) -> None:
    start = last_id(sensors)
    body = _series("a", "temperature", [MIDDLE, EARLY, LATE])
    _post(sensors, "/sensor/insert-sensor-readings", body)
    # The same again stores nothing new: no news, no event.
    _post(sensors, "/sensor/insert-sensor-readings", body)

    assert kinds_and_meta(events_since(sensors, start)) == [
        ("readings.stored", _readings("a", EARLY, LATE, 3, "temperature")),
    ]


def test_a_request_storing_some_new_readings_has_its_event(sensors: httpx.Client) -> None:
    _post(sensors, "/sensor/insert-sensor-readings", _series("a", "temperature", [EARLY]))
    start = last_id(sensors)
    body = _series("a", "temperature", [EARLY, MIDDLE])
    _post(sensors, "/sensor/insert-sensor-readings", body)

    assert kinds_and_meta(events_since(sensors, start)) == [
        ("readings.stored", _readings("a", EARLY, MIDDLE, 2, "temperature")),
    ]


def test_insert_readings_bulk_has_one_event_per_sensor(sensors: httpx.Client) -> None:
    start = last_id(sensors)
    series = [
        _series("b", "humidity", [MIDDLE]),
        _series("a", "temperature", [EARLY, MIDDLE]),
        _series("a", "humidity", [LATE]),
    ]
    _post(sensors, "/sensor/insert-readings-bulk", {"series": series})

    assert kinds_and_meta(events_since(sensors, start)) == [
        ("readings.stored", _readings("b", MIDDLE, MIDDLE, 1, "humidity")),
        ("readings.stored", _readings("a", EARLY, LATE, 3, "temperature", "humidity")),
    ]


def test_a_bulk_request_failing_half_way_records_nothing(sensors: httpx.Client) -> None:
    start = last_id(sensors)
    good = _series("a", "temperature", [EARLY])
    _post(
        sensors, "/sensor/insert-readings-bulk", {"series": [good, _series("nope", "x", [])]}, 400
    )
    bad_value = {**_series("b", "humidity", [EARLY]), "readings": ["wet"]}
    _post(sensors, "/sensor/insert-readings-bulk", {"series": [good, bad_value]}, 422)

    assert events_since(sensors, start) == []


def test_csv_upload_records_and_a_dry_run_does_not(sensors: httpx.Client) -> None:
    start = last_id(sensors)
    csv = (
        "sensor_unique_identifier,measure_name,measure_units,timestamp,value\n"
        f"a,temperature,C,{EARLY},1.5\nb,humidity,%,{LATE},40\na,temperature,C,{MIDDLE},2\n"
    )
    headers = {"content-type": "text/csv"}
    dry = sensors.post(
        "/sensor/insert-readings-bulk-csv?dry_run=true", content=csv, headers=headers
    )
    assert dry.status_code == 200, dry.text
    assert events_since(sensors, start) == []

    stored = sensors.post("/sensor/insert-readings-bulk-csv", content=csv, headers=headers)
    assert stored.status_code == 201, stored.text
    assert sorted(kinds_and_meta(events_since(sensors, start)), key=lambda e: e[1]["sensor"]) == [
        ("readings.stored", _readings("a", EARLY, MIDDLE, 2, "temperature")),
        ("readings.stored", _readings("b", LATE, LATE, 1, "humidity")),
    ]


def test_model_creation_runs_and_deletion(admin: httpx.Client) -> None:
    setup_models(admin)
    start = last_id(admin)
    run = a_run(
        sensor_unique_id="S1",
        sensor_measure={"name": "temperature", "units": "K"},
        measures_and_values=[
            {"measure_name": "mean temp", "values": [1.5, 2.5], "timestamps": [T1, T0]},
            {"measure_name": "count", "values": [3], "timestamps": [T2]},
        ],
    )
    _post(admin, "/model/insert-model-run", run)
    _post(admin, "/model/insert-model-run", run, 409)  # the same run again: nothing stored
    _post(
        admin,
        "/model/insert-model-run",
        a_run(model_name="M2", scenario_description="new", create_scenario=True),
    )
    _post(admin, "/model/insert-model", {"name": "M3"})
    _post(admin, "/model/delete-model", {"name": "M3"}, 200)

    events = events_since(admin, start)
    runs = admin.post(
        "/model/list-model-runs",
        json={
            "model_name": "M1",
            "dt_from": "2000-01-01T00:00:00Z",
            "dt_to": "2100-01-01T00:00:00Z",
        },
    ).json()
    runs_m2 = admin.post(
        "/model/list-model-runs",
        json={
            "model_name": "M2",
            "dt_from": "2000-01-01T00:00:00Z",
            "dt_to": "2100-01-01T00:00:00Z",
        },
    ).json()
    assert kinds_and_meta(events) == [
        (
            "model_run.stored",
            {
                "model": "M1",
                "scenario": "BAU",
                "run": runs[0]["id"],
                "sensor": ["S1"],
                "measure": ["mean temp", "count"],
                "first": T0,
                "last": T2,
                "count": 3,
            },
        ),
        (
            "model_run.stored",
            {
                "model": "M2",
                "scenario": "new",
                "run": runs_m2[0]["id"],
                "sensor": [],
                "measure": ["mean temp"],
                "first": T0,
                "last": T1,
                "count": 2,
            },
        ),
        ("model.created", {"model": "M3"}),
        ("model.deleted", {"model": "M3"}),
    ]
    first_events = events_since(admin, 0, kind="model.created")
    assert [event["meta"]["model"] for event in first_events] == ["M1", "M2", "M3"]


def test_location_creation_and_deletion(admin: httpx.Client) -> None:
    identifiers = [{"name": "x", "units": None, "datatype": "integer"}]
    body = {"identifiers": identifiers, "values": [1]}
    _post(admin, "/location/insert-location", body)
    _post(admin, "/location/insert-location", body, 409)
    body = {"schema_name": "x", "coordinates": {"x": 2}}
    _post(admin, "/location/insert-location-for-schema", body)
    _post(admin, "/location/delete-location", {"schema_name": "x", "coordinates": {"x": 1}}, 200)

    created = [event["meta"]["location"] for event in events_since(admin, kind="location.created")]
    assert len(created) == 2
    assert kinds_and_meta(events_since(admin)) == [
        ("location.created", {"location": created[0], "schema": "x"}),
        ("location.created", {"location": created[1], "schema": "x"}),
        ("location.deleted", {"location": created[0], "schema": "x"}),
    ]


def _service(admin: httpx.Client, stub: StubService, name: str = "svc") -> None:
    body = {"name": name, "url": stub.url("/json"), "http_method": "POST"}
    _post(admin, "/service/insert-service", body)


def test_service_creation_runs_and_deletion(admin: httpx.Client, stub: StubService) -> None:
    _service(admin, stub)
    parameter_set = {"service_name": "svc", "name": "p1", "parameters": {"x": 1}}
    _post(admin, "/service/insert-parameter-set", parameter_set)
    direct = _post(admin, "/service/run-service", {"service_name": "svc"}, 200)
    body = {"service_name": "svc", "parameter_set_name": "p1", "wait": False}
    background = _post(admin, "/service/run-service", body, 202)
    finished = _wait_for(admin, kind="service_run.finished", count=2)
    _post(admin, "/service/delete-service", {"name": "svc"}, 200)

    assert kinds_and_meta(finished) == [
        (
            "service_run.finished",
            {
                "service": "svc",
                "run": direct["run_id"],
                "status": "succeeded",
                "parameter_set": None,
            },
        ),
        (
            "service_run.finished",
            {
                "service": "svc",
                "run": background["run_id"],
                "status": "succeeded",
                "parameter_set": "p1",
            },
        ),
    ]
    assert kinds_and_meta(events_since(admin, kind=["service.created", "service.deleted"])) == [
        ("service.created", {"service": "svc"}),
        ("service.deleted", {"service": "svc"}),
    ]


def test_a_failed_run_has_its_event(admin: httpx.Client, stub: StubService) -> None:
    body = {"name": "broken", "url": stub.url("/status/500"), "http_method": "POST"}
    _post(admin, "/service/insert-service", body)
    run = _post(admin, "/service/run-service", {"service_name": "broken"}, 200)

    assert kinds_and_meta(events_since(admin, kind="service_run.finished")) == [
        (
            "service_run.finished",
            {"service": "broken", "run": run["run_id"], "status": "failed", "parameter_set": None},
        ),
    ]


def test_a_run_failed_by_a_restart_has_its_event(
    admin: httpx.Client, stub: StubService, engine: Engine
) -> None:
    _service(admin, stub)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        target = services_store.run_target(session, service_name="svc")
        run_id = services_store.start_run(session, target=target, timestamp=_now(session)).id
        session.execute(text("UPDATE service_run_log SET time_created = now() - interval '1 hour'"))
    runs = BackgroundRuns(factory, policy=local_policy(10), workers=1, stale_after_seconds=60)
    try:
        assert runs.sweep() == [run_id]
        assert runs.sweep() == []
    finally:
        runs.shutdown()

    assert kinds_and_meta(events_since(admin, kind="service_run.finished")) == [
        (
            "service_run.finished",
            {"service": "svc", "run": run_id, "status": "failed", "parameter_set": None},
        ),
    ]


def test_a_rolled_back_write_leaves_no_event(admin: httpx.Client, engine: Engine) -> None:
    add_sensors(admin, "weather", [TEMPERATURE], [])
    start = last_id(admin)
    factory: sessionmaker[Session] = make_session_factory(engine)
    with factory() as session:
        sensors_store.insert_sensor(session, type_name="weather", unique_identifier="ghost")
        session.rollback()

    assert events_since(admin, start) == []


def _now(session: Session) -> Any:
    return session.execute(text("SELECT now()")).scalar_one()


def _wait_for(client: httpx.Client, *, kind: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    while True:
        events = events_since(client, kind=kind)
        if len(events) >= count or time.monotonic() > deadline:
            return events
        time.sleep(0.05)


def test_a_reader_following_the_cursor_misses_nothing(
    sensors: httpx.Client, live_backend: str
) -> None:
    """Writers store concurrently while a reader pages on with `after`: every event that
    committed is read once, none skipped (ids are drawn in commit order)."""
    start = last_id(sensors)
    writers, requests = 4, 15
    token = sensors.headers["Authorization"]

    def write(writer: int) -> None:
        with httpx.Client(base_url=live_backend, headers={"Authorization": token}) as client:
            for request in range(requests):
                stamp = f"2032-01-01T00:{writer:02d}:{request:02d}Z"
                body = _series("a" if writer % 2 else "b", "temperature", [stamp])
                _post(client, "/sensor/insert-sensor-readings", body)

    read: list[int] = []
    with ThreadPoolExecutor(writers) as pool:
        running = [pool.submit(write, writer) for writer in range(writers)]
        cursor = start
        while not all(future.done() for future in running):
            page = events_since(sensors, cursor)
            read.extend(event["id"] for event in page)
            cursor = read[-1] if read else cursor
        for future in running:
            future.result()
    read.extend(event["id"] for event in events_since(sensors, cursor))

    assert len(read) == writers * requests
    assert read == sorted(set(read))
    assert read == [event["id"] for event in events_since(sensors, start)]
