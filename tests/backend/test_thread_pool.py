"""More requests at once than worker threads and connections: every one is answered;
and requests' work runs a few at a time (`one_thread.request_gate`).

A request used to look its user up in one worker-thread hop (the connection stays with
its transaction) and run its endpoint in the next. If the next hop queued behind new
requests for a thread, and those held every thread waiting for a connection, nothing
would move until the pool's timeout (30 s), then the requests would fail. Now the lookup
and the endpoint share one hop (`one_thread`); a request whose session holds a connection
before its endpoint's hop still gets a thread of its own.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import anyio.to_thread
import httpx
from sqlalchemy import Engine, event
from starlette.types import ASGIApp, Receive, Scope, Send

from dtbase.backend.app import create_app
from dtbase.backend.one_thread import REQUEST_THREADS, request_gate
from dtbase.core.settings import DEFAULT_USER_EMAIL, BackendSettings
from tests.utils.sensors import add_sensors
from tests.utils.servers import served
from tests.utils.settings import DEFAULT_PASSWORD

THREADS = 4  # fewer than the pool's 15 connections, so that requests outnumber both
REQUESTS = 60


class FewThreads:
    """The app with few threads for requests' work, and a small default thread pool (set
    in its event loop, at start-up)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
            request_gate().total_tokens = THREADS
        await self.app(scope, receive, send)


