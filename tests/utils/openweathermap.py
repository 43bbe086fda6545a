"""OpenWeatherMap as recorded: the One Call exchanges replayed to the weather services."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

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
