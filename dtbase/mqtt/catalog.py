"""Which measures each sensor has, as the bridge knows them: read from the backend, read
again when a message names a sensor or measure it does not know (at most so often)."""

from __future__ import annotations

import math
import time
from typing import NamedTuple

from dtbase.client import Client
from dtbase.mqtt.payloads import BadMessage, Record
from dtbase.schemas.sensors import SensorMeasure
from dtbase.schemas.values import Scalar, ValueDatatype, ValueTypeError, check_value


class Resolved(NamedTuple):
    """A reading ready for bulk ingest: its series key and its checked value."""

    measure_name: str
    measure_units: str | None
    value: Scalar


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
        """The message's records as readings of the sensor's measures; BadMessage when the
        sensor or a measure is unknown, or a value is not of its measure's datatype.

        A message of 100 readings names the same measure 100 times: each is looked up
        once, and a finite float for a float measure (the usual reading) needs no check.
        """
        found: dict[tuple[str, str | None, str | None], SensorMeasure] = {}
        resolved: list[Resolved] = []
        for record in records:
            key = (record.name, record.bare_name, record.units)
            measure = found.get(key)
            if measure is None:
                measure = found[key] = self._find(sensor, record)
            value = record.value
            if not (type(value) is float and measure.datatype == FLOAT and math.isfinite(value)):
                value = _checked(measure, record)
            resolved.append(Resolved(measure.name, measure.units, value))
        return resolved

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


FLOAT = ValueDatatype.float


def _checked(measure: SensorMeasure, record: Record) -> Scalar:
    try:
        return check_value(measure.datatype, record.value)
    except ValueTypeError as error:
        raise BadMessage("wrong_datatype", f"{record.name}: {error}") from error
