"""The home dashboard's figures: each sensor's latest readings with their age, the last
model runs and service runs.

The API has no "latest reading" endpoint, so each (sensor, measure) is asked for its
readings in growing windows back from now (an hour, a day, thirty days) and the last one is
kept: one small answer for a live sensor. A sensor silent for longer shows no reading and
is flagged stale, like one whose latest reading is older than `STALE_AFTER`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dtbase.client import Client
from dtbase.schemas.models import ModelRun
from dtbase.schemas.services import ServiceRunDetails

STALE_AFTER = timedelta(hours=3)
WINDOWS = (timedelta(hours=1), timedelta(days=1), timedelta(days=30))
MAX_SENSORS = 20
LAST_RUNS = 5
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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
    found: list[Latest] = []
    total = 0
    for sensor_type in client.sensors.list_sensor_types():
        for sensor in client.sensors.list_sensors(sensor_type.name):
            total += 1
            if total > MAX_SENSORS:
                continue
            for measure in sensor_type.measures:
                reading = _latest(
                    client, sensor.unique_identifier, measure.name, measure.units, now
                )
                label = measure.name + (f" ({measure.units})" if measure.units else "")
                if reading is None:
                    found.append(
                        Latest(sensor.unique_identifier, sensor_type.name, label, None, None, None)
                    )
                else:
                    moment = datetime.fromisoformat(reading["timestamp"])
                    found.append(
                        Latest(
                            sensor.unique_identifier,
                            sensor_type.name,
                            label,
                            reading["value"],
                            moment,
                            max(now - moment, timedelta(0)),
                        )
                    )
    return found, total


def _latest(
    client: Client, sensor: str, measure: str, units: str | None, now: datetime
) -> dict[str, Any] | None:
    for window in WINDOWS:
        body = {
            "measure_name": measure,
            "measure_units": units,
            "unique_identifier": sensor,
            "dt_from": (now - window).isoformat(),
            "dt_to": now.isoformat(),
        }
        readings: list[dict[str, Any]] = client.request("POST", "/sensor/sensor-readings", body)
        if readings:
            return readings[-1]
    return None


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
        return "none in 30 days"
    seconds = int(age.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400 * 2:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"
