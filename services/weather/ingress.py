"""OpenWeatherMap ingress: hourly weather history and forecasts as sensor readings.

It keeps DTBase's sensor type (`Weather`, seven measures with DTBase's names, units and
datatypes) and sensors (`OpenWeatherMapHistory`, `OpenWeatherMapForecast`), and fixes what
DTBase's got wrong:

* it uses One Call API 3.0 (2.5 closed in June 2024): `onecall/timemachine` once per hour of
  history, `onecall` for the 48-hour hourly forecast;
* a range that spans the present is split: history up to now, forecast after it;
* "present" is the time of the call, and every timestamp is UTC;
* provider errors (401 bad key, 429 rate limit, 5xx, network) are reported in the run's
  summary, and whatever did arrive is still written;
* re-runs are idempotent: the type and sensors answer 409 ("already there") and the backend
  skips readings it already has.

The provider is reached with httpx; pass `transport=` (e.g. `httpx.MockTransport`) to
replay recorded answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard

import httpx
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from dtbase.sdk import BaseIngress, Call
from services.common import ParameterError, number, parse_time, utc

TYPE_NAME = "Weather"
TYPE_DESCRIPTION = "Weather sensors and sensor-like data sources, such as weather forecast sources."
HISTORY_SENSOR = "OpenWeatherMapHistory"
FORECAST_SENSOR = "OpenWeatherMapForecast"
SENSOR_NAMES = {
    HISTORY_SENSOR: "OpenWeatherMap Historical Data",
    FORECAST_SENSOR: "OpenWeatherMap Forecasts",
}
DEFAULT_BASE_URL = "https://api.openweathermap.org/data/3.0"

# The provider's hourly forecast covers 48 hours; history is fetched one call per hour.
FORECAST_HOURS = 48
MAX_HISTORY_HOURS = 120
EARLIEST_HISTORY = datetime(1979, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Measure:
    name: str
    units: str
    datatype: str
    read: Callable[[Mapping[str, Any]], Any]


def _float(key: str) -> Callable[[Mapping[str, Any]], float | None]:
    def read(record: Mapping[str, Any]) -> float | None:
        value = record.get(key)
        return float(value) if _is_number(value) else None

    return read


def _integer(key: str) -> Callable[[Mapping[str, Any]], int | None]:
    def read(record: Mapping[str, Any]) -> int | None:
        value = record.get(key)
        return round(value) if _is_number(value) else None

    return read


def _rain(record: Mapping[str, Any]) -> float | None:
    rain = record.get("rain")
    if rain is None:
        return 0.0  # One Call leaves `rain` out when it does not rain
    value = rain.get("1h") if isinstance(rain, Mapping) else rain
    return float(value) if _is_number(value) else None


def _icon(record: Mapping[str, Any]) -> str | None:
    weather = record.get("weather")
    if isinstance(weather, list) and weather and isinstance(weather[0], Mapping):
        icon = weather[0].get("icon")
        return icon if isinstance(icon, str) else None
    return None


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


# DTBase's measures, in DTBase's order of the sensor type.
MEASURES = (
    Measure("temperature", "degrees Celsius", "float", _float("temp")),
    Measure("relative humidity", "percent", "integer", _integer("humidity")),
    Measure("air pressure", "millibar", "integer", _integer("pressure")),
    Measure("wind speed", "m/s", "float", _float("wind_speed")),
    Measure("wind direction", "degrees", "integer", _integer("wind_deg")),
    Measure("rain", "mms", "float", _rain),
    Measure("icon", "", "string", _icon),
)


class WeatherSettings(BaseSettings):
    """`DT_OPENWEATHERMAP_*`, read when the ingress is called."""

    model_config = SettingsConfigDict(env_prefix="DT_OPENWEATHERMAP_", extra="ignore")

    apikey: SecretStr | None = None
    lat: float | None = None
    long: float | None = None
    url: str = DEFAULT_BASE_URL


@dataclass(frozen=True)
class WeatherRequest:
    """Validated parameters of one run."""

    dt_from: datetime
    dt_to: datetime
    latitude: float
    longitude: float
    api_key: str = field(repr=False)
    now: datetime

    def history_hours(self) -> list[datetime]:
        """The whole hours of the range that are not in the future."""
        end = min(self.dt_to, self.now)
        hour = _ceil_hour(self.dt_from)
        hours = []
        while hour <= end:
            hours.append(hour)
            hour += HOUR
        return hours

    def wants_forecast(self) -> bool:
        return self.dt_to > self.now

    def in_history(self, moment: datetime) -> bool:
        return self.dt_from <= moment <= min(self.dt_to, self.now)

    def in_forecast(self, moment: datetime) -> bool:
        return moment > self.now and self.dt_from <= moment <= self.dt_to


def parse_request(
    parameters: Mapping[str, Any], *, now: datetime, settings: WeatherSettings | None = None
) -> WeatherRequest:
    """Validate the parameters; `ParameterError` names the field at fault.

    `dt_from` and `dt_to` are ISO 8601 (naive is UTC), `"present"`, or an offset from now
    such as `"-24h"` or `"+2d"`; `latitude` and `longitude` default to
    `DT_OPENWEATHERMAP_LAT` and `DT_OPENWEATHERMAP_LONG`, `api_key` to
    `DT_OPENWEATHERMAP_APIKEY`.
    """
    settings = settings or WeatherSettings()
    for name in ("dt_from", "dt_to"):
        if parameters.get(name) is None:
            raise ParameterError(name, "is required")
    dt_from = parse_time(parameters["dt_from"], "dt_from", now=now)
    dt_to = parse_time(parameters["dt_to"], "dt_to", now=now)
    if dt_from >= dt_to:
        raise ParameterError("dt_to", f"must be after dt_from ({_iso(dt_from)})")
    if dt_from < EARLIEST_HISTORY:
        raise ParameterError("dt_from", "must not be before 1979-01-01 (the provider's archive)")
    if dt_to > now + timedelta(hours=FORECAST_HOURS):
        raise ParameterError(
            "dt_to", f"must be at most {FORECAST_HOURS} hours ahead ({_iso(now)} is now)"
        )
    history_span = min(dt_to, now) - dt_from
    if history_span > timedelta(hours=MAX_HISTORY_HOURS):
        raise ParameterError(
            "dt_from",
            f"at most {MAX_HISTORY_HOURS} hours of history per run (one provider call an hour); "
            "split longer backfills",
        )
    latitude = number(parameters, "latitude", default=settings.lat, minimum=-90, maximum=90)
    longitude = number(parameters, "longitude", default=settings.long, minimum=-180, maximum=180)
    api_key = parameters.get("api_key")
    if api_key is None and settings.apikey is not None:
        api_key = settings.apikey.get_secret_value()
    if not isinstance(api_key, str) or not api_key.strip():
        raise ParameterError("api_key", "is required (or set DT_OPENWEATHERMAP_APIKEY)")
    return WeatherRequest(dt_from, dt_to, latitude, longitude, api_key.strip(), now)


class ProviderError(Exception):
    """The provider refused or could not be reached."""

    def __init__(self, status_code: int | None, message: str) -> None:
        self.status_code = status_code
        self.message = message
        super().__init__(f"{status_code or 'no answer'}: {message}")


class OpenWeatherMap:
    """The two One Call endpoints the ingress needs, over httpx."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 20.0,
    ) -> None:
        self._api_key = api_key
        self._http = httpx.Client(base_url=base_url, transport=transport, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def forecast(self, latitude: float, longitude: float) -> list[dict[str, Any]]:
        """The hourly forecast (48 hours from the current hour)."""
        body = self._get(
            "/onecall",
            {"lat": latitude, "lon": longitude, "exclude": "current,minutely,daily,alerts"},
        )
        return _records(body, "hourly")

    def history(self, latitude: float, longitude: float, moment: datetime) -> list[dict[str, Any]]:
        """The weather at `moment` (One Call 3.0 answers one record per call)."""
        body = self._get(
            "/onecall/timemachine",
            {"lat": latitude, "lon": longitude, "dt": int(moment.timestamp())},
        )
        # 3.0 answers `data`; 2.5's timemachine answered `hourly` (and `current`).
        return _records(body, "data") or _records(body, "hourly")

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        query = {**params, "units": "metric", "appid": self._api_key}
        try:
            response = self._http.get(path, params=query)
        except httpx.TimeoutException:
            raise ProviderError(None, "the provider did not answer in time") from None
        except httpx.HTTPError as error:
            raise ProviderError(None, self._hidden(f"{type(error).__name__}: {error}")) from None
        if response.status_code != httpx.codes.OK:
            raise ProviderError(response.status_code, self._hidden(_provider_message(response)))
        try:
            return response.json()
        except ValueError:
            raise ProviderError(response.status_code, "the answer is not JSON") from None

    def _hidden(self, text: str) -> str:
        """Never let the API key into a summary or a log."""
        return text.replace(self._api_key, "***") if self._api_key else text


class WeatherIngress(BaseIngress):
    """DTBase's `get_service_data(dt_from, dt_to, api_key, longitude, latitude)`.

    `transport` replaces the provider's network (tests replay recorded answers through
    it); `clock` gives "now" (default: the time of the call).
    """

    def __init__(
        self,
        backend_url: str | None = None,
        *,
        http: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], datetime] | None = None,
        settings: WeatherSettings | None = None,
    ) -> None:
        super().__init__(backend_url, http=http)
        self.transport = transport
        self.clock = clock or (lambda: datetime.now(UTC))
        self.settings = settings
        self.report: dict[str, Any] = {}

    def get_service_data(
        self,
        dt_from: datetime | str | float,
        dt_to: datetime | str | float,
        api_key: str | None = None,
        longitude: float | None = None,
        latitude: float | None = None,
    ) -> list[Call]:
        settings = self.settings or WeatherSettings()
        given = {"dt_from": dt_from, "dt_to": dt_to, "api_key": api_key}
        given |= {"longitude": longitude, "latitude": latitude}
        request = parse_request(
            {key: value for key, value in given.items() if value is not None},
            now=utc(self.clock()),
            settings=settings,
        )
        return self.calls_for(request, settings.url)

    def calls_for(self, request: WeatherRequest, base_url: str = DEFAULT_BASE_URL) -> list[Call]:
        """Fetch from the provider and turn what arrived into the backend calls."""
        provider = OpenWeatherMap(request.api_key, base_url=base_url, transport=self.transport)
        try:
            history, history_report = self._history(provider, request)
            forecast, forecast_report = self._forecast(provider, request)
        finally:
            provider.close()
        self.report = {
            "dt_from": _iso(request.dt_from),
            "dt_to": _iso(request.dt_to),
            "now": _iso(request.now),
            "latitude": request.latitude,
            "longitude": request.longitude,
            "history": history_report,
            "forecast": forecast_report,
        }
        calls: list[Call] = [sensor_type_call()]
        if request.history_hours():
            calls.append(sensor_call(HISTORY_SENSOR))
            calls.extend(readings_calls(HISTORY_SENSOR, history))
        if request.wants_forecast():
            calls.append(sensor_call(FORECAST_SENSOR))
            calls.extend(readings_calls(FORECAST_SENSOR, forecast))
        return calls

    def _history(
        self, provider: OpenWeatherMap, request: WeatherRequest
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        hours = request.history_hours()
        records: dict[datetime, dict[str, Any]] = {}
        report: dict[str, Any] = {"sensor": HISTORY_SENSOR, "requests": 0, "records": 0}
        for hour in hours:
            report["requests"] += 1
            try:
                fetched = provider.history(request.latitude, request.longitude, hour)
            except ProviderError as error:
                self._provider_problem(report, "history", error, hour)
                if error.status_code in {401, 403, 429}:
                    break  # every further call would be refused as well
                continue
            for record in fetched:
                moment = _timestamp(record)
                if moment is not None and request.in_history(moment):
                    records[moment] = record
        report["records"] = len(records)
        return [records[moment] for moment in sorted(records)], report

    def _forecast(
        self, provider: OpenWeatherMap, request: WeatherRequest
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        report: dict[str, Any] = {"sensor": FORECAST_SENSOR, "requests": 0, "records": 0}
        if not request.wants_forecast():
            return [], report
        report["requests"] = 1
        try:
            fetched = provider.forecast(request.latitude, request.longitude)
        except ProviderError as error:
            self._provider_problem(report, "forecast", error, None)
            return [], report
        records = {}
        for record in fetched:
            moment = _timestamp(record)
            if moment is not None and request.in_forecast(moment):
                records[moment] = record
        report["records"] = len(records)
        return [records[moment] for moment in sorted(records)], report

    def _provider_problem(
        self, report: dict[str, Any], part: str, error: ProviderError, moment: datetime | None
    ) -> None:
        when = f" for {_iso(moment)}" if moment else ""
        message = f"OpenWeatherMap {part}{when}: {_explain(error)}"
        report.setdefault("errors", []).append(
            {"status_code": error.status_code, "message": message}
        )
        self.report_problem(message)


def sensor_type_call() -> Call:
    measures = [
        {"name": measure.name, "units": measure.units, "datatype": measure.datatype}
        for measure in MEASURES
    ]
    body = {"name": TYPE_NAME, "description": TYPE_DESCRIPTION, "measures": measures}
    return "/sensor/insert-sensor-type", body


def sensor_call(sensor: str) -> Call:
    body = {"unique_identifier": sensor, "type_name": TYPE_NAME, "name": SENSOR_NAMES[sensor]}
    return "/sensor/insert-sensor", body


def readings_calls(sensor: str, records: Sequence[Mapping[str, Any]]) -> Iterator[Call]:
    """One insert-sensor-readings per measure; values the provider left out are skipped."""
    for measure in MEASURES:
        readings, timestamps = [], []
        for record in records:
            moment = _timestamp(record)
            value = measure.read(record)
            if moment is not None and value is not None:
                readings.append(value)
                timestamps.append(_iso(moment))
        if readings:
            yield (
                "/sensor/insert-sensor-readings",
                {
                    "measure_name": measure.name,
                    "measure_units": measure.units,
                    "unique_identifier": sensor,
                    "readings": readings,
                    "timestamps": timestamps,
                },
            )


def _records(body: Any, key: str) -> list[dict[str, Any]]:
    if not isinstance(body, Mapping):
        return []
    records = body.get(key)
    if not isinstance(records, list):
        return []
    return [record for record in records if isinstance(record, dict)]


def _timestamp(record: Mapping[str, Any]) -> datetime | None:
    moment = record.get("dt")
    if not _is_number(moment):
        return None
    return datetime.fromtimestamp(moment, UTC)


def _ceil_hour(moment: datetime) -> datetime:
    floor = moment.replace(minute=0, second=0, microsecond=0)
    return floor if floor == moment else floor + HOUR


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _provider_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, Mapping) and isinstance(body.get("message"), str):
        return str(body["message"])
    return response.text[:200]


def _explain(error: ProviderError) -> str:
    hints = {
        401: "the API key was refused (is it subscribed to One Call 3.0?)",
        429: "rate limit reached (calls per minute or per day); try again later",
    }
    status = error.status_code
    hint = hints.get(status) if status is not None else None
    if hint is None and status is not None and status >= 500:
        hint = "the provider failed; the next run will fetch it again"
    prefix = f"HTTP {status}" if status is not None else "no answer"
    if hint is None:
        return f"{prefix}: {error.message}"
    return f"{prefix}: {hint}. Provider said: {error.message}"
