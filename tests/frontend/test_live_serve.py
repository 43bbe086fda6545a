"""`dtbase serve frontend` (gunicorn) with live pages open: each stream holds a thread, so
the streams get threads of their own (DT_FRONTEND_STREAMS, on top of DT_FRONTEND_THREADS)
and one more is refused; the pages keep being served."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from dtbase.core.settings import DEFAULT_USER_EMAIL
from dtbase.devdb import free_port
from tests.utils.settings import DEFAULT_PASSWORD
from tests.utils.streams import browser_login, records

STREAMS = 2


@pytest.fixture
def one_thread_frontend(live_backend: str, clean_database: None) -> Iterator[str]:
    """One gunicorn worker with one thread for pages and STREAMS for streams."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DT_")}
    env.update(
        DT_ENVIRONMENT="production",
        DT_BACKEND_URL=live_backend,
        DT_FRONT_SECRET_KEY="a-frontend-secret-that-is-long-enough-for-production-use",
        DT_FRONTEND_WORKERS="1",
        DT_FRONTEND_THREADS="1",
        DT_FRONTEND_STREAMS=str(STREAMS),
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
        # Gunicorn waits for requests in flight; a stream's thread finds its browser gone
        # only at its next write (a keep-alive, every 15 s): no need to wait for that.
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_open_streams_leave_the_pages_their_thread(one_thread_frontend: str) -> None:
    with httpx.Client(base_url=one_thread_frontend, timeout=10) as browser:
        browser_login(browser, DEFAULT_USER_EMAIL, DEFAULT_PASSWORD)
        with (
            browser.stream("GET", "/events/stream") as one,
            browser.stream("GET", "/events/stream") as two,
        ):
            assert (one.status_code, two.status_code) == (200, 200)
            next(records(one)), next(records(two))

            refused = browser.get("/events/stream")
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "15"
            started = time.monotonic()
            for _ in range(5):
                assert browser.get("/home/index").status_code == 200
            assert time.monotonic() - started < 10  # served, not queued behind the streams
