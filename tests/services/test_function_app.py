"""The Azure Functions wrappers, called with azure.functions request objects."""

from __future__ import annotations

import json
import logging
from functools import cache, partial
from typing import Any

import azure.functions as func
import pytest
from azure.functions.timer import TimerRequest

from services import function_app, registry
from services.weather import handler as weather
from tests.services.conftest import API_KEY, RECORDED_AT, Provider

PARAMETERS = {"dt_from": "-24h", "dt_to": "+48h", "api_key": API_KEY}
LONDON = {"latitude": 51.53, "longitude": -0.127}


def _request(body: bytes, method: str = "POST", route: str = "weather") -> func.HttpRequest:
    return func.HttpRequest(method, f"http://localhost:7071/api/{route}", body=body)


@cache
def _functions() -> dict[str, Any]:
    """As the Functions host indexes the app (which it allows once)."""
    return {str(f.get_function_name()): f for f in function_app.app.get_functions()}


def test_one_http_trigger_per_service_and_two_timers() -> None:
    functions = _functions()

    assert set(functions) == {"weather", "arima", "fdb_export", "weather_timer", "arima_timer"}
    for name in registry.HANDLERS:
        trigger = functions[name].get_trigger()
        assert trigger.route == name
        assert {getattr(m, "value", m) for m in trigger.methods} == {"GET", "POST", "PUT", "DELETE"}
        assert functions[name].get_user_function() is getattr(function_app, name)
        assert json.loads(functions[name].get_function_json())["bindings"][0]["authLevel"] == (
            "FUNCTION"
        )
    assert functions["weather_timer"].get_trigger().schedule == "0 5 * * * *"
    assert functions["arima_timer"].get_trigger().schedule == "0 0 3 * * *"


def test_the_weather_function_ingests(backend_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    provider = Provider()
    handler = partial(weather.handle, transport=provider.transport, clock=lambda: RECORDED_AT)
    monkeypatch.setitem(registry.HANDLERS, "weather", handler)
    user_function = _functions()["weather"].get_user_function()

    response = user_function(_request(json.dumps({**PARAMETERS, **LONDON}).encode()))

    assert response.status_code == 200, response.get_body()
    assert response.mimetype == "application/json"
    summary = json.loads(response.get_body())
    assert summary["ok"]
    assert summary["history"]["records"] == 24


def test_the_weather_function_answers_400_naming_the_field() -> None:
    response = function_app.weather(_request(json.dumps(PARAMETERS).encode()))

    assert response.status_code == 400
    assert json.loads(response.get_body())["field"] == "latitude"


def test_bodies_that_are_not_parameters_get_400() -> None:
    malformed = function_app.weather(_request(b"not json"))
    array = function_app.arima(_request(b"[1, 2]", route="arima"))
    empty = function_app.arima(_request(b"", method="GET", route="arima"))

    assert malformed.status_code == 400
    assert json.loads(malformed.get_body())["detail"] == "Malformed body, JSON expected"
    assert array.status_code == 400
    assert json.loads(array.get_body())["field"] == "body"
    assert empty.status_code == 400
    assert json.loads(empty.get_body())["field"] == "sensors"


def test_a_fault_in_a_handler_is_a_500_with_json(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(parameters: dict[str, Any]) -> dict[str, Any]:
        raise ZeroDivisionError("boom")

    monkeypatch.setitem(registry.HANDLERS, "arima", broken)

    response = function_app.arima(_request(b"{}", route="arima"))

    assert response.status_code == 500
    assert (
        json.loads(response.get_body())["detail"] == "The service failed: ZeroDivisionError: boom"
    )


def test_timers_do_nothing_unless_configured(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    def record(name: str) -> Any:
        def handler(parameters: dict[str, Any]) -> dict[str, Any]:
            calls.append((name, parameters))
            return {"ok": True}

        return handler

    monkeypatch.setitem(registry.HANDLERS, "weather", record("weather"))
    monkeypatch.setitem(registry.HANDLERS, "arima", record("arima"))
    for name in ("APIKEY", "LAT", "LONG"):
        monkeypatch.delenv(f"DT_OPENWEATHERMAP_{name}", raising=False)
    monkeypatch.delenv("DT_ARIMA_PARAMETERS", raising=False)
    timer = TimerRequest(past_due=True)

    with caplog.at_level(logging.INFO, logger="services.function_app"):
        function_app.weather_timer(timer)
        function_app.arima_timer(timer)
        assert calls == []
        monkeypatch.setenv("DT_OPENWEATHERMAP_APIKEY", API_KEY)
        monkeypatch.setenv("DT_OPENWEATHERMAP_LAT", "51.53")
        monkeypatch.setenv("DT_OPENWEATHERMAP_LONG", "-0.127")
        monkeypatch.setenv("DT_ARIMA_PARAMETERS", '{"sensors": ["S1"], "measures": ["t"]}')
        function_app.weather_timer(timer)
        function_app.arima_timer(timer)

    assert calls == [
        ("weather", {"dt_from": "-3h", "dt_to": "+48h"}),
        ("arima", {"sensors": ["S1"], "measures": ["t"]}),
    ]
    assert "skipped" in caplog.text
    assert "running late" in caplog.text


def test_a_scheduled_run_logs_a_failed_summary(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(
        registry.HANDLERS, "arima", lambda parameters: {"ok": False, "problems": ["x"]}
    )

    with caplog.at_level(logging.INFO, logger="services.function_app"):
        summary = function_app.run_scheduled("arima", {})

    assert summary == {"ok": False, "problems": ["x"]}
    assert caplog.records[-1].levelno == logging.ERROR
