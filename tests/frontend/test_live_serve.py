"""`dtbase serve frontend` (gunicorn) with live pages open: each stream holds a thread, so
the streams get threads of their own (DT_FRONTEND_STREAMS, on top of DT_FRONTEND_THREADS)
and one more is refused; the pages keep being served."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from dtbase.core.settings import DEFAULT_USER_EMAIL
from tests.utils.servers import served_frontend
from tests.utils.settings import DEFAULT_PASSWORD
from tests.utils.streams import browser_login, records

STREAMS = 2


@pytest.fixture
def one_thread_frontend(live_backend: str, clean_database: None) -> Iterator[str]:
    """One gunicorn worker with one thread for pages and STREAMS for streams."""
    with served_frontend(
        live_backend,
        DT_FRONTEND_WORKERS="1",
        DT_FRONTEND_THREADS="1",
        DT_FRONTEND_STREAMS=str(STREAMS),
    ) as url:
        yield url


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
