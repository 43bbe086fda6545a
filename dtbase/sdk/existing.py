"""Is what a 409 says exists the same as what the service sent?

A 409 on an `insert-...` endpoint says something with the same key is stored already. For a
re-run that is the same object, and the SDK counts it as "already there"; but it may be a
*different* object that shares the key (another run at that time, a sensor of another
type, a measure of another datatype), and then the data sent are lost. `difference()` reads
what is stored and compares it with the payload:

* `insert-model-run`: the run with the payload's model, scenario, time and sensor link must
  hold the payload's values (repeated timestamps: the first counts, as in the backend);
* `insert-model-measure`: the stored measure's datatype; `insert-sensor-type`: its
  measures (names, units, datatypes; the description is not compared);
  `insert-sensor`: its type (name and notes are not compared);
* `insert-model`, `insert-model-scenario`: the key is the whole payload, nothing to compare.

Any other endpoint's 409 cannot be checked cheaply and is not "already there": readings
inserts are idempotent by key (a repeat is a 201), so their 409 is a real conflict.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from dtbase.client import Client
from dtbase.schemas.models import InsertModelRunRequest, ModelMeasure, ModelValuePoint
from dtbase.schemas.sensors import InsertSensorRequest, SensorType
from dtbase.schemas.values import Scalar


class Unchecked(Exception):
    """The SDK cannot tell whether the stored object is the one sent."""


def difference(client: Client, endpoint: str, payload: Any) -> str | None:
    """None when the stored object is the payload's; otherwise how it differs.

    Raises `Unchecked` for endpoints it does not compare, and lets the client's errors and
    validation errors through (the caller reports them).
    """
    path = "/".join(endpoint.strip("/").split("/")[-2:])
    compare = _COMPARISONS.get(path)
    if compare is None:
        raise Unchecked(f"a 409 from {endpoint} is not compared with what is stored")
    return compare(client, payload)


def _same_key(_client: Client, _payload: Any) -> str | None:
    return None


def _model_measure(client: Client, payload: Any) -> str | None:
    sent = ModelMeasure.model_validate(payload)
    for stored in client.models.list_model_measures():
        if (stored.name, stored.units) == (sent.name, sent.units):
            if stored.datatype != sent.datatype:
                return (
                    f"model measure {sent.name!r} [{sent.units}] is stored as "
                    f"{stored.datatype}, not {sent.datatype}"
                )
            return None
    return f"no model measure {sent.name!r} [{sent.units}] is stored"


def _sensor_type(client: Client, payload: Any) -> str | None:
    sent = SensorType.model_validate(payload)
    for stored in client.sensors.list_sensor_types():
        if stored.name == sent.name:
            have = {(m.name, m.units, m.datatype) for m in stored.measures}
            want = {(m.name, m.units, m.datatype) for m in sent.measures}
            if have != want:
                return (
                    f"sensor type {sent.name!r} is stored with other measures "
                    f"(missing: {_listed(want - have)}; other: {_listed(have - want)})"
                )
            return None
    return f"no sensor type {sent.name!r} is stored"


def _sensor(client: Client, payload: Any) -> str | None:
    sent = InsertSensorRequest.model_validate(payload)
    of_type = client.sensors.list_sensors(type_name=sent.type_name)
    if any(sensor.unique_identifier == sent.unique_identifier for sensor in of_type):
        return None
    return f"sensor {sent.unique_identifier!r} is stored, but not as a {sent.type_name!r}"


def _model_run(client: Client, payload: Any) -> str | None:
    sent = InsertModelRunRequest.model_validate(payload)
    if sent.time_created is None:
        return "the run has no time_created, so the stored run it clashes with is unknown"
    runs = client.models.list_model_runs(
        sent.model_name,
        dt_from=sent.time_created,
        dt_to=sent.time_created,
        scenario=sent.scenario_description,
    )
    link = f"sensor {sent.sensor_unique_id!r}, measure {_measure(sent)}"
    same_link = [
        run
        for run in runs
        if run.sensor_unique_id == sent.sensor_unique_id
        and run.sensor_measure == sent.sensor_measure
    ]
    if not same_link:
        others = ", ".join(f"run {run.id} (sensor {run.sensor_unique_id!r})" for run in runs)
        return (
            f"another run holds {sent.model_name!r} / {sent.scenario_description!r} at "
            f"{sent.time_created.isoformat()}: {others or 'unknown'}; this one ({link}) "
            "was not stored"
        )
    run = same_link[0]
    stored = {
        name: _stored_points(points) for name, points in client.models.get_model_run(run.id).items()
    }
    wanted = {
        entry.measure_name: _sent_points(entry.timestamps, entry.values)
        for entry in sent.measures_and_values
    }
    if stored.keys() != wanted.keys():
        return (
            f"run {run.id} ({link}) is stored with the outputs {sorted(stored)}, "
            f"not {sorted(wanted)}"
        )
    for name, points in wanted.items():
        if stored[name] != points:
            return f"run {run.id} ({link}) is stored with other values of {name!r}"
    return None


def _sent_points(timestamps: list[datetime], values: list[Scalar]) -> list[tuple[datetime, Any]]:
    first: dict[datetime, Any] = {}
    for moment, value in zip(timestamps, values, strict=True):
        first.setdefault(moment, value)
    return sorted(first.items())


def _stored_points(points: list[ModelValuePoint]) -> list[tuple[datetime, Any]]:
    return [(point.timestamp, point.value) for point in points]


def _measure(run: InsertModelRunRequest) -> str:
    if run.sensor_measure is None:
        return "None"
    return f"{run.sensor_measure.name!r} [{run.sensor_measure.units}]"


def _listed(measures: set[tuple[str, str | None, Any]]) -> str:
    return (
        ", ".join(
            f"{name} [{units}] {datatype}" for name, units, datatype in sorted(measures, key=str)
        )
        or "none"
    )


_COMPARISONS: dict[str, Callable[[Client, Any], str | None]] = {
    "model/insert-model": _same_key,
    "model/insert-model-scenario": _same_key,
    "model/insert-model-measure": _model_measure,
    "model/insert-model-run": _model_run,
    "sensor/insert-sensor-type": _sensor_type,
    "sensor/insert-sensor": _sensor,
}
