"""The floor of a small request: a read is its statements' round trips to PostgreSQL, no
BEGIN and no COMMIT (`one_thread.reads_only`, `db.without_transaction`), counted in the
wire protocol on a real backend over HTTP; and a write where only reads were declared is
refused, not stored outside the request's unit of work."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import TypeAdapter
from sqlalchemy import Engine, event, insert, select, text

from dtbase.backend.app import create_app
from dtbase.backend.db import SessionDep
from dtbase.backend.one_thread import OneThreadRoute, awaits_reads, reads_only
from dtbase.backend.sensors.tables import SensorType
from dtbase.core.settings import DEFAULT_USER_EMAIL, BackendSettings
from dtbase.schemas.sensors import Sensor
from tests.utils.round_trips import RoundTrips, round_trips
from tests.utils.sensors import add_sensors
from tests.utils.servers import served
from tests.utils.settings import DEFAULT_PASSWORD

DAY = {
    "unique_identifier": "R1",
    "measure_name": "t",
    "dt_from": "2026-01-01T00:00:00Z",
    "dt_to": "2026-01-01T23:59:00Z",
}


def _writes(app: FastAPI) -> None:
    """Endpoints that only reads were declared for, but which write: the kinds of write."""

    @reads_only
    def write_text(session: SessionDep) -> None:
        session.execute(text("INSERT INTO sensor_type (name) VALUES ('by text')"))

    @reads_only
    def write_core(session: SessionDep) -> None:
        session.execute(insert(SensorType).values(name="by core"))

    @reads_only
    def write_orm(session: SessionDep) -> None:
        session.add(SensorType(name="by orm"))
        session.flush()

    for endpoint in (write_text, write_core, write_orm):
        app.router.add_api_route(
            f"/test/{endpoint.__name__}",
            endpoint,
            methods=["POST"],
            route_class_override=OneThreadRoute,
        )


@pytest.fixture
def traced(
    settings: BackendSettings, database_url: str, clean_database: None, tmp_path: Path
) -> Iterator[tuple[httpx.Client, RoundTrips, Engine]]:
    """A client logged in to a backend whose connections count their round trips."""
    app = create_app(settings, database_url=database_url)
    _writes(app)
    engine: Engine = app.state.session_factory.kw["bind"]
    with (
        round_trips(engine, tmp_path / "trace", app.state.async_reads) as counted,
        served(app) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        login = {"email": DEFAULT_USER_EMAIL, "password": DEFAULT_PASSWORD}
        token = client.post("/auth/login", json=login).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client, counted, engine


@pytest.mark.parametrize(
    ("method", "path", "body", "trips"),
    [
        ("GET", "/health", None, 1),  # SELECT 1
        ("GET", "/user/me", None, 1),  # the token's session and user
        ("POST", "/sensor/list-sensors", {}, 2),  # the user; the sensors
        # The user; the sensor, its type's measures and the measure; the readings.
        ("POST", "/sensor/sensor-readings", DAY, 5),
    ],
)
def test_a_small_read_is_its_statements_round_trips(
    traced: tuple[httpx.Client, RoundTrips, Engine],
    method: str,
    path: str,
    body: dict[str, str] | None,
    trips: int,
) -> None:
    client, counted, _ = traced
    add_sensors(client, "Station", [{"name": "t", "units": "K", "datatype": "float"}], ["R1"])
    readings = {**DAY, "readings": [1.5, 2.5], "timestamps": [DAY["dt_from"], DAY["dt_to"]]}
    assert client.post("/sensor/insert-sensor-readings", json=readings).status_code == 201
    # psycopg prepares a statement at its fifth use on a connection, in a round trip of its
    # own; the pool hands out its connections in turn, and a busy moment may have opened a
    # few: enough uses for each.
    for _ in range(30):
        assert client.request(method, path, json=body).status_code == 200
    counted.reset()

    response = client.request(method, path, json=body)

    assert response.status_code == 200, response.text
    assert counted.count() == trips, counted.trace.read_text()


def test_health_is_the_first_route_compared(settings: BackendSettings, database_url: str) -> None:
    """Routes are compared with a request one by one: load balancers' probes meet only
    FastAPI's own first (after the 86 others, they took 0.2 ms more)."""
    app = create_app(settings, database_url=database_url)

    first = [getattr(route, "path", None) for route in app.router.routes[:2]]

    assert first == ["/openapi.json", "/health"]


def test_every_answer_says_how_long_the_server_took(
    traced: tuple[httpx.Client, RoundTrips, Engine],
) -> None:
    """`Server-Timing` (what `bench/load.py` compares with the client's own timing), on
    answers of every kind: a read, a refusal, and a server fault."""
    client, _, _ = traced

    answers = [
        client.get("/health"),
        client.post("/sensor/list-sensors", json={"limit": "many"}),
        client.post("/test/write_text"),
    ]

    assert [answer.status_code for answer in answers] == [200, 422, 500]
    for answer in answers:
        name, _, duration = answer.headers["server-timing"].partition(";dur=")
        assert name == "app"
        assert 0 < float(duration) < 10_000


def test_a_write_is_still_one_transaction(
    traced: tuple[httpx.Client, RoundTrips, Engine],
) -> None:
    """Requests not marked as reads keep BEGIN and COMMIT around their statements."""
    client, counted, _ = traced
    counted.reset()

    response = client.post("/sensor/insert-sensor-type", json={"name": "S", "measures": []})

    assert response.status_code == 201, response.text
    trace = counted.trace.read_text()
    assert trace.count('Query\t "BEGIN"') == 1
    assert trace.count('Query\t "COMMIT"') == 1


