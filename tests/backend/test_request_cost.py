"""What a small request costs: statements and transactions, counted with SQLAlchemy's
engine events, and worker-thread hops, on a real backend over HTTP. A guard against a
change that quietly adds a round trip or a hop to every request (bench/load.py measures
the time)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from dtbase.backend import one_thread
from dtbase.backend.app import create_app
from dtbase.backend.async_reads import AsyncReads
from dtbase.backend.auth.sweep import SessionSweeper
from dtbase.backend.db import Precompiled
from dtbase.backend.events.pruning import EventPruner
from dtbase.backend.events.stream import EventHub
from dtbase.core.settings import DEFAULT_USER_EMAIL, BackendSettings
from dtbase.schemas.users import Role
from tests.utils.accounts import UserFactory
from tests.utils.sensors import add_sensors
from tests.utils.servers import served
from tests.utils.settings import DEFAULT_PASSWORD


@dataclass
class Counted:
    statements: list[str] = field(default_factory=list)
    # Per statement: whether SQLAlchemy compiled it (or found it compiled) for this run.
    compiled: list[bool] = field(default_factory=list)
    # Statements awaited in the event loop (`async_reads`).
    awaited: list[str] = field(default_factory=list)
    commits: int = 0
    rollbacks: int = 0
    # Calls of a function in a worker thread: FastAPI's and most of ours through anyio,
    # one-hop endpoints and ingests through `one_thread.hop`; by the path of the request
    # that made them (the app's own background work makes some too, in no request).
    hops: list[str | None] = field(default_factory=list)
    # SQLAlchemy sessions made, by the path of the request that made them.
    sessions: list[str | None] = field(default_factory=list)
    # Connections of the engine's pool checked out when the client had its answer.
    checked_out: Callable[[], int] = lambda: 0

    def reset(self) -> None:
        self.statements, self.compiled, self.awaited = [], [], []
        self.commits, self.rollbacks, self.hops, self.sessions = 0, 0, [], []


_path: ContextVar[str | None] = ContextVar("request_path", default=None)


class _PathNoted:
    """The app, with each request's path in `_path` while it is served."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _path.set(scope.get("path"))
        try:
            await self.app(scope, receive, send)
        finally:
            _path.reset(token)


@pytest.fixture
def counted(
    settings: BackendSettings,
    database_url: str,
    clean_database: None,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[httpx.Client, Counted]]:
    """A client logged in to a backend whose engine counts what it sends, and which
    counts its hops to worker threads (its background work is off: in tests, or here)."""

    async def not_started(*_: Any) -> None:
        return None

    # The events' hub and pruner, and the session sweeper, read on their own, at moments
    # no request chooses.
    monkeypatch.setattr(EventHub, "start", not_started)
    monkeypatch.setattr(EventPruner, "start", lambda _: None)
    monkeypatch.setattr(SessionSweeper, "start", lambda sweeper: sweeper)
    app = create_app(settings, database_url=database_url)
    engine: Engine = app.state.session_factory.kw["bind"]
    seen = Counted(checked_out=engine.pool.checkedout)  # type: ignore[attr-defined]

    def statement(*args: Any) -> None:
        seen.statements.append(args[2])
        seen.compiled.append(args[4].compiled is not None)

    def commit(_: Any) -> None:
        seen.commits += 1

    def rollback(_: Any) -> None:
        seen.rollbacks += 1

    run_sync = anyio.to_thread.run_sync

    async def counting_run_sync(*args: Any, **options: Any) -> Any:
        seen.hops.append(_path.get())
        return await run_sync(*args, **options)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting_run_sync)
    hop = one_thread.hop

    async def counting_hop(*args: Any, **options: Any) -> Any:
        seen.hops.append(_path.get())
        return await hop(*args, **options)

    monkeypatch.setattr(one_thread, "hop", counting_hop)
    rows = AsyncReads.rows

    async def counting_rows(reads: AsyncReads, query: Precompiled[Any], **parameters: Any) -> Any:
        seen.awaited.append(query.sql)
        return await rows(reads, query, **parameters)

    monkeypatch.setattr(AsyncReads, "rows", counting_rows)
    made = Session.__init__

    def counting_init(session: Session, *args: Any, **options: Any) -> None:
        seen.sessions.append(_path.get())
        made(session, *args, **options)

    monkeypatch.setattr(Session, "__init__", counting_init)
    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    event.listen(engine, "rollback", rollback)
    with served(_PathNoted(app)) as url, httpx.Client(base_url=url, timeout=30) as client:
        login = {"email": DEFAULT_USER_EMAIL, "password": DEFAULT_PASSWORD}
        token = client.post("/auth/login", json=login).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client, seen


