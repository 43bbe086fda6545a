"""The weather ingress: parameters, mapping, and recorded provider answers replayed
against the real backend (the provider is the only thing mocked)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx
import pytest

from dtbase.client import Client
from services.common import ParameterError
from services.host import create_app
from services.weather import handler as weather
from services.weather.ingress import (
    FORECAST_SENSOR,
    HISTORY_SENSOR,
    WeatherIngress,
    WeatherSettings,
    parse_request,
    readings_calls,
)
from tests.utils.openweathermap import API_KEY, CASSETTE, RECORDED_AT, Provider

LONDON = {"latitude": 51.53, "longitude": -0.127}
PARAMETERS = {"dt_from": "-24h", "dt_to": "+48h", "api_key": API_KEY, **LONDON}


def _run(provider: Provider, **overrides: Any) -> dict[str, Any]:
    return weather.handle(
        {**PARAMETERS, **overrides}, transport=provider.transport, clock=lambda: RECORDED_AT
    )


def _readings(client: Client, sensor: str, measure: str) -> list[Any]:
    return client.sensors.sensor_readings(
        measure, sensor, RECORDED_AT - timedelta(days=3), RECORDED_AT + timedelta(days=3)
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"dt_from": None}, "dt_from"),
        ({"dt_to": None}, "dt_to"),
        ({"dt_from": "+1h", "dt_to": "-1h"}, "dt_to"),
        ({"dt_from": "yesterday"}, "dt_from"),
        ({"dt_to": "+3d"}, "dt_to"),
        ({"dt_from": "-6d"}, "dt_from"),
        ({"dt_from": "1970-01-01T00:00:00Z"}, "dt_from"),
        ({"latitude": 91}, "latitude"),
        ({"longitude": "east"}, "longitude"),
        ({"latitude": None}, "latitude"),
        ({"api_key": None}, "api_key"),
        ({"api_key": "  "}, "api_key"),
        ({"lat": 51.5}, "lat"),
    ],
)
def test_bad_parameters_name_the_field(change: dict[str, Any], field: str) -> None:
    parameters = {
        key: value for key, value in {**PARAMETERS, **change}.items() if value is not None
    }

    with pytest.raises(ParameterError) as raised:
        weather.handle(parameters, transport=Provider().transport, clock=lambda: RECORDED_AT)

    assert raised.value.field == field
    assert raised.value.to_dict()["field"] == field


def test_times_are_utc_and_relative_to_the_call() -> None:
    settings = WeatherSettings(apikey=API_KEY, lat=51.53, long=-0.127)

    def request(dt_from: Any, dt_to: Any) -> tuple[datetime, datetime]:
        parsed = parse_request(
            {"dt_from": dt_from, "dt_to": dt_to}, now=RECORDED_AT, settings=settings
        )
        return parsed.dt_from, parsed.dt_to

    assert request("-24h", "present") == (RECORDED_AT - timedelta(hours=24), RECORDED_AT)
    assert request("now", "+2d") == (RECORDED_AT, RECORDED_AT + timedelta(days=2))
    assert request("2024-03-10T06:00:00", "2024-03-10T08:00:00+01:00") == (
        datetime(2024, 3, 10, 6, tzinfo=UTC),
        datetime(2024, 3, 10, 7, tzinfo=UTC),
    )
    assert request(1710000000, "present")[0] == datetime.fromtimestamp(1710000000, UTC)


def test_the_key_and_location_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DT_OPENWEATHERMAP_APIKEY", "from-env")
    monkeypatch.setenv("DT_OPENWEATHERMAP_LAT", "51.53")
    monkeypatch.setenv("DT_OPENWEATHERMAP_LONG", "-0.127")

    parsed = parse_request({"dt_from": "-1h", "dt_to": "present"}, now=RECORDED_AT)

    assert (parsed.api_key, parsed.latitude, parsed.longitude) == ("from-env", 51.53, -0.127)
    assert "from-env" not in repr(parsed)


def test_records_map_to_dtbase_measures() -> None:
    exchanges = json.loads(CASSETTE.read_text())["exchanges"]
    records = [exchange["response"]["body"]["data"][0] for exchange in exchanges[:24]]

    calls = dict(
        (payload["measure_name"], payload) for _, payload in readings_calls(HISTORY_SENSOR, records)
    )

    assert list(calls) == [
        "temperature",
        "relative humidity",
        "air pressure",
        "wind speed",
        "wind direction",
        "rain",
        "icon",
    ]
    temperature = calls["temperature"]
    assert temperature["unique_identifier"] == HISTORY_SENSOR
    assert temperature["measure_units"] == "degrees Celsius"
    assert temperature["timestamps"][0] == "2024-03-09T13:00:00Z"
    assert len(temperature["readings"]) == 24
    # The provider sends whole numbers as JSON integers: a float measure gets floats.
    assert 3 in [i for i, r in enumerate(records) if isinstance(r["temp"], int)]
    assert all(isinstance(value, float) for value in temperature["readings"])
    assert all(type(value) is int for value in calls["relative humidity"]["readings"])
    assert all(type(value) is int for value in calls["wind direction"]["readings"])
    # No `rain` key means no rain.
    rain = calls["rain"]["readings"]
    assert rain[0] == 0.0
    assert rain[4] == records[4]["rain"]["1h"] > 0
    assert calls["icon"]["readings"][0] == "03d"
    assert calls["icon"]["measure_units"] == ""


def test_a_range_across_the_present_is_split() -> None:
    provider = Provider()
    ingress = WeatherIngress(transport=provider.transport, clock=lambda: RECORDED_AT)

    calls = ingress.get_service_data(dt_from="-24h", dt_to="+48h", api_key=API_KEY, **LONDON)

    paths = [request.url.path for request in provider.requests]
    assert paths == ["/data/3.0/onecall/timemachine"] * 24 + ["/data/3.0/onecall"]
    stamps = [int(request.url.params["dt"]) for request in provider.requests[:24]]
    assert stamps[0] == int(datetime(2024, 3, 9, 13, tzinfo=UTC).timestamp())
    assert stamps[-1] == int(datetime(2024, 3, 10, 12, tzinfo=UTC).timestamp())
    assert all(request.url.params["units"] == "metric" for request in provider.requests)
    sensors = [
        payload["unique_identifier"] for path, payload in calls if path == "/sensor/insert-sensor"
    ]
    assert sensors == [HISTORY_SENSOR, FORECAST_SENSOR]
    forecast = next(
        payload
        for path, payload in calls
        if path.endswith("readings") and payload["unique_identifier"] == FORECAST_SENSOR
    )
    # After now (12:20) and up to dt_to: 13:00 on the 10th to 11:00 on the 12th.
    assert forecast["timestamps"][0] == "2024-03-10T13:00:00Z"
    assert forecast["timestamps"][-1] == "2024-03-12T11:00:00Z"
    assert len(forecast["timestamps"]) == 47
    assert ingress.report["history"] == {"sensor": HISTORY_SENSOR, "requests": 24, "records": 24}


def test_a_past_range_asks_only_for_history() -> None:
    provider = Provider()
    ingress = WeatherIngress(transport=provider.transport, clock=lambda: RECORDED_AT)

    calls = ingress.get_service_data(
        dt_from="2024-03-10T00:00:00Z", dt_to="2024-03-10T05:30:00Z", api_key=API_KEY, **LONDON
    )

    assert len(provider.requests) == 6  # 00:00 ... 05:00
    assert all(
        path != "/sensor/insert-sensor" or p["unique_identifier"] == HISTORY_SENSOR
        for path, p in calls
    )


def test_recorded_weather_lands_in_the_backend(backend_env: str, client: Client) -> None:
    summary = _run(Provider())

    assert summary["ok"], summary
    assert summary["service"] == "weather"
    assert summary["history"]["records"] == 24
    assert summary["forecast"]["records"] == 47
    assert (summary["failed"], summary["already_there"]) == (0, 0)
    types = client.sensors.list_sensor_types()
    assert [(t.name, [(m.name, m.units, str(m.datatype)) for m in t.measures]) for t in types] == [
        (
            "Weather",
            [
                ("temperature", "degrees Celsius", "float"),
                ("relative humidity", "percent", "integer"),
                ("air pressure", "millibar", "integer"),
                ("wind speed", "m/s", "float"),
                ("wind direction", "degrees", "integer"),
                ("rain", "mms", "float"),
                ("icon", "", "string"),
            ],
        )
    ]
    history = _readings(client, HISTORY_SENSOR, "temperature")
    assert len(history) == 24
    assert history[0].timestamp == datetime(2024, 3, 9, 13, tzinfo=UTC)
    assert all(isinstance(reading.value, float) for reading in history)
    forecast = _readings(client, FORECAST_SENSOR, "icon")
    assert len(forecast) == 47
    assert all(isinstance(r.value, str) for r in forecast)
    assert {type(r.value) for r in _readings(client, HISTORY_SENSOR, "relative humidity")} == {int}


def test_a_rerun_is_idempotent(backend_env: str, client: Client) -> None:
    _run(Provider())

    again = _run(Provider())

    assert again["ok"], again
    assert again["already_there"] == 3  # the type and both sensors
    assert len(_readings(client, HISTORY_SENSOR, "rain")) == 24
    assert len(_readings(client, FORECAST_SENSOR, "rain")) == 47


def test_a_refused_key_is_reported_not_raised(backend_env: str, client: Client) -> None:
    provider = Provider(fail={"history": "401", "forecast": "401"})

    summary = _run(provider)

    assert summary["ok"] is False
    assert len(provider.requests) == 2  # history stopped at the first refusal
    assert summary["history"]["errors"][0]["status_code"] == 401
    assert any("HTTP 401" in p and "API key was refused" in p for p in summary["problems"])
    assert API_KEY not in json.dumps(summary)
    assert [s.unique_identifier for s in client.sensors.list_sensors()] == [
        HISTORY_SENSOR,
        FORECAST_SENSOR,
    ]


def test_a_rate_limit_keeps_what_arrived(backend_env: str, client: Client) -> None:
    summary = _run(Provider(fail={10: "429"}))

    assert summary["ok"] is False
    assert summary["history"]["records"] == 10
    assert summary["forecast"]["records"] == 47
    assert any("HTTP 429" in problem and "rate limit" in problem for problem in summary["problems"])
    assert len(_readings(client, HISTORY_SENSOR, "temperature")) == 10
    assert len(_readings(client, FORECAST_SENSOR, "temperature")) == 47


@pytest.mark.parametrize(
    ("failure", "expected"), [("502", "HTTP 502"), ("500", "HTTP 500"), ("network", "no answer")]
)
def test_provider_faults_are_reported(
    backend_env: str, client: Client, failure: str, expected: str
) -> None:
    summary = _run(Provider(fail={"forecast": failure}))

    assert summary["ok"] is False
    assert summary["history"]["records"] == 24
    assert summary["forecast"]["errors"][0]["message"].startswith(
        f"OpenWeatherMap forecast: {expected}"
    )
    assert len(_readings(client, HISTORY_SENSOR, "wind speed")) == 24


def test_through_the_local_host(backend_env: str, serve: Any, client: Client) -> None:
    handlers = {
        "weather": partial(
            weather.handle, transport=Provider().transport, clock=lambda: RECORDED_AT
        ),
        "refused": partial(
            weather.handle,
            transport=Provider(fail={"history": "401", "forecast": "401"}).transport,
            clock=lambda: RECORDED_AT,
        ),
    }
    base = serve(create_app(handlers))

    with httpx.Client(base_url=base, timeout=60) as http:
        ok = http.post("/api/weather", json=PARAMETERS)
        bad = http.post("/api/weather", json={**PARAMETERS, "latitude": 123})
        refused = http.post("/api/refused", json=PARAMETERS)
        malformed = http.post(
            "/api/weather", content=b"{nope", headers={"content-type": "application/json"}
        )
        missing = http.post("/api/nothing", json={})
        index = http.get("/api")

    assert ok.status_code == 200, ok.text
    assert ok.json()["history"]["records"] == 24
    assert bad.status_code == 400
    assert bad.json()["field"] == "latitude"
    assert refused.status_code == 502
    assert refused.json()["ok"] is False
    assert malformed.status_code == 400
    assert malformed.json()["detail"] == "Malformed body, JSON expected"
    assert missing.status_code == 404
    assert index.json() == {"services": ["/api/weather", "/api/refused"]}
    assert len(_readings(client, HISTORY_SENSOR, "temperature")) == 24
