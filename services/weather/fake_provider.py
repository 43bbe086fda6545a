"""A local stand-in for OpenWeatherMap's One Call API 3.0, for running the loop offline.

It answers the two endpoints the weather ingress calls, `GET /data/3.0/onecall/timemachine`
(one hour of history) and `GET /data/3.0/onecall` (the 48-hour hourly forecast), with
records taken from a real recording (London, March 2024, shipped in `data/`): two recorded
days, looped in step with the time of day, plus slow swings of a few days (temperature,
pressure, humidity) so that no two days are equal. The weather at an hour depends on that
hour only, so every run and every process sees the same weather, and any "now" works.

Point the ingress at it with `DT_OPENWEATHERMAP_URL=<base_url>` (`dtbase up --demo` does
that itself; `dtbase services fake-weather` serves it on its own). Any non-empty API key is
accepted unless one is given; a missing or wrong key gets the provider's recorded 401.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

RECORDING = "openweathermap_london_2024-03-10.json"
ERRORS = "openweathermap_errors.json"
PATH = "/data/3.0"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7072
HOUR = 3600
DAY = 24 * HOUR
LOOP_HOURS = 48  # two recorded days: a whole number of days keeps the time of day
FORECAST_HOURS = 48


def load(name: str) -> Any:
    """One of the shipped recordings, parsed."""
    return json.loads(resources.files("services.weather").joinpath("data", name).read_text())


@cache
def _recorded() -> tuple[dict[str, Any], tuple[dict[str, Any], ...]]:
    """The recording's location fields and its hourly records in time order (history,
    then the forecast's later hours)."""
    exchanges = load(RECORDING)["exchanges"]
    by_time: dict[int, dict[str, Any]] = {}
    location: dict[str, Any] = {}
    for exchange in exchanges:
        body = exchange["response"]["body"]
        location = {key: body[key] for key in ("lat", "lon", "timezone", "timezone_offset")}
        for record in body.get("data", body.get("hourly", [])):
            by_time.setdefault(record["dt"], record)
    return location, tuple(by_time[moment] for moment in sorted(by_time))


def weather_at(moment: int) -> dict[str, Any]:
    """The record for the hour holding `moment` (Unix seconds): a recorded hour of the same
    time of day, with the slow swings added."""
    hour = moment - moment % HOUR
    _, records = _recorded()
    first = records[0]["dt"]
    index = ((hour - first) // HOUR) % LOOP_HOURS
    source = records[index]
    offset = hour - source["dt"]  # whole days: the recorded time of day is kept
    days = hour / DAY
    wobble = 0.4 * math.sin(0.9 * hour / HOUR)
    record = dict(source)
    record["dt"] = hour
    for key in ("sunrise", "sunset"):
        if key in record:
            record[key] += offset
    record["temp"] = round(source["temp"] + 2.5 * math.sin(2 * math.pi * days / 5.3) + wobble, 2)
    record["pressure"] = round(source["pressure"] + 6 * math.sin(2 * math.pi * days / 7.7))
    record["humidity"] = min(100, max(0, source["humidity"] - round(3 * wobble)))
    return record


class FakeOpenWeatherMap:
    """The fake over real HTTP: `start()` in a thread (or `serve_forever()`), `base_url`,
    then `stop()`. `port=0` picks a free port."""

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        api_key: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.api_key = api_key
        self.clock = clock or (lambda: datetime.now(UTC))
        self.history_requests = 0
        self.forecast_requests = 0
        self._errors = load(ERRORS)
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, port), _handler(self))
        self.server.daemon_threads = True
        self.base_url = f"http://{host}:{self.server.server_address[1]}{PATH}"
        self._thread: threading.Thread | None = None

    def answer(self, target: str) -> tuple[int, Any]:
        """Status and JSON body for a GET of `target` (path and query)."""
        parts = urlsplit(target)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        key = query.get("appid", "")
        if not key.strip() or (self.api_key is not None and key != self.api_key):
            refused = self._errors["401"]
            return refused["status"], refused["body"]
        if query.get("units") != "metric":
            return 400, {"cod": 400, "message": "this fake answers only units=metric"}
        try:
            latitude, longitude = float(query["lat"]), float(query["lon"])
        except (KeyError, ValueError):
            return 400, {"cod": "400", "message": "Nothing to geocode"}
        location, _ = _recorded()
        location = {**location, "lat": latitude, "lon": longitude}
        if parts.path == f"{PATH}/onecall/timemachine":
            try:
                moment = int(query["dt"])
            except (KeyError, ValueError):
                return 400, {"cod": "400", "message": "dt: wrong value"}
            with self._lock:
                self.history_requests += 1
            return 200, {**location, "data": [weather_at(moment)]}
        if parts.path == f"{PATH}/onecall":
            with self._lock:
                self.forecast_requests += 1
            now = int(self.clock().timestamp())
            start = now - now % HOUR
            hours = [weather_at(start + i * HOUR) for i in range(FORECAST_HOURS)]
            return 200, {**location, "hourly": hours}
        return 404, {"cod": 404, "message": "Internal error: 404"}

    def start(self) -> FakeOpenWeatherMap:
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="fake-openweathermap", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        try:
            self.server.serve_forever()
        finally:
            self.server.server_close()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)


def _handler(provider: FakeOpenWeatherMap) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the ingress reports what it asked for

        def do_GET(self) -> None:
            status, body = provider.answer(self.path)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json; charset=utf-8")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
