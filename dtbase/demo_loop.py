"""The demo's loop: schedules that run weather ingress -> ARIMA -> FDB export by themselves.

`schedule(client, ...)` registers, through the API, a parameter set and three schedules
(each left alone if it exists already, so a restart keeps the user's changes):

* `demo-weather`: the weather service every 10 minutes, first at once: the last 72 hours
  and the next 48 (72 history calls: meant for the local fake provider, not a paid key);
* `demo-arima`: ARIMA on `OpenWeatherMapHistory`'s temperature and relative humidity every
  30 minutes (7 days of training, 24 hours ahead), first 30 seconds after start, when the
  first weather run has written its readings; only when the `arima` extra (statsmodels)
  is installed;
* `demo-fdb-export`: the FDB export of the last day's runs every 10 minutes, first a
  minute after start; only when the `fdb` extra (pyfdb, eccodes) is installed.

A schedule whose extra is missing is not registered, and its line says so: it would fail
at every run.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.util import find_spec
from typing import Any

from dtbase.client import ApiError, Client

CONFLICT = 409
PARAMETER_SET = "demo-london"
WEATHER_PARAMETERS = {"dt_from": "-72h", "dt_to": "+48h", "latitude": 51.53, "longitude": -0.127}
ARIMA_PARAMETERS = {
    "sensors": ["OpenWeatherMapHistory"],
    "measures": ["temperature", "relative humidity"],
    "training_days": 7,
    "horizon_hours": 24,
}
FDB_PARAMETERS = {"dt_from": "-24h", "dt_to": "present"}


@dataclass(frozen=True)
class DemoSchedule:
    service: str
    name: str
    every: timedelta
    first_after: timedelta
    parameters: dict[str, Any] | None = None
    parameter_set: str | None = None
    extra: str | None = None  # the optional dependencies its service needs

    def describe(self) -> str:
        first = "at once" if not self.first_after else f"first after {_span(self.first_after)}"
        return f"{self.service} every {_span(self.every)} ({first})"


SCHEDULES = (
    DemoSchedule(
        "weather",
        "demo-weather",
        timedelta(minutes=10),
        timedelta(0),
        parameter_set=PARAMETER_SET,
    ),
    DemoSchedule(
        "arima",
        "demo-arima",
        timedelta(minutes=30),
        timedelta(seconds=30),
        parameters=ARIMA_PARAMETERS,
        extra="arima",
    ),
    DemoSchedule(
        "fdb_export",
        "demo-fdb-export",
        timedelta(minutes=10),
        timedelta(minutes=1),
        parameters=FDB_PARAMETERS,
        extra="fdb",
    ),
)


# The modules each extra's service imports when it runs.
EXTRA_MODULES = {"arima": ("numpy", "scipy", "statsmodels"), "fdb": ("pyfdb", "eccodes")}


def installed_extras() -> set[str]:
    """The extras whose services can run here."""
    return {
        extra
        for extra, modules in EXTRA_MODULES.items()
        if all(find_spec(module) is not None for module in modules)
    }


def schedule(client: Client, *, extras: Collection[str], now: datetime | None = None) -> list[str]:
    """Register the demo's parameter set and the schedules whose services can run with
    the installed `extras`; one line on each for the user."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    _insert_once(
        lambda: client.services.insert_parameter_set("weather", PARAMETER_SET, WEATHER_PARAMETERS)
    )
    lines = []
    for item in SCHEDULES:
        if item.extra is not None and item.extra not in extras:
            lines.append(
                f"{item.service} not scheduled: the {item.extra} extra is not installed "
                f"(pip install 'dtbase[{item.extra}]', then restart)"
            )
            continue
        added = _insert_once(
            lambda item=item: client.services.insert_schedule(
                item.service,
                item.name,
                interval_seconds=int(item.every.total_seconds()),
                parameters=item.parameters,
                parameter_set_name=item.parameter_set,
                start_at=now + item.first_after,
            )
        )
        lines.append(item.describe() if added else f"{item.name} kept as it is")
    return lines


def _insert_once(insert: Any) -> bool:
    """Run an insert; False when it exists already."""
    try:
        insert()
    except ApiError as error:
        if error.status_code != CONFLICT:
            raise
        return False
    return True


def _span(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"
