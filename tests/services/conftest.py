"""Shared by the services tests: recorded provider answers, the environment a service
runs in, and a real HTTP server for the local host."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from dtbase.devdb import free_port
from tests.conftest import DEFAULT_PASSWORD

# The recordings ship with the weather service (its offline fake provider replays them).
DATA = Path(__file__).parents[2] / "services" / "weather" / "data"
CASSETTE = DATA / "openweathermap_london_2024-03-10.json"
ERRORS = DATA / "openweathermap_errors.json"
API_KEY = "0123456789abcdef0123456789abcdef"
# The moment the recording was made.
RECORDED_AT = datetime(2024, 3, 10, 12, 20, tzinfo=UTC)


def recorded_response(spec: dict[str, Any]) -> httpx.Response:
    headers = spec.get("headers", {})
    if "body" in spec:
        return httpx.Response(spec["status"], headers=headers, content=json.dumps(spec["body"]))
    return httpx.Response(spec["status"], headers=headers, text=spec["text"])


class Provider:
    """Replays the recorded One Call exchanges; `fail` maps a call number (0-based) or
    "forecast"/"history" to a recorded error status to answer instead."""

    def __init__(self, fail: dict[int | str, str] | None = None) -> None:
        self.exchanges = json.loads(CASSETTE.read_text())["exchanges"]
        self.errors = json.loads(ERRORS.read_text())
        self.fail = fail or {}
        self.requests: list[httpx.Request] = []

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        number = len(self.requests)
        self.requests.append(request)
        query = dict(request.url.params)
        assert query.pop("appid") == API_KEY
        part = "history" if request.url.path.endswith("timemachine") else "forecast"
        status = self.fail.get(number) or self.fail.get(part)
        if status == "network":
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        if status is not None:
            return recorded_response(self.errors[status])
        for exchange in self.exchanges:
            recorded = exchange["request"]
            if recorded["path"] == request.url.path and recorded["query"] == query:
                return recorded_response(exchange["response"])
        # A timestamp that was not recorded: the provider answers with no data.
        return httpx.Response(200, json={"lat": 51.53, "lon": -0.127, "data": []})


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
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(app: Any) -> str:
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("The services host did not start")
            time.sleep(0.02)
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)
