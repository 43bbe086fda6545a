"""`GET /events/stream` over real HTTP, read by a real SSE client: live delivery, the
query, replay from an id, a time or Last-Event-ID, a slow listener catching up from the
database, and listeners freed when they disconnect."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from httpx_sse import aconnect_sse
from sqlalchemy import Engine

from dtbase.backend.app import create_app
from dtbase.backend.events.stream import EventHub
from dtbase.core.settings import DEFAULT_USER_EMAIL, BackendSettings
from dtbase.schemas.events import EventKind
from tests.utils.accounts import logged_in
from tests.utils.event_streams import StreamReader, readings_stored, record_events, run_async
from tests.utils.servers import served
from tests.utils.settings import DEFAULT_PASSWORD


@dataclass
class Backend:
    app: FastAPI
    url: str

    @property
    def hub(self) -> EventHub:
        hub: EventHub = self.app.state.event_hub
        return hub


@pytest.fixture(scope="module")
def backend(settings: BackendSettings, database_url: str) -> Iterator[Backend]:
    """A backend of this module's own, so that its hub can be looked at."""
    app = create_app(settings, database_url=database_url)
    with served(app) as url:
        yield Backend(app, url)


@pytest.fixture
def auth(backend: Backend, clean_database: None) -> dict[str, str]:
    with httpx.Client(base_url=backend.url) as http:
        token = logged_in(http, DEFAULT_USER_EMAIL, DEFAULT_PASSWORD).headers["Authorization"]
    return {"Authorization": token}


def stream(
    backend: Backend, auth: dict[str, str], params: str = "", **headers: str
) -> StreamReader:
    return StreamReader(backend.url, params, {**auth, **headers})


def until_listeners(hub: EventHub, count: int) -> None:
    deadline = time.monotonic() + 10
    while hub.listener_count != count:
        assert time.monotonic() < deadline, f"{hub.listener_count} listeners, not {count}"
        time.sleep(0.01)


def test_live_events_arrive_with_the_first_record_giving_the_cursor(
    backend: Backend, auth: dict[str, str], engine: Engine
) -> None:
    record_events(engine, [readings_stored("old")])
    with stream(backend, auth) as reader:
        assert reader.status == 200
        assert reader.headers is not None
        assert reader.headers["content-type"].startswith("text/event-stream")
        first = reader.first()
        assert (first.id, first.data, first.retry) == ("1", "", 2000)  # from now: after 1

        record_events(engine, [readings_stored("a"), readings_stored("b")])
        record_events(engine, [(EventKind.sensor_created, {"sensor": "c", "sensor_type": "T"})])

        events = reader.events(3)
        assert [(e.id, e.kind, e.meta["sensor"]) for e in events] == [
            (2, EventKind.readings_stored, "a"),
            (3, EventKind.readings_stored, "b"),
            (4, EventKind.sensor_created, "c"),
        ]
        reader.nothing_more()


def test_the_query_selects_what_is_sent(
    backend: Backend, auth: dict[str, str], engine: Engine
) -> None:
    params = "kind=readings.stored&sensor=a&sensor=c"
    with stream(backend, auth, params) as reader:
        reader.first()
        record_events(
            engine,
            [
                readings_stored("a"),
                readings_stored("b"),
                (EventKind.sensor_created, {"sensor": "a", "sensor_type": "T"}),
                readings_stored("c"),
            ],
        )
        assert [(e.id, e.meta["sensor"]) for e in reader.events(2)] == [(1, "a"), (4, "c")]
        reader.nothing_more()


def test_replay_from_an_id_then_live(
    backend: Backend, auth: dict[str, str], engine: Engine
) -> None:
    record_events(engine, [readings_stored(f"s{index}") for index in range(5)])
    with stream(backend, auth, "from=2&sensor=s1&sensor=s3&sensor=s4&sensor=s5") as reader:
        assert reader.first().id == "2"
        assert [e.id for e in reader.events(2)] == [4, 5]
        record_events(engine, [readings_stored("s5")])
        assert [e.id for e in reader.events(1)] == [6]
        reader.nothing_more()


def test_replay_from_zero_sends_every_event_kept(
    backend: Backend, auth: dict[str, str], engine: Engine
) -> None:
    record_events(engine, [readings_stored("a"), readings_stored("b")])
    with stream(backend, auth, "from=0") as reader:
        assert [e.id for e in reader.events(2)] == [1, 2]


def test_replay_from_a_time(backend: Backend, auth: dict[str, str], engine: Engine) -> None:
    record_events(engine, [readings_stored("before")])
    with stream(backend, auth, "from=0") as everything:
        (before,) = everything.events(1)
    time.sleep(0.01)
    record_events(engine, [readings_stored("after")])
    after_time = before.time.isoformat().replace("+00:00", "Z")
    # The events from a time on: the first one's own time includes it.
    with stream(backend, auth, f"from={after_time}") as reader:
        assert [e.meta["sensor"] for e in reader.events(2)] == ["before", "after"]
    with stream(backend, auth, "from=2999-01-01T00:00:00%2B01:00") as reader:
        reader.first()
        reader.nothing_more()


def test_last_event_id_wins_over_from(
    backend: Backend, auth: dict[str, str], engine: Engine
) -> None:
    """A browser's EventSource reconnects to the same URL (with its `from`) and sends the
    last id it saw: that is where it resumes."""
    record_events(engine, [readings_stored(f"s{index}") for index in range(4)])
    with stream(backend, auth, "from=0", **{"Last-Event-ID": "3"}) as reader:
        assert reader.first().id == "3"
        assert [e.id for e in reader.events(1)] == [4]
        reader.nothing_more()


