"""A database restart under a running backend: pooled connections die with it. The backend
must answer with a 503 (not a 500) while it meets them, and serve again right after: on
SQLAlchemy's pool and on the pool of the reads awaited in the event loop (`async_reads`)."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from dtbase.backend import migrate
from dtbase.backend.app import create_app
from dtbase.core.settings import DEFAULT_USER_EMAIL, BackendSettings
from dtbase.devdb import FAST_UNSAFE_OPTIONS, EmbeddedPostgres, free_port
from tests.utils.servers import served
from tests.utils.settings import DEFAULT_PASSWORD

LOGIN = {"email": DEFAULT_USER_EMAIL, "password": DEFAULT_PASSWORD}


def test_a_backend_serves_again_after_its_database_restarts(
    tmp_path: Path, settings: BackendSettings
) -> None:
    server = EmbeddedPostgres(tmp_path / "pgdata", free_port(), options=FAST_UNSAFE_OPTIONS)
    url = server.start()
    try:
        migrate.upgrade(url)
        with TestClient(create_app(settings, database_url=url)) as client:
            login = client.post("/auth/login", json=LOGIN)
            client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
            # The awaited reads' pool now holds a connection, which the restart kills.
            assert client.post("/sensor/list-sensors", json={}).status_code == 200
            server.stop()
            down = client.post("/auth/login", json=LOGIN)
            down_read = client.post("/sensor/list-sensors", json={})
            server.start()
            after = [client.post("/auth/login", json=LOGIN) for _ in range(3)]
            after_read = [client.post("/sensor/list-sensors", json={}) for _ in range(3)]
    finally:
        server.stop()

    for answer in (down, down_read):
        assert answer.status_code == 503, answer.text
        assert "database is unavailable" in answer.json()["detail"]
    # The first request after the restart may still meet a dead pooled connection.
    for answers in (after, after_read):
        assert [answer.status_code for answer in answers][1:] == [200, 200]
        assert answers[0].status_code in (200, 503), answers[0].text


def test_an_app_served_again_awaits_its_reads_again(
    settings: BackendSettings, database_url: str, clean_database: None
) -> None:
    """The awaited reads' pool belongs to one start-up of the app (its event loop): an app
    stopped and served again (as the MQTT bridge's tests restart their backend) makes a
    new one."""
    app = create_app(settings, database_url=database_url)
    answers = []
    for _ in range(2):
        with served(app) as url, httpx.Client(base_url=url, timeout=30) as client:
            token = client.post("/auth/login", json=LOGIN).json()["access_token"]
            client.headers["Authorization"] = f"Bearer {token}"
            answers.append(client.post("/sensor/list-sensors", json={}).status_code)

    assert answers == [200, 200]