# Through one worker-thread hop (`one_thread`): the caller's lookup, the endpoint and the
# commit.
IN_ONE_HOP = [
    ("GET", "/health", 1),  # SELECT 1
    ("GET", "/location/list-location-schemas", 2),  # the user; the schemas
    ("POST", "/sensor/list-sensors-details", 2),  # the user; the sensors (no locations)
]
# Awaited in the event loop (`async_reads`): no hop, no transaction.
AWAITED = [
    ("GET", "/user/me", 1),  # the token's session and user, in one query
    ("POST", "/sensor/list-sensors", 2),  # the user; the sensors
]


def _cost_of(counted: tuple[httpx.Client, Counted], method: str, path: str) -> Counted:
    """What one request cost (answered 200), a sensor type and a sensor stored before."""
    client, seen = counted
    add_sensors(client, "Station", [{"name": "t", "units": "K", "datatype": "float"}], ["R1"])
    seen.reset()
    response = client.request(method, path, json={} if method == "POST" else None)
    assert response.status_code == 200, response.text
    return seen


@pytest.mark.parametrize(("method", "path", "statements"), IN_ONE_HOP)
def test_a_small_request_is_its_statements_and_one_commit(
    counted: tuple[httpx.Client, Counted], method: str, path: str, statements: int
) -> None:
    seen = _cost_of(counted, method, path)

    assert len(seen.statements) == statements, seen.statements
    assert (seen.commits, seen.rollbacks) == (1, 0)
    # The caller's lookup runs in the endpoint's session, not one of its own.
    assert seen.sessions.count(path) == 1


@pytest.mark.parametrize(("method", "path", "statements"), AWAITED)
def test_an_awaited_read_is_its_statements_and_nothing_else(
    counted: tuple[httpx.Client, Counted], method: str, path: str, statements: int
) -> None:
    """No worker thread, no SQLAlchemy session (so no transaction to end), and its
    statements compiled once (`db.Precompiled`)."""
    seen = _cost_of(counted, method, path)

    assert len(seen.awaited) == statements, seen.awaited
    assert "JOIN auth_sessions" in seen.awaited[0]
    assert (seen.statements, seen.commits, seen.rollbacks) == ([], 0, 0)
    assert path not in seen.hops
    assert path not in seen.sessions


def test_a_refused_request_rolls_back_and_commits_nothing(
    counted: tuple[httpx.Client, Counted],
) -> None:
    client, seen = counted
    add_sensors(client, "Station", [{"name": "t", "units": "K", "datatype": "float"}], ["R1"])
    seen.reset()

    body = {"type_name": "Station", "unique_identifier": "R1"}
    response = client.post("/sensor/insert-sensor", json=body)

    assert response.status_code == 409, response.text
    assert (seen.commits, seen.rollbacks) == (0, 1)


