"""The services this package serves, by name (the path is `/api/<name>`)."""

from __future__ import annotations

from services.arima import handler as arima
from services.common import Handler
from services.fdb_export import handler as fdb_export
from services.weather import handler as weather

HANDLERS: dict[str, Handler] = {
    weather.NAME: weather.handle,
    arima.NAME: arima.handle,
    fdb_export.NAME: fdb_export.handle,
}


def handlers() -> dict[str, Handler]:
    """A copy of the registry: name -> handler."""
    return dict(HANDLERS)
