"""Which measures each sensor has, as the bridge knows them: read from the backend, read
again when a message names a sensor or measure it does not know (at most so often)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import NamedTuple

from dtbase.client import Client
from dtbase.mqtt.payloads import BadMessage, Record
from dtbase.schemas.sensors import SensorMeasure
from dtbase.schemas.values import Scalar, ValueListError, check_values


class Resolved(NamedTuple):
    """A message's readings of one measure, ready for bulk ingest: checked values and
    their times, in the order given."""

    measure_name: str
    measure_units: str | None
    values: list[Scalar]
    timestamps: list[datetime]


class Catalog:
    def __init__(self, client: Client, *, refresh_seconds: float = 5.0) -> None:
        self._client = client
        self._refresh_seconds = refresh_seconds
        self._measures: dict[str, list[SensorMeasure]] = {}
        self._loaded_at = -float("inf")

    def refresh(self) -> None:
        """Every sensor's measures, from the backend (one request per sensor type)."""
        measures: dict[str, list[SensorMeasure]] = {}
        for sensor_type in self._client.sensors.list_sensor_types():
            for sensor in self._client.sensors.list_sensors(sensor_type.name):
                measures[sensor.unique_identifier] = sensor_type.measures
        self._measures = measures
        self._loaded_at = time.monotonic()

    def resolve_all(self, sensor: str, records: list[Record]) -> list[Resolved]:
        """The message's records as readings of the sensor's measures, one `Resolved` per
        measure; BadMessage when the sensor or a measure is unknown, or a value is not of
        its measure's datatype.

        A message of 100 readings names the same measure 100 times: each name is looked
        up once, and each measure's values are checked in one pass.
        """
        if len(records) == 1:  # most messages: nothing to group
            measure = self._find(sensor, records[0])
            checked = _checked(measure, records)
            return [Resolved(measure.name, measure.units, checked, [records[0].timestamp])]
        # The records of each measure, by the names that found it (two names may find one
        # measure: with and without the device's base name).
        named: dict[tuple[str, str | None, str | None], list[Record]] = {}
        grouped: dict[tuple[str, str | None], tuple[SensorMeasure, list[Record]]] = {}
        for record in records:
            key = (record.name, record.bare_name, record.units)
            same = named.get(key)
            if same is None:
                measure = self._find(sensor, record)
                same = grouped.setdefault((measure.name, measure.units), (measure, []))[1]
                named[key] = same
            same.append(record)
        return [
            Resolved(
                measure.name,
                measure.units,
                _checked(measure, named),
                [record.timestamp for record in named],
            )
            for measure, named in grouped.values()
        ]

    def _find(self, sensor: str, record: Record) -> SensorMeasure:
        measure = self._measure(sensor, record)
        if measure is None and self._stale():
            self.refresh()
            measure = self._measure(sensor, record)
        if measure is None:
            raise self._unknown(sensor, record)
        return measure

    def _measure(self, sensor: str, record: Record) -> SensorMeasure | None:
        for name in (record.name, record.bare_name):
            named = [m for m in self._measures.get(sensor, ()) if m.name == name]
            if record.units is not None:
                named = [m for m in named if m.units == record.units]
            if named:
                return named[0] if len(named) == 1 else None
        return None

    def _unknown(self, sensor: str, record: Record) -> BadMessage:
        if sensor not in self._measures:
            return BadMessage("unknown_sensor", f"no sensor {sensor!r}")
        known = ", ".join(
            f"{m.name!r}" + (f" [{m.units}]" if m.units else "") for m in self._measures[sensor]
        )
        units = f" with units {record.units!r}" if record.units is not None else ""
        return BadMessage(
            "unknown_measure",
            f"no single measure {record.name!r}{units} for sensor {sensor!r} (it has: {known})",
        )

    def _stale(self) -> bool:
        return time.monotonic() - self._loaded_at >= self._refresh_seconds


def _checked(measure: SensorMeasure, records: list[Record]) -> list[Scalar]:
    try:
        return check_values(measure.datatype, [record.value for record in records])
    except ValueListError as error:
        name = records[error.index].name
        raise BadMessage("wrong_datatype", f"{name}: {error}") from error
