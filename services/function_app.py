"""The services as an Azure Functions app (Python v2 programming model).

One HTTP trigger per service at `/api/<name>` (auth level Function: the backend's service
URL carries `?code=<function key>`), thin wrappers over the same handlers the local host
serves. Two timer triggers run where a fixed schedule makes sense without the backend's
scheduler; each does nothing unless its settings are there:

* `weather_timer`, hourly at minute 5: the last 3 hours and the next 48, when
  `DT_OPENWEATHERMAP_APIKEY`, `DT_OPENWEATHERMAP_LAT` and `DT_OPENWEATHERMAP_LONG` are set;
* `arima_timer`, daily at 03:00 UTC: with the JSON parameters in `DT_ARIMA_PARAMETERS`.

Both also need `DT_BACKEND_URL` and `DT_DEFAULT_USER_PASS` (the services log in as the
default user, as in DTBase).
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import azure.functions as func

from services import registry
from services.common import ParameterError, respond
from services.weather.ingress import WeatherSettings

logger = logging.getLogger("services.function_app")

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

HTTP_METHODS = ["GET", "POST", "PUT", "DELETE"]
WEATHER_SCHEDULE = "0 5 * * * *"  # NCRONTAB: second minute hour day month weekday
ARIMA_SCHEDULE = "0 0 3 * * *"
WEATHER_TIMER_PARAMETERS = {"dt_from": "-3h", "dt_to": "+48h"}


def _http(name: str, request: func.HttpRequest) -> func.HttpResponse:
    """Adapt one HTTP call to the handler registered as `name` (looked up per call)."""
    reply = respond(registry.HANDLERS[name], request.get_body())
    return func.HttpResponse(
        reply.json_bytes(), status_code=reply.status_code, mimetype="application/json"
    )


def weather(req: func.HttpRequest) -> func.HttpResponse:
    """OpenWeatherMap history and forecasts into the Weather sensors."""
    return _http("weather", req)


def arima(req: func.HttpRequest) -> func.HttpResponse:
    """ARIMA forecasts of the sensor measures named in the body."""
    return _http("arima", req)


def fdb_export(req: func.HttpRequest) -> func.HttpResponse:
    """The model runs of a time window that the FDB does not hold yet, into the FDB."""
    return _http("fdb_export", req)


def run_scheduled(name: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """What a timer does: run the handler and log the summary (a timer has no caller)."""
    try:
        summary = registry.HANDLERS[name](parameters)
    except ParameterError as error:
        summary = error.to_dict()
    log = logger.info if summary.get("ok") else logger.error
    log("%s: %s", name, json.dumps(summary, default=str))
    return summary


def weather_timer(timer: func.TimerRequest) -> None:
    """Hourly: the last 3 hours and the next 48, where the location is configured."""
    settings = WeatherSettings()
    if settings.apikey is None or settings.lat is None or settings.long is None:
        logger.info("weather_timer: DT_OPENWEATHERMAP_APIKEY/LAT/LONG not set; skipped")
        return
    if timer.past_due:
        logger.warning("weather_timer: running late")
    run_scheduled("weather", dict(WEATHER_TIMER_PARAMETERS))


def arima_timer(timer: func.TimerRequest) -> None:
    """Daily: forecasts with the parameters in DT_ARIMA_PARAMETERS (JSON)."""
    raw = os.environ.get("DT_ARIMA_PARAMETERS")
    if not raw:
        logger.info("arima_timer: DT_ARIMA_PARAMETERS not set; skipped")
        return
    try:
        parameters = json.loads(raw)
    except ValueError:
        logger.error("arima_timer: DT_ARIMA_PARAMETERS is not JSON; skipped")
        return
    if timer.past_due:
        logger.warning("arima_timer: running late")
    run_scheduled("arima", parameters if isinstance(parameters, dict) else {})


# Registration, kept apart so that the functions above stay plain, typed and callable.
app.route(route="weather", methods=HTTP_METHODS)(weather)
app.route(route="arima", methods=HTTP_METHODS)(arima)
app.route(route="fdb_export", methods=HTTP_METHODS)(fdb_export)
app.timer_trigger(arg_name="timer", schedule=WEATHER_SCHEDULE, use_monitor=True)(weather_timer)
app.timer_trigger(arg_name="timer", schedule=ARIMA_SCHEDULE, use_monitor=True)(arima_timer)
