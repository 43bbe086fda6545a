"""A database restart under a running backend: pooled connections die with it. The backend
must answer with a 503 (not a 500) while it meets them, and serve again right after."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from dtbase.backend import migrate
from dtbase.backend.app import create_app
from dtbase.core.settings import DEFAULT_USER_EMAIL, BackendSettings
from dtbase.devdb import FAST_UNSAFE_OPTIONS, EmbeddedPostgres, free_port
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
            assert client.post("/auth/login", json=LOGIN).status_code == 200
            server.stop()
            down = client.post("/auth/login", json=LOGIN)
            server.start()
            after = [client.post("/auth/login", json=LOGIN) for _ in range(3)]
    finally:
        server.stop()

    assert down.status_code == 503, down.text
    assert "database is unavailable" in down.json()["detail"]
    # The first request after the restart may still meet a dead pooled connection.
    assert [answer.status_code for answer in after][1:] == [200, 200]
    assert after[0].status_code in (200, 503), after[0].text