def test_only_an_async_endpoint_can_await_its_reads() -> None:
    """A sync endpoint runs in a worker thread: its reads could not be awaited."""

    def listing(session: SessionDep) -> None:
        session.execute(text("SELECT 1"))

    with pytest.raises(TypeError, match="only an async endpoint"):
        awaits_reads(listing)


def test_only_a_sync_endpoint_can_be_marked_as_reads() -> None:
    """An async endpoint manages its own sessions' hops: the mark would do nothing there,
    silently."""

    async def listing(session: SessionDep) -> None:
        session.execute(text("SELECT 1"))

    with pytest.raises(TypeError, match="only a sync endpoint"):
        reads_only(listing)


def test_a_connection_that_served_reads_goes_back_to_the_pool_transactional(
    traced: tuple[httpx.Client, RoundTrips, Engine],
) -> None:
    """Autocommit is the request's, not the connection's: the next request to take the
    connection from the pool, a write, must get its transaction back."""
    client, _, engine = traced
    autocommit_at_checkout: list[bool] = []

    def checkout(connection: Any, *_: Any) -> None:
        autocommit_at_checkout.append(connection.autocommit)

    event.listen(engine, "checkout", checkout)
    try:
        for number in range(5):
            assert client.get("/health").status_code == 200
            body = {"name": f"S{number}", "measures": []}
            assert client.post("/sensor/insert-sensor-type", json=body).status_code == 201
    finally:
        event.remove(engine, "checkout", checkout)

    assert autocommit_at_checkout == [False] * 10


@pytest.mark.parametrize("kind", ["write_text", "write_core", "write_orm"])
def test_a_write_in_a_request_that_only_reads_is_refused(
    traced: tuple[httpx.Client, RoundTrips, Engine], kind: str
) -> None:
    """Without a transaction the write would be stored at once, whatever came after: it
    is a bug in the endpoint, answered as one (500), and nothing is stored."""
    client, _, engine = traced

    response = client.post(f"/test/{kind}")

    assert (response.status_code, response.json()) == (500, {"detail": "Internal server error"})
    with engine.connect() as connection:
        assert connection.scalars(select(SensorType.name)).all() == []


# Names and notes that JSON writers could disagree on: quotes, backslashes, control
# characters, line and paragraph separators, non-ASCII and astral characters.
AWKWARD = ['"quoted" \\ back/slash', "tab\there\nnew line\r\x01\x1f", "\u2028\u2029 é 😀 </script>"]

SENSORS: list[dict[str, str | None]] = [
    {"unique_identifier": f"S{n} {text_[:3]}", "name": text_, "notes": text_}
    for n, text_ in enumerate(AWKWARD)
]
SENSORS.append({"unique_identifier": "bare", "name": None, "notes": None})


@pytest.mark.parametrize(
    ("body", "listed"),
    [
        ({}, SENSORS),
        ({"type_name": "Station"}, SENSORS[:3]),
        ({"type_name": "Nowhere"}, []),
        ({"limit": 2, "offset": 1}, SENSORS[1:3]),
        ({"limit": 0}, []),
    ],
)
def test_list_sensors_answer_is_what_the_model_writes(
    admin: httpx.Client, body: dict[str, Any], listed: list[dict[str, str | None]]
) -> None:
    """`list-sensors` writes its JSON from the rows: byte for byte what FastAPI wrote from
    `list[Sensor]` (pydantic's `dump_json`), for DTBase's clients."""
    add_sensors(admin, "Station", [], [])
    add_sensors(admin, "Other", [], [])
    for sensor in SENSORS:
        kind = "Other" if sensor["name"] is None else "Station"
        answer = admin.post("/sensor/insert-sensor", json={"type_name": kind, **sensor})
        assert answer.status_code == 201, answer.text

    response = admin.post("/sensor/list-sensors", json=body)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    models = [Sensor.model_validate(sensor) for sensor in listed]
    assert response.content == TypeAdapter(list[Sensor]).dump_json(models)


def test_stamps_only_when_asked_and_on_the_clients_clock(
    settings: BackendSettings, database_url: str
) -> None:
    """`Dtbase-Stamps` (for `bench/load.py`): the moments the app got the request and
    began its answer, on the machine's monotonic clock, between the client's own readings
    of it; absent unless the setting is on."""
    stamped = settings.model_copy(update={"backend_timing_stamps": True})
    with (
        served(create_app(settings, database_url=database_url)) as plain,
        served(create_app(stamped, database_url=database_url)) as timed,
    ):
        assert "dtbase-stamps" not in httpx.get(f"{plain}/health").headers
        sent = time.monotonic()
        response = httpx.get(f"{timed}/health")
        received = time.monotonic()

    assert response.status_code == 200
    arrival, answer, collecting = (
        float(part) for part in response.headers["dtbase-stamps"].split()
    )
    assert sent < arrival < answer < received
    assert 0 <= collecting <= answer - arrival


@pytest.mark.parametrize(
    "body",
    [{"limit": 10**20}, {"offset": 2**63}, {"type_name": "T\x00"}],
)
def test_list_sensors_refuses_what_postgresql_cannot_take(
    admin: httpx.Client, body: dict[str, Any]
) -> None:
    """Its precompiled query hands the body's values to psycopg as they are: a number
    beyond PostgreSQL's bigint or a NUL character is the client's 422, as before."""
    response = admin.post("/sensor/list-sensors", json=body)

    assert response.status_code == 422, response.text
    assert "A value cannot be stored" in response.json()["detail"][0]["msg"]
