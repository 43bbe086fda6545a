"""The local services host: registration with the backend, and the whole loop through
run-service (backend -> host -> handler -> backend), with recorded weather."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

import httpx
import pytest

from dtbase.client import ApiError, Client
from dtbase.devdb import free_port
from services import registry
from services.host import BackgroundHost, create_app, register, service_urls
from services.weather import handler as weather
from tests.utils.openweathermap import API_KEY, RECORDED_AT, Provider

WEATHER = {
    "dt_from": "-24h",
    "dt_to": "+48h",
    "api_key": API_KEY,
    "latitude": 51.53,
    "longitude": -0.127,
}


def test_services_are_registered_once_and_repointed(backend_env: str, client: Client) -> None:
    base = "http://127.0.0.1:7071"

    assert register(client, base) == dict.fromkeys(registry.HANDLERS, "registered")
    assert register(client, base) == dict.fromkeys(registry.HANDLERS, "unchanged")
    assert register(client, "http://localhost:7071", ["arima"]) == {"arima": "updated"}
    services = {s.name: (s.url, str(s.http_method)) for s in client.services.list_services()}
    assert services == {
        **{name: (f"http://127.0.0.1:7071/api/{name}", "POST") for name in registry.HANDLERS},
        "arima": ("http://localhost:7071/api/arima", "POST"),
    }
    assert service_urls("http://h:1/", ["x"]) == {"x": "http://h:1/api/x"}


def test_the_whole_loop_through_run_service(
    backend_env: str,
    client: Client,
    serve: Callable[[Any], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorded = partial(weather.handle, transport=Provider().transport, clock=lambda: RECORDED_AT)
    monkeypatch.setitem(registry.HANDLERS, "weather", recorded)
    base = serve(create_app())
    register(client, base)

    client.services.run_service("weather", parameters=WEATHER)
    forecast = {
        "sensors": ["OpenWeatherMapForecast"],
        "measures": ["temperature"],
        "now": "2024-03-12T12:00:00Z",
        "horizon_hours": 24,
    }
    client.services.insert_parameter_set("arima", "forecast", forecast)
    client.services.run_service("arima", parameter_set_name="forecast")
    client.services.run_service("arima", parameters={"measures": ["temperature"]})

    weather_run, arima_run, refused = client.services.list_runs()
    assert weather_run.response_status_code == 200
    assert weather_run.response_json is not None
    assert weather_run.response_json["ok"] is True
    assert weather_run.response_json["forecast"]["records"] == 47
    assert arima_run.parameter_set_name == "forecast"
    assert arima_run.response_status_code == 200, arima_run.response_json
    assert arima_run.response_json is not None
    assert arima_run.response_json["series"][0]["method"] == "arima"  # under two days of data
    assert refused.response_status_code == 400
    assert refused.response_json is not None
    assert refused.response_json["field"] == "sensors"
    # Created at the run's "now".
    (run,) = client.models.list_model_runs("Arima", dt_from=datetime(2024, 3, 1, tzinfo=UTC))
    assert run.time_created == datetime(2024, 3, 12, 12, tzinfo=UTC)
    assert run.sensor_unique_id == "OpenWeatherMapForecast"
    points = client.models.get_model_run(run.id)["Mean temperature"]
    # From the hour after the last reading (11:00) to now + 24 hours.
    assert points[0].timestamp == datetime(2024, 3, 12, 12, tzinfo=UTC)
    assert points[-1].timestamp == datetime(2024, 3, 13, 12, tzinfo=UTC)
    assert len(points) == 25


def test_an_unreachable_host_is_logged_by_the_backend(backend_env: str, client: Client) -> None:
    register(client, "http://127.0.0.1:9")  # nothing listens on the discard port

    with pytest.raises(ApiError) as raised:
        client.services.run_service("arima", parameters={})

    assert raised.value.status_code == 502
    (run,) = client.services.list_runs()
    assert run.response_status_code == 502


def test_the_host_runs_beside_something_else() -> None:
    host = BackgroundHost(port=free_port(), handlers={"echo": lambda p: {"ok": True, **p}})

    host.start()
    try:
        with httpx.Client(base_url=host.url, timeout=10) as http:
            listed = http.get("/api").json()
            echoed = http.put("/api/echo", json={"a": 1})
    finally:
        host.stop()

    assert listed == {"services": ["/api/echo"]}
    assert (echoed.status_code, echoed.json()) == (200, {"ok": True, "a": 1})
    assert not host.server.started or host.server.should_exit
