"""The weather ingress as a handler: parameters in, JSON summary out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from services.common import known_keys, sdk_summary, utc
from services.weather.ingress import WeatherIngress, WeatherSettings, parse_request

NAME = "weather"
PARAMETERS = {"dt_from", "dt_to", "api_key", "latitude", "longitude"}


def handle(
    parameters: dict[str, Any],
    *,
    transport: httpx.BaseTransport | None = None,
    clock: Callable[[], datetime] | None = None,
    backend_http: httpx.Client | None = None,
) -> dict[str, Any]:
    """Ingest OpenWeatherMap history and forecasts for `dt_from`..`dt_to`.

    Bad parameters raise ParameterError (a 400); provider and backend failures are in the
    summary (`ok: false`), with whatever did arrive written all the same.
    """
    known_keys(parameters, PARAMETERS)
    now = utc((clock or (lambda: datetime.now(UTC)))())
    settings = WeatherSettings()
    request = parse_request(parameters, now=now, settings=settings)
    ingress = WeatherIngress(
        http=backend_http, transport=transport, clock=lambda: now, settings=settings
    )
    summary = sdk_summary(
        lambda: ingress(
            dt_from=request.dt_from,
            dt_to=request.dt_to,
            api_key=request.api_key,
            latitude=request.latitude,
            longitude=request.longitude,
        )
    )
    return {**summary, "service": NAME, **ingress.report}
