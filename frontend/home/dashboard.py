"""The home dashboard's figures: each sensor's latest readings with their age, the last
model runs and service runs.

The latest readings come in one request (`list-latest-readings`, one index probe per
sensor and measure in the backend). A measure without readings, or whose latest reading is
older than `STALE_AFTER`, is flagged stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dtbase.client import Client
from dtbase.core.timestamps import EPOCH
from dtbase.schemas.models import ModelRun
from dtbase.schemas.services import ServiceRunDetails

STALE_AFTER = timedelta(hours=3)
MAX_SENSORS = 20
LAST_RUNS = 5


@dataclass(frozen=True)
class Latest:
    sensor: str
    type_name: str
    measure: str
    value: Any
    timestamp: datetime | None
    age: timedelta | None

    @property
    def stale(self) -> bool:
        return self.age is None or self.age > STALE_AFTER


def latest_readings(client: Client, now: datetime | None = None) -> tuple[list[Latest], int]:
    """The latest reading of each measure of the first `MAX_SENSORS` sensors, and how many
    sensors there are in all."""
    now = now or datetime.now(UTC)
    found = [
        Latest(
            row.unique_identifier,
            row.type_name,
            row.measure_name + (f" ({row.measure_units})" if row.measure_units else ""),
            row.value,
            row.timestamp,
            None if row.timestamp is None else max(now - row.timestamp, timedelta(0)),
        )
        for row in client.sensors.list_latest_readings(limit=MAX_SENSORS)
    ]
    return found, len(client.sensors.list_sensors())


def last_model_runs(client: Client, now: datetime | None = None) -> list[ModelRun]:
    """The newest runs of all models (the API lists a week by default: ask for all)."""
    until = (now or datetime.now(UTC)) + timedelta(days=1)
    runs = [
        run
        for model in client.models.list_models()
        for run in client.models.list_model_runs(model.name, dt_from=EPOCH, dt_to=until)
    ]
    runs.sort(key=lambda run: run.time_created, reverse=True)
    return runs[:LAST_RUNS]


def last_service_runs(client: Client) -> list[ServiceRunDetails]:
    runs = client.services.list_runs_details()
    runs.sort(key=lambda run: run.timestamp, reverse=True)
    return runs[:LAST_RUNS]


def age_text(age: timedelta | None) -> str:
    """ "3 min", "5 h", "2 days": how long ago, roughly."""
    if age is None:
        return "no readings"
    seconds = int(age.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400 * 2:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"