async def _burst(url: str, token: str) -> list[int]:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=REQUESTS)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits) as client:
        # A deadlock would last the pool's 30 s: the client gives up well before.
        answers = await asyncio.gather(
            # Through threads and SQLAlchemy's pool, and awaited on the async reads' pool
            # (4 connections), half each.
            *(
                client.post(f"/sensor/{path}", json={}, timeout=20)
                for _ in range(REQUESTS // 2)
                for path in ("list-sensors-details", "list-sensors")
            ),
            return_exceptions=True,
        )
    return [a.status_code if isinstance(a, httpx.Response) else 0 for a in answers]


def test_a_burst_beyond_threads_and_connections_is_answered(
    settings: BackendSettings, database_url: str, clean_database: None
) -> None:
    app = create_app(settings, database_url=database_url)
    with served(FewThreads(app)) as url:
        login = {"email": DEFAULT_USER_EMAIL, "password": DEFAULT_PASSWORD}
        token = httpx.post(f"{url}/auth/login", json=login, timeout=30).json()["access_token"]
        for _ in range(3):
            assert asyncio.run(_burst(url, token)) == [200] * REQUESTS


def test_requests_look_their_users_up_at_the_same_time(
    settings: BackendSettings, database_url: str, clean_database: None
) -> None:
    """Each request's lookup runs in its own thread, none waiting for another's (a lock
    shared by every request's lookup once queued them all under load)."""
    app = create_app(settings, database_url=database_url)
    engine: Engine = app.state.session_factory.kw["bind"]
    both_inside = threading.Barrier(2, timeout=10)
    inside: list[bool] = []

    def meet(*args: Any) -> None:
        # The lookup joins the token's session and user: only it reads auth_session.
        if "JOIN auth_sessions" in args[2] and len(inside) < 2:
            inside.append(True)
            both_inside.wait()  # broken (an error answer) if the other cannot come in

    with served(app) as url:
        login = {"email": DEFAULT_USER_EMAIL, "password": DEFAULT_PASSWORD}
        token = httpx.post(f"{url}/auth/login", json=login, timeout=30).json()["access_token"]
        event.listen(engine, "before_cursor_execute", meet)

        async def two_at_once() -> list[int]:
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
                answers = await asyncio.gather(
                    *(client.post("/sensor/list-sensors-details", json={}) for _ in range(2))
                )
            return [answer.status_code for answer in answers]

        assert asyncio.run(two_at_once()) == [200, 200]
        assert inside == [True, True]


def test_requests_work_a_few_at_a_time(
    settings: BackendSettings, database_url: str, clean_database: None
) -> None:
    """Reads and ingests alike: at most REQUEST_THREADS requests run their statements at
    once, however many are waiting (with 40 threads and 15 connections, up to 15 did)."""
    app = create_app(settings, database_url=database_url)
    engine: Engine = app.state.session_factory.kw["bind"]
    lock = threading.Lock()
    requests: set[int] = set()
    running: list[int] = []
    most = 0

    def slowly(*args: Any) -> None:
        # Each statement of a request's work (its thread began with the user's lookup, not
        # the app's own background work) takes a while: requests that may run at once do.
        nonlocal most
        thread = threading.get_ident()
        with lock:
            if "JOIN auth_sessions" in args[2]:
                requests.add(thread)
            # The event hub reads each commit's events (one read per process, for the
            # streams, in anyio's threads, not behind the gate): no request's work. No
            # request reads the events.
            if thread not in requests or "FROM event" in args[2]:
                return
            running.append(thread)
            most = max(most, len(set(running)))
        time.sleep(0.02)
        with lock:
            running.remove(thread)

    with served(app) as url:
        login = {"email": DEFAULT_USER_EMAIL, "password": DEFAULT_PASSWORD}
        token = httpx.post(f"{url}/auth/login", json=login, timeout=30).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        add_sensors(
            httpx.Client(base_url=url, headers=headers, timeout=30),
            "Gauge",
            [{"name": "level", "units": "m", "datatype": "float"}],
            ["gauge"],
        )
        event.listen(engine, "before_cursor_execute", slowly)

        async def many_at_once() -> list[int]:
            limits = httpx.Limits(max_connections=REQUESTS)
            async with httpx.AsyncClient(
                base_url=url, headers=headers, limits=limits, timeout=30
            ) as client:
                reads = [
                    client.post("/sensor/list-sensors-details", json={})
                    for _ in range(REQUESTS // 2)
                ]
                writes = [
                    client.post("/sensor/insert-sensor-readings", json=_one_reading(minute))
                    for minute in range(REQUESTS // 2)
                ]
                answers = await asyncio.gather(*reads, *writes)
            return [answer.status_code for answer in answers]

        answers = asyncio.run(many_at_once())
    assert answers == [200] * (REQUESTS // 2) + [201] * (REQUESTS // 2)
    assert most == REQUEST_THREADS


def _one_reading(minute: int) -> dict[str, Any]:
    return {
        "unique_identifier": "gauge",
        "measure_name": "level",
        "readings": [minute / 2],
        "timestamps": [f"2024-01-01T00:{minute:02d}:00Z"],
    }


def test_an_awaited_read_takes_its_turn_at_the_gate(
    settings: BackendSettings, database_url: str, clean_database: None
) -> None:
    """`list-sensors` awaits its statements in the event loop, with no worker thread, but
    still after the requests ahead of it at the gate (`one_thread.awaits_reads`): with
    the gate full of slow requests it answers after the first of them, not at once."""
    app = create_app(settings, database_url=database_url)
    engine: Engine = app.state.session_factory.kw["bind"]

    def slowly(*args: Any) -> None:
        # The sensors' query of `list-sensors-details` (the awaited reads do not go
        # through the engine).
        if "FROM sensor JOIN sensor_type" in args[2]:
            time.sleep(0.5)

    with served(app) as url:
        login = {"email": DEFAULT_USER_EMAIL, "password": DEFAULT_PASSWORD}
        token = httpx.post(f"{url}/auth/login", json=login, timeout=30).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        event.listen(engine, "before_cursor_execute", slowly)

        async def slow_then_quick() -> tuple[list[float], float]:
            async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:

                async def answered(path: str) -> float:
                    response = await client.post(path, json={})
                    assert response.status_code == 200, response.text
                    return time.monotonic()

                slow = [
                    asyncio.create_task(answered("/sensor/list-sensors-details"))
                    for _ in range(REQUEST_THREADS)
                ]
                await asyncio.sleep(0.2)  # the slow ones are at work, holding the gate
                quick = await answered("/sensor/list-sensors")
                return list(await asyncio.gather(*slow)), quick

        slow, quick = asyncio.run(slow_then_quick())

    assert quick > min(slow)
