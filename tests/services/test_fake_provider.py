"""The shipped fake OpenWeatherMap: One Call 3.0 over real HTTP, recorded weather, any now;
and the weather service ingesting from it into the real backend."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import httpx
import pytest

from dtbase.client import Client
from services.weather import handler as weather
from services.weather.fake_provider import FakeOpenWeatherMap, load, weather_at
from tests.utils.openweathermap import CASSETTE

NOW = datetime(2026, 12, 4, 22, 17, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def provider() -> Iterator[FakeOpenWeatherMap]:
    provider = FakeOpenWeatherMap(port=0, clock=lambda: NOW).start()
    yield provider
    provider.stop()


def _get(provider: FakeOpenWeatherMap, path: str, **query: str | float) -> httpx.Response:
    params: dict[str, str | float] = {
        "lat": 51.53,
        "lon": -0.127,
        "units": "metric",
        "appid": "key",
    }
    params.update(query)
    return httpx.get(provider.base_url + path, params=params, timeout=10)


def test_the_recordings_ship_with_the_package() -> None:
    assert load("openweathermap_london_2024-03-10.json") == json.loads(CASSETTE.read_text())


def test_history_is_one_record_of_the_hour_asked_for(provider: FakeOpenWeatherMap) -> None:
    moment = int((NOW - 5 * HOUR).timestamp())

    response = _get(provider, "/onecall/timemachine", dt=moment)

    assert response.status_code == 200
    body = response.json()
    assert (body["lat"], body["lon"], body["timezone"]) == (51.53, -0.127, "Europe/London")
    [record] = body["data"]
    assert record == weather_at(moment)
    assert record["dt"] == moment - moment % 3600
    assert {"temp", "humidity", "pressure", "wind_speed", "wind_deg", "weather"} <= set(record)
    assert provider.history_requests == 1


def test_the_forecast_is_48_hours_from_the_current_hour(provider: FakeOpenWeatherMap) -> None:
    response = _get(provider, "/onecall", exclude="current,minutely,daily,alerts")

    hourly = response.json()["hourly"]
    times = [datetime.fromtimestamp(record["dt"], UTC) for record in hourly]
    assert times[0] == NOW.replace(minute=0, second=0)
    assert len(times) == 48
    assert all(later - earlier == HOUR for earlier, later in pairwise(times))


def test_the_weather_of_an_hour_never_changes_and_days_differ() -> None:
    start = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    days = [
        [weather_at(start + (24 * day + hour) * 3600)["temp"] for hour in range(24)]
        for day in range(4)
    ]

    assert weather_at(start + 1800) == weather_at(start)
    assert len({tuple(day) for day in days}) == 4
    # The recorded day's shape: colder at night than in the afternoon, every day.
    assert all(min(day[2:6]) < max(day[13:17]) for day in days)
    # The time of day is the recording's: the same hour of day two days apart is the same
    # recorded hour, so sunrise moves by whole days.
    first, later = weather_at(start), weather_at(start + 2 * 86400)
    if "sunrise" in first:
        assert later["sunrise"] - first["sunrise"] == 2 * 86400


@pytest.mark.parametrize(
    ("query", "status"),
    [({"appid": ""}, 401), ({"units": "imperial"}, 400), ({"lat": "north"}, 400)],
)
def test_bad_requests_get_the_providers_errors(
    provider: FakeOpenWeatherMap, query: dict[str, str], status: int
) -> None:
    response = _get(provider, "/onecall", **query)

    assert response.status_code == status
    assert "message" in response.json()


def test_a_required_key_is_checked() -> None:
    provider = FakeOpenWeatherMap(port=0, api_key="right").start()
    try:
        assert _get(provider, "/onecall", appid="wrong").status_code == 401
        assert _get(provider, "/onecall", appid="right").status_code == 200
    finally:
        provider.stop()


def test_the_weather_service_ingests_from_it_offline(
    backend_env: str,
    client: Client,
    provider: FakeOpenWeatherMap,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DT_OPENWEATHERMAP_URL", provider.base_url)
    monkeypatch.setenv("DT_OPENWEATHERMAP_APIKEY", "any-key")

    summary = weather.handle(
        {"dt_from": "-24h", "dt_to": "+48h", "latitude": 51.53, "longitude": -0.127},
        clock=lambda: NOW,
    )

    assert summary["ok"] is True, summary
    assert summary["history"]["records"] == 24 == provider.history_requests
    assert summary["forecast"]["records"] == 47  # the current hour is history
    observed = client.sensors.sensor_readings(
        "temperature", "OpenWeatherMapHistory", NOW - 2 * HOUR * 24, NOW
    )
    assert [reading.value for reading in observed] == [
        pytest.approx(weather_at(int(reading.timestamp.timestamp()))["temp"])
        for reading in observed
    ]
    assert len(observed) == 24
