"""`dtbase serve frontend`, the container's command: gunicorn worker processes, and a login
that holds whichever worker serves the next request (sessions are signed cookies)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from dtbase.core.settings import DEFAULT_USER_EMAIL
from tests.utils.servers import served_frontend
from tests.utils.settings import DEFAULT_PASSWORD

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@pytest.fixture
def two_workers(live_backend: str, clean_database: None) -> Iterator[str]:
    with served_frontend(live_backend, DT_FRONTEND_WORKERS="2") as url:
        yield url


def test_gunicorn_serves_the_frontend_and_sessions_span_workers(two_workers: str) -> None:
    with httpx.Client(base_url=two_workers) as browser:
        page = browser.get("/login")
        assert page.status_code == 200
        assert page.headers["server"].startswith("gunicorn")
        token = CSRF.search(page.text)
        assert token is not None
        answer = browser.post(
            "/login",
            data={
                "csrf_token": token.group(1),
                "email": DEFAULT_USER_EMAIL,
                "password": DEFAULT_PASSWORD,
            },
        )
        assert answer.status_code == 302
        # Many requests, so both workers serve some: each must know the session.
        for _ in range(20):
            home = browser.get("/home/index")
            assert home.status_code == 200
            assert DEFAULT_USER_EMAIL in home.text
