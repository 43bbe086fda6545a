"""Login sessions past their expiry are deleted in the background, in batches, by every
backend at once if need be; live sessions, and those expired only just, stay."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from dtbase.backend.app import create_app
from dtbase.backend.auth.sweep import MARGIN_SECONDS, SessionSweeper
from dtbase.backend.db import make_session_factory
from dtbase.backend.users import store as users_store
from dtbase.core.settings import DEFAULT_USER_EMAIL, BackendSettings
from dtbase.schemas.users import Role
from tests.utils.accounts import UserFactory

DAY = 86_400.0


def _expire(engine: Engine, seconds_ago: dict[str, float]) -> None:
    """The sessions of each user expired that many seconds ago (negative: expire later)."""
    with engine.begin() as connection:
        for email, seconds in seconds_ago.items():
            connection.execute(
                text(
                    "UPDATE auth_sessions SET expires_at = now() - make_interval(secs => :ago)"
                    " WHERE user_id = (SELECT id FROM users WHERE email = :email)"
                ),
                {"ago": seconds, "email": email},
            )


def _expired_sessions(engine: Engine, count: int, *, email: str = DEFAULT_USER_EMAIL) -> None:
    """`count` sessions of the user `email` that expired a day ago; the user is made if new
    (a user nobody logs in as again: no login of theirs deletes them)."""
    with make_session_factory(engine).begin() as session:
        if users_store.find(session, email=email) is None:
            users_store.create(session, email=email, password_hash="not a hash")
        session.execute(
            text(
                "INSERT INTO auth_sessions (id, user_id, refresh_number, expires_at)"
                " SELECT gen_random_uuid(), id, 0, now() - interval '1 day'"
                " FROM users, generate_series(1, :count) WHERE email = :email"
            ),
            {"count": count, "email": email},
        )


def _owners(engine: Engine) -> list[str]:
    """The user of each session left, by email."""
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT email FROM auth_sessions JOIN users ON users.id = user_id ORDER BY 1")
        )
        return [row[0] for row in rows]


def _me(client: httpx.Client) -> int:
    return client.get("/user/me").status_code


def test_expired_sessions_go_in_batches_and_the_others_stay(
    engine: Engine, admin: httpx.Client, user_factory: UserFactory
) -> None:
    ages = {
        "gone-1@example.com": 30 * DAY,
        "gone-2@example.com": DAY,
        "gone-3@example.com": MARGIN_SECONDS + 60,
        "just-expired@example.com": MARGIN_SECONDS - 60,
        "live@example.com": -3600,
    }
    clients = {email: user_factory(Role.viewer, email) for email in ages}
    _expire(engine, ages)
    sweeper = SessionSweeper(make_session_factory(engine), batch=2)

    assert sweeper.run_once() is True  # a full batch: maybe more
    assert sweeper.run_once() is False
    assert sweeper.run_once() is False  # nothing more: idempotent

    assert _owners(engine) == [DEFAULT_USER_EMAIL, "just-expired@example.com", "live@example.com"]
    # The backend agrees: a swept session's tokens are refused, the others' work.
    assert [_me(client) for client in clients.values()] == [401, 401, 401, 200, 200]
    assert _me(admin) == 200


def test_several_sweepers_at_once_delete_each_session_once(
    engine: Engine, admin: httpx.Client
) -> None:
    _expired_sessions(engine, 500)
    factory = make_session_factory(engine)
    sweepers = [SessionSweeper(factory, batch=50) for _ in range(4)]

    def drain(sweeper: SessionSweeper) -> int:
        runs = 1
        while sweeper.run_once():
            runs += 1
        return runs

    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(drain, sweepers))

    assert _owners(engine) == [DEFAULT_USER_EMAIL]  # the admin's live session
    assert sum(runs) >= 500 // 50
    assert _me(admin) == 200


def test_the_backend_sweeps_on_its_own(
    engine: Engine, database_url: str, settings: BackendSettings, clean_database: None
) -> None:
    _expired_sessions(engine, 3, email="gone@example.com")
    app = create_app(settings, database_url=database_url)

    with TestClient(app):  # its lifespan: the backend's background work runs
        deadline = time.monotonic() + 10
        while _owners(engine) and time.monotonic() < deadline:
            time.sleep(0.05)

    assert _owners(engine) == []
