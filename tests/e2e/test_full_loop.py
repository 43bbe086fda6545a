"""The full loop, as a newcomer would run it: `dtbase up`, the weather service ingesting
OpenWeatherMap data on a schedule, ARIMA forecasting it on a schedule, every run visible
through the API.

Only the provider is fake: a real HTTP server on 127.0.0.1 answering One Call 3.0 requests
with the recorded London payloads (tests/services/data), moved in time so that the
recording's last hour is the current hour (the services ask for "now" and its past, as
they do in production). The recording holds 24 hours of history, too few for ARIMA (30
points at least, and two days to see a daily season), so the provider synthesises older
hours: the recorded day repeated backwards, with a slow trend (warmer and lower pressure
further back) and a small deterministic wobble, so that no two days are equal. Everything
else is real: `dtbase up` in a subprocess (embedded PostgreSQL, migrations, backend with
its scheduler at a short interval, the services host, registration), driven only through
`dtbase.client`.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import pytest

from dtbase.client import Client
from dtbase.devdb import free_port
from dtbase.schemas.services import ServiceRunDetails

DATA = Path(__file__).parents[1] / "services" / "data"
CASSETTE = DATA / "openweathermap_london_2024-03-10.json"
ERRORS = DATA / "openweathermap_errors.json"
API_KEY = "fedcba9876543210fedcba9876543210"
LATITUDE, LONGITUDE = 51.53, -0.127
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
HISTORY_HOURS = 72
HORIZON_HOURS = 24
# Generous: the machine is shared, and nothing here measures speed.
DEADLINE_SECONDS = 120
T = TypeVar("T")


def _floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


class FakeOpenWeatherMap:
    """One Call 3.0 over real HTTP, replaying the recording `shift` later."""

    def __init__(self) -> None:
        cassette = json.loads(CASSETTE.read_text())
        self.errors = json.loads(ERRORS.read_text())
        self.recorded: dict[int, dict[str, Any]] = {}
        self.forecast_body: dict[str, Any] = {}
        for exchange in cassette["exchanges"]:
            body = exchange["response"]["body"]
            if exchange["request"]["path"].endswith("/timemachine"):
                [record] = body["data"]
                self.recorded[record["dt"]] = record
            else:
                self.forecast_body = body
        self.first = min(self.recorded)
        self.last = max(self.recorded)
        recorded_at = datetime.fromisoformat(cassette["recorded_at"])
        self.shift = int(
            (_floor_hour(datetime.now(UTC)) - _floor_hour(recorded_at)).total_seconds()
        )
        self.history_requests = 0
        self.forecast_requests = 0
        self._lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                status, body = provider.answer(self.path)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json; charset=utf-8")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/data/3.0"

    def answer(self, target: str) -> tuple[int, Any]:
        parts = urlsplit(target)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        if query.get("appid") != API_KEY:
            refused = self.errors["401"]
            return refused["status"], refused["body"]
        if query.get("units") != "metric":
            return 400, {"cod": 400, "message": "expected metric units"}
        if parts.path == "/data/3.0/onecall/timemachine":
            with self._lock:
                self.history_requests += 1
            moment = int(query["dt"])
            body = {key: value for key, value in self.forecast_body.items() if key != "hourly"}
            return 200, {**body, "data": [self.history_record(moment)]}
        if parts.path == "/data/3.0/onecall":
            with self._lock:
                self.forecast_requests += 1
            hourly = [self._moved(record) for record in self.forecast_body["hourly"]]
            return 200, {**self.forecast_body, "hourly": hourly}
        return 404, {"cod": 404, "message": "Internal error: 404"}

    def history_record(self, moment: int) -> dict[str, Any]:
        """The weather at `moment` (now's time): recorded, or synthesised from the
        recorded hour of the same time of day."""
        recorded_time = moment - self.shift
        days, _ = divmod(recorded_time - self.first, 86400)
        source = self.recorded[recorded_time - days * 86400]
        record = dict(source)
        if days != 0:
            hours_outside = (
                (self.first - recorded_time) / 3600
                if recorded_time < self.first
                else -(recorded_time - self.last) / 3600
            )
            wobble = 0.4 * math.sin(0.9 * hours_outside)
            record["temp"] = round(source["temp"] + 0.03 * hours_outside + wobble, 2)
            record["pressure"] = round(source["pressure"] - 0.1 * hours_outside)
            record["humidity"] = min(100, max(0, source["humidity"] - round(2 * wobble)))
        return self._moved(record, recorded_time)

    def _moved(self, record: dict[str, Any], recorded_time: int | None = None) -> dict[str, Any]:
        moved = dict(record)
        moved["dt"] = (record["dt"] if recorded_time is None else recorded_time) + self.shift
        for key in ("sunrise", "sunset"):
            if key in moved:
                moved[key] += self.shift
        return moved


@pytest.fixture
def provider() -> Iterator[FakeOpenWeatherMap]:
    provider = FakeOpenWeatherMap()
    thread = threading.Thread(target=provider.server.serve_forever, daemon=True)
    thread.start()
    yield provider
    provider.server.shutdown()
    provider.server.server_close()
    thread.join(timeout=10)


@pytest.fixture
def up_env(tmp_path: Path, provider: FakeOpenWeatherMap) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DT_")}
    env.update(
        DT_DATA_DIR=str(tmp_path / "data"),
        DT_EMBEDDED_PORT=str(free_port()),
        DT_BACKEND_PORT=str(free_port()),
        DT_FRONTEND_PORT=str(free_port()),
        DT_SERVICES_PORT=str(free_port()),
        DT_SCHEDULER_INTERVAL_SECONDS="0.5",
        DT_SERVICE_TIMEOUT_SECONDS="120",
        DT_OPENWEATHERMAP_URL=provider.base_url,
        DT_OPENWEATHERMAP_APIKEY=API_KEY,
    )
    return env


@contextmanager
def _up(env: dict[str, str]) -> Iterator[tuple[str, str, str]]:
    """`dtbase up` until the block ends (then Ctrl-C); (backend URL, email, password)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "dtbase", "up"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    printed = ""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while "Application startup complete" not in printed:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            pytest.fail(f"dtbase up stopped:\n{printed}")
        assert time.monotonic() < deadline, printed
        printed += line
    backend = re.search(r"backend\s+(http://\S+)", printed)
    login = re.search(r"login\s+(\S+) / (\S+)", printed)
    assert backend, printed
    assert login, printed
    # Drain the output, so a chatty backend never blocks on a full pipe.
    output: list[str] = []
    drain = threading.Thread(target=lambda: output.extend(process.stdout or []), daemon=True)
    drain.start()
    try:
        yield backend.group(1), login.group(1), login.group(2)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=DEADLINE_SECONDS)
        drain.join(timeout=10)
    assert process.returncode == 0, printed + "".join(output)


