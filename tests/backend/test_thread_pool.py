"""More requests at once than worker threads and connections: every one is answered.

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
from dtbase.backend.one_thread import OneThreadRoute
from dtbase.core.settings import DEFAULT_USER_EMAIL, BackendSettings
from tests.utils.servers import served
from tests.utils.settings import DEFAULT_PASSWORD

THREADS = 4  # fewer than the pool's 15 connections, so that requests outnumber both
REQUESTS = 60


class FewThreads:
    """The app with a small default thread pool (set in its event loop, at start-up)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
        await self.app(scope, receive, send)


async def _burst(url: str, token: str) -> list[int]:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=REQUESTS)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits) as client:
        # A deadlock would last the pool's 30 s: the client gives up well before.
        answers = await asyncio.gather(
            *(client.post("/sensor/list-sensors", json={}, timeout=20) for _ in range(REQUESTS)),
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
                    *(client.post("/sensor/list-sensors", json={}) for _ in range(2))
                )
            return [answer.status_code for answer in answers]

        assert asyncio.run(two_at_once()) == [200, 200]
        assert inside == [True, True]


def test_endpoints_take_their_turn_from_the_shared_limiter(
    settings: BackendSettings, database_url: str, clean_database: None
) -> None:
    """A one-hop endpoint's thread is not anyio's, but it still waits for anyio's shared
    limiter: no more endpoints at work at once than it allows, first come first served."""
    app = create_app(settings, database_url=database_url)
    lock = threading.Lock()
    at_work = [0]
    most = [0]

    def slow() -> dict[str, str]:
        with lock:
            at_work[0] += 1
            most[0] = max(most[0], at_work[0])
        time.sleep(0.2)  # long enough for every request to arrive meanwhile
        with lock:
            at_work[0] -= 1
        return {}

    app.router.add_api_route(
        "/test/slow", slow, methods=["GET"], route_class_override=OneThreadRoute
    )

    async def many_at_once(url: str) -> list[int]:
        limits = httpx.Limits(max_connections=3 * THREADS)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
            answers = await asyncio.gather(*(client.get("/test/slow") for _ in range(3 * THREADS)))
        return [answer.status_code for answer in answers]

    with served(FewThreads(app)) as url:
        assert asyncio.run(many_at_once(url)) == [200] * (3 * THREADS)
    assert most[0] == THREADS
