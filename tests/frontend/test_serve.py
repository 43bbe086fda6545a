"""`dtbase serve frontend`, the container's command: gunicorn worker processes, and a login
that holds whichever worker serves the next request (sessions are signed cookies)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from dtbase.core.settings import DEFAULT_USER_EMAIL
from dtbase.devdb import free_port
from tests.utils.settings import DEFAULT_PASSWORD

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@pytest.fixture
def served_frontend(live_backend: str, clean_database: None) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DT_")}
    env.update(
        DT_ENVIRONMENT="production",
        DT_BACKEND_URL=live_backend,
        DT_FRONT_SECRET_KEY="a-frontend-secret-that-is-long-enough-for-production-use",
        DT_FRONTEND_WORKERS="2",
        # Served over plain HTTP here: a Secure cookie would never come back.
        DT_SESSION_COOKIE_SECURE="false",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "dtbase", "serve", "frontend", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{url}/login", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, "dtbase serve frontend exited"
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_gunicorn_serves_the_frontend_and_sessions_span_workers(served_frontend: str) -> None:
    with httpx.Client(base_url=served_frontend) as browser:
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
