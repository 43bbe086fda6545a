"""`client.events`: history page by page, and a stream that resumes after the backend goes
away, nothing missed, nothing repeated."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from dtbase.backend.app import create_app
from dtbase.client import ApiError, Client
from dtbase.core.settings import DEFAULT_USER_EMAIL, BackendSettings
from dtbase.schemas.events import EventKind, EventOut, EventQuery
from tests.utils.event_streams import BackendProcess, readings_stored, record_events
from tests.utils.servers import served
from tests.utils.settings import DEFAULT_PASSWORD


def collect(events: Iterator[EventOut], count: int) -> Future[list[EventOut]]:
    """The first `count` events of `events`, read in a thread; the iterator is closed then
    (its connection with it). A stream not done by the end of its test ends when its
    client is closed: close it in any case (`with`), or it retries for ever.

    Tests stream from an id (`from_=0`: every event kept, the database is clean) rather
    than "from now on": from now on starts when the stream connects, which a test cannot
    see, and a sleep long enough on a quiet machine is not on a loaded one (an event
    recorded before the connection, missed by design, failed the test in CI)."""

    def read() -> list[EventOut]:
        return list(itertools.islice(events, count))

    pool = ThreadPoolExecutor(1)
    future = pool.submit(read)
    pool.shutdown(wait=False)
    return future


def test_history_pages_through_the_query(client: Client, engine: Engine) -> None:
    record_events(engine, [readings_stored(f"s{index % 3}") for index in range(10)])

    page = client.events.history({"sensor": ["s0", "s2"]}, limit=3)
    assert [e.id for e in page.events] == [1, 3, 4]
    assert page.last_id == 4
    page = client.events.history(EventQuery(sensor=["s0", "s2"]), after=4, limit=3)
    assert [e.id for e in page.events] == [6, 7, 9]

    everything = list(client.events.all_history({"sensor": "s1"}, page=2))
    assert [e.id for e in everything] == [2, 5, 8]
    assert [e.id for e in client.events.all_history(after=8)] == [9, 10]
    assert list(client.events.all_history(since=datetime(2999, 1, 1, tzinfo=UTC))) == []


def test_a_bad_query_raises_before_or_at_the_backend(client: Client) -> None:
    with pytest.raises(ApiError) as refused:
        next(client.events.stream(EventQuery(sensor="a"), from_=10**19))
    assert refused.value.status_code == 422
    with pytest.raises(ValueError, match="kind"):
        next(client.events.stream({"kind": "readings.nope"}))


def test_the_stream_follows_writes_through_the_api(client: Client) -> None:
    measures = [{"name": "temperature", "units": "K", "datatype": "float"}]
    client.sensors.insert_sensor_type("T", measures)
    reading = collect(client.events.stream({"kind": "readings.stored"}, from_=0), 1)
    created = collect(client.events.stream({"kind": "sensor.created"}, from_=0), 1)
    client.sensors.insert_sensor("T", "a")
    stamp = datetime(2026, 1, 1, tzinfo=UTC)
    client.sensors.insert_sensor_readings(
        "temperature", "a", [1.0, 2.0], [stamp, stamp.replace(hour=1)]
    )

    (event,) = reading.result(timeout=10)
    assert event.kind == EventKind.readings_stored
    assert event.meta["sensor"] == "a"
    assert event.meta["count"] == 2
    assert created.result(timeout=10)[0].meta["sensor"] == "a"


def test_the_stream_replays_from_an_id_and_from_a_time(client: Client, engine: Engine) -> None:
    record_events(engine, [readings_stored("a"), readings_stored("b")])
    first = client.events.history().events[0]
    assert [e.id for e in collect(client.events.stream(from_=1), 1).result(10)] == [2]
    from_time = collect(client.events.stream({"sensor": "a"}, from_=first.time), 1)
    assert from_time.result(10) == [first]


def test_the_stream_resumes_after_the_backend_is_killed_and_restarted(
    database_url: str, engine: Engine, tmp_path: Path, clean_database: None
) -> None:
    """Events committed while the backend is down, and while the client backs off, all
    arrive once, in order, after the restart."""
    with (
        BackendProcess(database_url, tmp_path) as backend,
        Client.logged_in(backend.url, DEFAULT_USER_EMAIL, DEFAULT_PASSWORD) as client,
    ):
        received = collect(client.events.stream({"sensor": ["a", "b"]}, from_=0), 30)
        record_events(engine, [readings_stored("a") for _ in range(5)])
        time.sleep(1)  # connected, most likely: the kill drops it
        backend.kill()
        record_events(engine, [readings_stored("b") for _ in range(10)])
        record_events(engine, [readings_stored("c") for _ in range(3)])
        time.sleep(1.5)  # the client tries, and backs off
        backend.start()
        record_events(engine, [readings_stored("a") for _ in range(15)])
        events = received.result(timeout=60)
    expected = list(range(1, 16)) + list(range(19, 34))
    assert [e.id for e in events] == expected


def test_the_stream_renews_an_expired_token_and_goes_on(
    settings: BackendSettings, database_url: str, engine: Engine, clean_database: None
) -> None:
    """The backend ends a stream when its access token expires (every 2 s here); the
    client renews the token and resumes."""
    short = settings.model_copy(update={"jwt_access_token_expires_seconds": 2})
    with (
        served(create_app(short, database_url=database_url)) as url,
        Client.logged_in(url, DEFAULT_USER_EMAIL, DEFAULT_PASSWORD) as client,
    ):
        assert client.tokens is not None
        first_token = client.tokens.access_token
        received = collect(client.events.stream(from_=0), 12)
        for _ in range(12):
            record_events(engine, [readings_stored("a")])
            time.sleep(0.5)
        events = received.result(timeout=30)
        renewed = client.tokens.access_token != first_token
    assert [e.id for e in events] == list(range(1, 13))
    assert renewed