def _eventually(ask: Callable[[], T | None], what: str) -> T:
    """The first answer of `ask` that is not None, polled until the deadline."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while (answer := ask()) is None:
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.25)
    return answer


def _finished_run(client: Client, service: str) -> Callable[[], ServiceRunDetails | None]:
    def ask() -> ServiceRunDetails | None:
        runs = client.services.list_runs_details(service)
        assert len(runs) <= 1, runs
        return runs[0] if runs and runs[0].status != "pending" else None

    return ask


def test_weather_ingested_on_a_schedule_is_forecast_by_arima_on_a_schedule(
    up_env: dict[str, str], provider: FakeOpenWeatherMap
) -> None:
    with (
        _up(up_env) as (backend, email, password),
        Client.logged_in(backend, email, password) as client,
    ):
        # `up` registers its services in the background, once the backend answers.
        _eventually(
            lambda: (
                {"weather", "arima"} <= {s.name for s in client.services.list_services()} or None
            ),
            "the services to be registered",
        )

        # Due at once: the scheduler runs it at its next tick, then not for an hour.
        weather_parameters = {
            "dt_from": f"-{HISTORY_HOURS}h",
            "dt_to": "+48h",
            "latitude": LATITUDE,
            "longitude": LONGITUDE,
        }
        client.services.insert_parameter_set("weather", "london", weather_parameters)
        weather_start = datetime.now(UTC).replace(microsecond=0)
        client.services.insert_schedule(
            "weather",
            "hourly",
            interval_seconds=3600,
            parameter_set_name="london",
            start_at=weather_start,
        )
        weather = _eventually(_finished_run(client, "weather"), "the scheduled weather run")

        assert weather.status == "succeeded", weather.response_json
        assert weather.schedule_name == "hourly"
        assert weather.parameter_set_name == "london"
        assert weather.response_status_code == 200
        summary = weather.response_json
        assert summary["ok"] is True, summary
        assert summary["problems"] == []
        history, forecast = summary["history"], summary["forecast"]
        assert "errors" not in history, summary
        assert "errors" not in forecast, summary
        # One provider call per hour of the range up to now, every one answered.
        assert history["requests"] in (HISTORY_HOURS, HISTORY_HOURS + 1)
        assert history["records"] == history["requests"] == provider.history_requests
        assert forecast["records"] >= 46
        assert provider.forecast_requests == 1

        now = datetime.now(UTC)
        observed = client.sensors.sensor_readings(
            "temperature", "OpenWeatherMapHistory", now - 4 * DAY, now
        )
        assert len(observed) == history["records"]
        times = [reading.timestamp for reading in observed]
        assert all(later - earlier == HOUR for earlier, later in pairwise(times))
        # The recorded hours are the recording's own, unchanged.
        by_time = {reading.timestamp: reading.value for reading in observed}
        for moment, record in provider.recorded.items():
            assert by_time[datetime.fromtimestamp(moment + provider.shift, UTC)] == pytest.approx(
                record["temp"]
            )
        temperatures = [float(reading.value) for reading in observed]
        forecasts = client.sensors.sensor_readings(
            "temperature", "OpenWeatherMapForecast", now, now + 3 * DAY
        )
        assert len(forecasts) == forecast["records"]

        arima_parameters = {
            "sensors": ["OpenWeatherMapHistory"],
            "measures": ["temperature"],
            "training_days": 7,
            "horizon_hours": HORIZON_HOURS,
        }
        arima_start = datetime.now(UTC).replace(microsecond=0)
        client.services.insert_schedule(
            "arima",
            "daily",
            interval_seconds=86400,
            parameters=arima_parameters,
            start_at=arima_start,
        )
        arima = _eventually(_finished_run(client, "arima"), "the scheduled ARIMA run")

        assert arima.status == "succeeded", arima.response_json
        assert arima.schedule_name == "daily"
        assert arima.parameters == arima_parameters
        assert arima.response_json["ok"] is True, arima.response_json
        [series] = arima.response_json["series"]
        assert "error" not in series, series
        assert series["readings"] == len(observed)
        assert series["step_minutes"] == 60

        [run] = client.models.list_model_runs("Arima")
        assert run.scenario_description == "Business as usual"
        assert run.sensor_unique_id == "OpenWeatherMapHistory"
        assert run.sensor_measure is not None
        assert run.sensor_measure.name == "temperature"
        assert run.sensor_measure.units == "degrees Celsius"
        values = client.models.get_model_run(run.id)
        assert set(values) == {
            "Mean temperature",
            "Upper Bound temperature",
            "Lower Bound temperature",
            "Upper Bound 95% temperature",
            "Lower Bound 95% temperature",
        }
        mean = values["Mean temperature"]
        assert len(mean) == series["steps"] >= HORIZON_HOURS
        stamps = [point.timestamp for point in mean]
        assert stamps[0] == times[-1] + HOUR
        assert all(later - earlier == HOUR for earlier, later in pairwise(stamps))
        for name in values:
            assert [point.timestamp for point in values[name]] == stamps
        # Plausible: within the observed range give or take a few degrees, the bounds
        # nested around the mean and the 95% band wider than the 68% one.
        low, high = min(temperatures), max(temperatures)
        for index, point in enumerate(mean):
            m = float(point.value)
            lower = float(values["Lower Bound temperature"][index].value)
            upper = float(values["Upper Bound temperature"][index].value)
            lower95 = float(values["Lower Bound 95% temperature"][index].value)
            upper95 = float(values["Upper Bound 95% temperature"][index].value)
            assert low - 5 <= m <= high + 5, (index, m, low, high)
            assert lower95 <= lower < m < upper <= upper95, index
            assert upper95 - lower95 < 4 * (high - low)

        # Both runs in the run log (DTBase's list-runs too), and the schedules moved on.
        runs = client.services.list_runs_details()
        assert [(r.service_name, r.schedule_name, r.status) for r in runs] == [
            ("weather", "hourly", "succeeded"),
            ("arima", "daily", "succeeded"),
        ]
        assert [r.service_name for r in client.services.list_runs()] == ["weather", "arima"]
        # Each ran once, and its next run keeps the phase of its start.
        schedules = {s.name: s for s in client.services.list_schedules()}
        for name, start, every in (("hourly", weather_start, HOUR), ("daily", arima_start, DAY)):
            last_run_at = schedules[name].last_run_at
            assert last_run_at is not None
            assert last_run_at >= start
            assert schedules[name].next_run_at == start + every