@pytest.mark.parametrize(
    ("params", "headers", "where"),
    [
        ("kind=readings.nope", {}, ["query", "kind", 0]),
        ("colour=red", {}, ["query", "colour"]),
        ("from=yesterday", {}, ["query", "from"]),
        ("from=-1", {}, ["query", "from"]),
        ("from=2026-01-01T00:00:00", {}, ["query", "from"]),
        ("from=1234567890123456789", {}, ["query", "from"]),
        ("", {"Last-Event-ID": "x"}, ["header", "Last-Event-ID"]),
    ],
)
def test_a_bad_query_is_a_422(
    backend: Backend,
    auth: dict[str, str],
    params: str,
    headers: dict[str, str],
    where: list[str | int],
) -> None:
    with stream(backend, auth, params, **headers) as reader:
        assert reader.status == 422, reader.body
        detail = httpx.Response(422, content=reader.body).json()["detail"]
        assert detail[0]["loc"] == where
    assert backend.hub.listener_count == 0


def test_without_a_token_it_is_a_401(backend: Backend, clean_database: None) -> None:
    with StreamReader(backend.url) as reader:
        assert reader.status == 401, reader.body
    with StreamReader(backend.url, headers={"Authorization": "Bearer nonsense"}) as reader:
        assert reader.status == 401, reader.body


def test_a_slow_listener_overflows_and_catches_up_from_the_database(
    backend: Backend, auth: dict[str, str], engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A listener whose queue overflows is handed nothing more by the hub; it reads the
    database instead, from the last event it sent, and misses nothing."""
    with stream(backend, auth) as slow, stream(backend, auth, "sensor=b") as other:
        slow.first()
        other.first()
        until_listeners(backend.hub, 2)
        # Shrink the queues of the connected listeners: 3 events, where 1,000 is usual.
        for listener in backend.hub._listeners:
            monkeypatch.setattr(listener, "capacity", 3)
        batches = [[readings_stored(f"{n}-{i}") for i in range(4)] for n in range(5)]
        for batch in batches:
            batch.append(readings_stored("b"))
            record_events(engine, batch)

        assert [e.id for e in slow.events(25)] == list(range(1, 26))
        assert [e.id for e in other.events(5)] == [5, 10, 15, 20, 25]
        slow.nothing_more()
        other.nothing_more()
        assert any(listener.overflowed is False for listener in backend.hub._listeners)


def test_many_connecting_at_once_do_not_starve_the_pool(
    backend: Backend, auth: dict[str, str], engine: Engine
) -> None:
    """More streams connect at once than the pool has connections (15) and the backend
    has worker threads (40): each takes one connection for its start, and gives it back
    before streaming without waiting for a thread."""

    async def connect(http: httpx.AsyncClient) -> str:
        async with aconnect_sse(http, "GET", "/events/stream", headers=auth) as source:
            async for record in source.aiter_sse():
                if record.data:
                    return record.id
        raise AssertionError("the stream ended")

    async def hundred() -> list[str]:
        limits = httpx.Limits(max_connections=None)
        async with httpx.AsyncClient(base_url=backend.url, timeout=20, limits=limits) as http:
            connecting = [asyncio.create_task(connect(http)) for _ in range(100)]
            await asyncio.to_thread(until_listeners, backend.hub, 100)
            await asyncio.to_thread(record_events, engine, [readings_stored("a")])
            return await asyncio.gather(*connecting)

    assert run_async(asyncio.wait_for(hundred(), 30)) == ["1"] * 100
    until_listeners(backend.hub, 0)


def test_disconnects_free_their_listeners(backend: Backend, auth: dict[str, str]) -> None:
    for _ in range(200):
        with stream(backend, auth) as reader:
            reader.first()
    until_listeners(backend.hub, 0)


def test_the_stream_ends_when_its_token_expires(
    settings: BackendSettings, database_url: str, engine: Engine, clean_database: None
) -> None:
    short = settings.model_copy(update={"jwt_access_token_expires_seconds": 2})
    app = create_app(short, database_url=database_url)
    with served(app) as url, httpx.Client(base_url=url) as http:
        token = logged_in(http, DEFAULT_USER_EMAIL, DEFAULT_PASSWORD).headers["Authorization"]
        begun = time.monotonic()
        with StreamReader(url, headers={"Authorization": token}) as reader:
            reader.first()
            record_events(engine, [readings_stored("a")])
            assert len(reader.events(1)) == 1
            assert reader.ended.wait(10)
            assert reader.error is None
        assert time.monotonic() - begun < 5
        # Reconnecting with the expired token: 401, "Token has expired" (renew, resume).
        with StreamReader(url, headers={"Authorization": token}) as again:
            assert again.status == 401
            assert "expired" in again.body


def test_a_client_that_reads_nothing_holds_no_one_up(
    backend: Backend, auth: dict[str, str], engine: Engine
) -> None:
    """A client whose socket is never read (its buffers full, the backend's send stuck)
    costs the others nothing: they get every event while it stalls."""
    host, port = backend.url.removeprefix("http://").split(":")
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect((host, int(port)))
    token = auth["Authorization"]
    request = f"GET /events/stream HTTP/1.1\r\nHost: {host}\r\nAuthorization: {token}\r\n\r\n"
    stuck.sendall(request.encode())
    try:
        until_listeners(backend.hub, 1)
        with stream(backend, auth) as reader:
            reader.first()
            big = {"sensor": "a", "note": "x" * 1000}
            for _ in range(10):
                record_events(engine, [(EventKind.readings_stored, big)] * 1000)
            assert [e.id for e in reader.events(10_000)] == list(range(1, 10_001))
        until_listeners(backend.hub, 1)  # the stuck one, still in its send
    finally:
        stuck.close()
    until_listeners(backend.hub, 0)