def test_a_bulk_insert_finds_its_sensors_in_one_statement_however_many(
    counted: tuple[httpx.Client, Counted],
) -> None:
    """A gateway's batch names many sensors: finding them must not cost a round trip each."""
    client, seen = counted
    uids = [f"R{number}" for number in range(20)]
    add_sensors(client, "Station", [{"name": "t", "units": "K", "datatype": "float"}], uids)

    def statements_to_store(sensors: list[str]) -> int:
        series = [
            {
                "unique_identifier": uid,
                "measure_name": "t",
                "readings": [1.5],
                "timestamps": [f"2026-01-0{1 + len(sensors) % 9}T00:00:00Z"],
            }
            for uid in sensors
        ]
        seen.reset()
        response = client.post("/sensor/insert-readings-bulk", json={"series": series})
        assert response.status_code == 201, response.text
        return len(seen.statements)

    assert statements_to_store(uids) == statements_to_store(uids[:1])


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _ in IN_ONE_HOP[1:]])
def test_the_callers_lookup_is_sent_as_sql_compiled_once(
    counted: tuple[httpx.Client, Counted], method: str, path: str
) -> None:
    """Every authenticated request's lookup of its caller is compiled at import
    (`db.Precompiled`): SQLAlchemy's work per execution of a `select` (its cache key,
    compiled form and result set-up) cost more than half of what waiting for PostgreSQL
    did (docs/performance.md)."""
    seen = _cost_of(counted, method, path)

    assert "JOIN auth_sessions" in seen.statements[0]
    assert seen.compiled[0] is False


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _ in IN_ONE_HOP])
def test_a_small_request_is_one_thread_hop(
    counted: tuple[httpx.Client, Counted], method: str, path: str
) -> None:
    """The user's lookup, the endpoint and the commit share one worker thread's call."""
    client, seen = counted
    seen.reset()

    response = client.request(method, path, json={} if method == "POST" else None)

    assert response.status_code == 200, response.text
    assert seen.hops.count(path) == 1


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"type_name": "Station"}, 200),
        ({"limit": "many"}, 422),
        ({"type_name": 5, "offset": -1}, 422),
    ],
)
@pytest.mark.parametrize("path", ["/sensor/list-sensors-details", "/sensor/list-sensors"])
def test_a_body_is_checked_after_the_user(
    counted: tuple[httpx.Client, Counted], body: dict[str, object], status: int, path: str
) -> None:
    """A good token of an ended session is a 401 whatever the body's fields (DTBase's
    order), on either path; with a live session a bad body is a 422, and the user's lookup
    that came first leaves no transaction open. (JSON that does not parse is a 422 before
    any of this.)"""
    client, seen = counted
    add_sensors(client, "Station", [{"name": "t", "units": "K", "datatype": "float"}], ["R1"])

    def post(headers: dict[str, str] | None = None) -> httpx.Response:
        return client.post(path, json=body, headers=headers)

    seen.reset()
    live = post()
    assert live.status_code == status, live.text
    if path.endswith("details"):  # in one hop; an awaited read has no transaction
        assert (seen.commits, seen.rollbacks) == ((1, 0) if status == 200 else (0, 1))
    # A 422's lookup ran in a session of its own (the endpoint's never came): closed.
    assert seen.checked_out() == 0
    login = {"email": DEFAULT_USER_EMAIL, "password": DEFAULT_PASSWORD}
    other = client.post("/auth/login", json=login).json()
    client.post("/auth/logout", headers={"Authorization": f"Bearer {other['access_token']}"})

    ended = post({"Authorization": f"Bearer {other['access_token']}"})

    assert (ended.status_code, ended.json()) == (401, {"detail": "Could not validate credentials"})


def test_another_dependencys_error_comes_after_the_user_and_the_role(
    counted: tuple[httpx.Client, Counted], user_factory: UserFactory
) -> None:
    """The CSV upload's own dependency refuses a body it cannot read (415); the deferred
    user's lookup and role check still answer first."""
    client, _ = counted
    url, plain = "/sensor/insert-readings-bulk-csv", {"content-type": "text/plain"}
    viewer = user_factory(Role.viewer)
    login = {"email": DEFAULT_USER_EMAIL, "password": DEFAULT_PASSWORD}
    ended = client.post("/auth/login", json=login).json()["access_token"]
    client.post("/auth/logout", headers={"Authorization": f"Bearer {ended}"})

    live = client.post(url, content=b"x", headers=plain)
    revoked = client.post(url, content=b"x", headers=plain | {"Authorization": f"Bearer {ended}"})
    refused = viewer.post(url, content=b"x", headers=plain)

    assert [live.status_code, revoked.status_code, refused.status_code] == [415, 401, 403]


OTHER_ROUTERS = ("/sensor", "/model", "/location", "/service", "/events", "/auth", "/fdb")


@pytest.mark.parametrize(("path", "status"), [("/user/me", 200), ("/mqtt/nowhere", 404)])
def test_a_request_is_compared_only_with_the_routes_under_its_prefix(
    counted: tuple[httpx.Client, Counted], monkeypatch: pytest.MonkeyPatch, path: str, status: int
) -> None:
    """Not with every route of every router before its own (`routing.PrefixedRouter`)."""
    client, _ = counted
    compared: list[str] = []
    matches = APIRoute.matches

    def noting(route: APIRoute, scope: Scope) -> tuple[Match, Scope]:
        compared.append(route.path)
        return matches(route, scope)

    monkeypatch.setattr(APIRoute, "matches", noting)

    assert client.get(path).status_code == status
    assert compared
    assert not [seen for seen in compared if seen.startswith(OTHER_ROUTERS)], compared
