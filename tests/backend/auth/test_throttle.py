"""Guessing passwords is throttled per account and per client address, and a flood of
logins waits in a queue of its own (issue 15, item 8)."""

from __future__ import annotations

import asyncio
import secrets
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from sqlalchemy import Engine, text

from dtbase.backend.app import create_app
from dtbase.backend.auth.passwords import PasswordQueue
from dtbase.core.settings import DEFAULT_USER_EMAIL, BackendSettings
from dtbase.devdb import free_port
from tests.utils.servers import served
from tests.utils.settings import DEFAULT_PASSWORD

OTHER = {"email": "other@example.com", "password": "the other password"}


@contextmanager
def _backend(settings: BackendSettings, database_url: str, **limits: Any) -> Iterator[str]:
    """A second backend process on the same database, with its own login limits."""
    app = create_app(settings.model_copy(update=limits), database_url=database_url)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "the backend did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _login(client: httpx.Client, email: str, password: str) -> httpx.Response:
    return client.post("/auth/login", json={"email": email, "password": password})


def test_guessing_one_accounts_password_is_throttled(
    anonymous: httpx.Client, admin: httpx.Client, settings: BackendSettings
) -> None:
    assert admin.post("/user/create-user", json=OTHER).status_code == 201
    answers = [_login(anonymous, DEFAULT_USER_EMAIL, f"guess {n}") for n in range(30)]

    codes = [answer.status_code for answer in answers]
    assert codes == [401] * settings.login_failures_per_account + [429] * 20
    retry_after = int(answers[-1].headers["Retry-After"])
    assert 0 < retry_after <= settings.login_window_seconds
    # The account is closed to everyone for the window, the right password too (the
    # attacker must not learn it by a 200 among the 429s), whatever the email's case ...
    assert _login(anonymous, DEFAULT_USER_EMAIL.upper(), DEFAULT_PASSWORD).status_code == 429
    # ... but other accounts behind the same address still log in.
    assert _login(anonymous, OTHER["email"], OTHER["password"]).status_code == 200


def test_guessing_from_one_address_is_throttled(
    settings: BackendSettings, database_url: str, clean_database: None
) -> None:
    # A window long enough for the five attempts on a loaded machine, short enough to wait.
    limits = {"login_failures_per_address": 3, "login_window_seconds": 5}
    with _backend(settings, database_url, **limits) as url, httpx.Client(base_url=url) as client:
        codes = [_login(client, f"user{n}@example.com", "guess").status_code for n in range(5)]
        refused = _login(client, DEFAULT_USER_EMAIL, DEFAULT_PASSWORD)
        assert codes == [401, 401, 401, 429, 429]
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 5

        time.sleep(int(refused.headers["Retry-After"]) + 0.1)
        # A new window: the address may try again.
        assert _login(client, DEFAULT_USER_EMAIL, DEFAULT_PASSWORD).status_code == 200


def test_a_successful_login_gives_its_attempt_back(
    settings: BackendSettings, database_url: str, clean_database: None
) -> None:
    # Many people behind one address (an office's NAT) log in all day.
    limits = {"login_failures_per_address": 2}
    with _backend(settings, database_url, **limits) as url, httpx.Client(base_url=url) as client:
        codes = [_login(client, DEFAULT_USER_EMAIL, DEFAULT_PASSWORD).status_code for _ in range(5)]
        assert codes == [200] * 5


def test_a_huge_email_is_just_a_failed_login(anonymous: httpx.Client) -> None:
    # The attempt is counted under a key of bounded size (the index refuses long keys).
    # Random characters: a repeated one would be compressed below the index's limit.
    response = _login(anonymous, secrets.token_hex(10_000) + "@example.com", "guess")

    assert response.status_code == 401
    assert response.json() == {"detail": "Incorrect email or password"}


def _median_seconds(client: httpx.Client, calls: int) -> float:
    durations = []
    for _ in range(calls):
        start = time.perf_counter()
        assert client.get("/user/me").status_code == 200
        durations.append(time.perf_counter() - start)
    return statistics.median(durations)


def _flood(
    url: str, path: str, bodies: list[dict[str, str]], done: threading.Event, token: str = ""
) -> list[int]:
    """Every body posted to `path` at once; the status codes."""

    async def flood() -> list[int]:
        limits = httpx.Limits(max_connections=len(bodies))
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with httpx.AsyncClient(
            base_url=url, timeout=120, limits=limits, headers=headers
        ) as client:

            async def one(body: dict[str, str]) -> int:
                return (await client.post(path, json=body)).status_code

            try:
                return list(await asyncio.gather(*(one(body) for body in bodies)))
            finally:
                done.set()

    return asyncio.run(flood())


