"""The ARIMA forecaster as a handler: parameters in, JSON summary out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from services.arima.model import ArimaModel, parse_request
from services.common import sdk_summary

NAME = "arima"


def handle(
    parameters: dict[str, Any],
    *,
    clock: Callable[[], datetime] | None = None,
    backend_http: httpx.Client | None = None,
) -> dict[str, Any]:
    """Forecast the sensor measures named in `parameters` and write one run for each.

    Bad parameters raise ParameterError (a 400); a series that cannot be forecast (too
    little data, unknown sensor, ...) is reported in the summary and the others go on.
    """
    parse_request(parameters)
    model = ArimaModel(http=backend_http, clock=clock)
    summary = sdk_summary(lambda: model(**parameters))
    return {**summary, "service": NAME, **model.report}
