"""Shared by the services tests: the environment a service runs in, and a real HTTP
server for the local host."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from tests.utils.servers import served
from tests.utils.settings import DEFAULT_PASSWORD


@pytest.fixture
def backend_env(live_backend: str, clean_database: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """A service's environment: the backend URL and the default user's password."""
    monkeypatch.setenv("DT_BACKEND_URL", live_backend)
    monkeypatch.setenv("DT_DEFAULT_USER_PASS", DEFAULT_PASSWORD)
    for name in ("APIKEY", "LAT", "LONG", "URL"):
        monkeypatch.delenv(f"DT_OPENWEATHERMAP_{name}", raising=False)
    return live_backend


@pytest.fixture
def serve() -> Iterator[Callable[[Any], str]]:
    """Serve an ASGI app over real HTTP on a free port; returns its base URL."""
    with ExitStack() as servers:
        yield lambda app: servers.enter_context(served(app))