def test_a_flood_of_logins_does_not_slow_other_requests(
    settings: BackendSettings, database_url: str, admin: httpx.Client, engine: Engine
) -> None:
    limits = {"login_failures_per_address": 10_000}
    with _backend(settings, database_url, **limits) as url, httpx.Client(base_url=url) as client:
        client.headers["Authorization"] = admin.headers["Authorization"]
        quiet = _median_seconds(client, 100)
        done = threading.Event()
        results: list[int] = []
        logins = [{"email": f"flood{n}@example.com", "password": "guess"} for n in range(150)]
        flooder = threading.Thread(
            target=lambda: results.extend(_flood(url, "/auth/login", logins, done))
        )
        flooder.start()
        time.sleep(0.5)  # the flood is queued by now
        busy = _median_seconds(client, 100)
        still_flooding = not done.is_set()
        flooder.join()

    assert still_flooding, "the flood ended before the measurement did"
    # Every login was answered: checked (401) or turned away because the queue was full,
    # and those turned away were not counted against their accounts.
    assert set(results) == {401, 429}
    with engine.connect() as connection:
        counted = connection.execute(
            text("SELECT count(*) FROM login_attempts WHERE key LIKE 'account:%' AND attempts > 0")
        ).scalar_one()
    assert counted == results.count(401)
    # Generous: the machine's cores are shared with the password checks.
    print(f"GET /user/me median: quiet {quiet * 1000:.1f} ms, flooded {busy * 1000:.1f} ms")
    assert busy < 5 * quiet + 0.05, (quiet, busy)


def test_a_flood_of_password_changes_does_not_slow_other_requests(
    settings: BackendSettings, database_url: str, admin: httpx.Client
) -> None:
    # Any logged-in user may change their own password, as often as they like: the hashing
    # waits in the queue that logins use, not in the threads that serve the API.
    assert admin.post("/user/create-user", json=OTHER).status_code == 201
    new_password = "the flooder's new password"
    with _backend(settings, database_url) as url, httpx.Client(base_url=url) as client:
        client.headers["Authorization"] = admin.headers["Authorization"]
        token = _login(client, OTHER["email"], OTHER["password"]).json()["access_token"]
        quiet = _median_seconds(client, 100)
        done = threading.Event()
        results: list[int] = []
        changes = [{"email": OTHER["email"], "password": new_password}] * 150
        flooder = threading.Thread(
            target=lambda: results.extend(
                _flood(url, "/user/change-password", changes, done, token)
            )
        )
        flooder.start()
        time.sleep(0.5)  # the flood is queued by now
        busy = _median_seconds(client, 100)
        still_flooding = not done.is_set()
        flooder.join()

        # The password is changed, and the flooder's session ended with the first change:
        # the changes behind it were refused (401), or turned away while the queue was full.
        assert results.count(200) >= 1
        assert set(results) <= {200, 401, 429}, results
        assert _login(client, OTHER["email"], OTHER["password"]).status_code == 401
        assert _login(client, OTHER["email"], new_password).status_code == 200
        refused = client.get("/user/me", headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 401

    assert still_flooding, "the flood ended before the measurement did"
    print(f"GET /user/me median: quiet {quiet * 1000:.1f} ms, flooded {busy * 1000:.1f} ms")
    print({code: results.count(code) for code in set(results)})
    assert busy < 5 * quiet + 0.05, (quiet, busy)


def test_a_full_password_queue_turns_away_and_changes_nothing(
    settings: BackendSettings, database_url: str, admin: httpx.Client, anonymous: httpx.Client
) -> None:
    assert admin.post("/user/create-user", json=OTHER).status_code == 201
    app = create_app(settings, database_url=database_url)
    app.state.password_queue = PasswordQueue(1, max_waiting=0)  # full from the start
    with served(app) as url, httpx.Client(base_url=url) as client:
        client.headers["Authorization"] = admin.headers["Authorization"]
        answers = [
            client.post(
                "/user/change-password", json={"email": OTHER["email"], "password": "changed!"}
            ),
            client.post(
                "/user/create-user", json={"email": "new@example.com", "password": "p" * 8}
            ),
            _login(client, OTHER["email"], OTHER["password"]),
        ]

    for answer in answers:
        assert answer.status_code == 429
        assert answer.headers["Retry-After"] == "2"
        assert answer.json() == {
            "detail": "Too many logins and password changes at once; try again shortly"
        }
    # Nothing was done: the password is the old one, no session ended, no user created.
    assert admin.get("/user/list-users").json() == [DEFAULT_USER_EMAIL, OTHER["email"]]
    assert _login(anonymous, OTHER["email"], "changed!").status_code == 401
    assert _login(anonymous, OTHER["email"], OTHER["password"]).status_code == 200
