"""A model run as the FDB bridge sees it: plain data, and the checks made before export.

The shapes are deliberately independent of the API's (`dtbase.schemas.models`): an adapter
turns an API run into a `ModelRun`. Datetimes follow the project's rule: naive means UTC,
aware ones are converted to UTC.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from dtbase.fdb.errors import InvalidRun

Point = tuple[datetime, float]

# GRIB2 stores a step in 32 bits (minutes, or seconds when needed) and MARS times to the
# minute: a run's fields hang off its reference time (see `reference_of`).
MAX_STEP_SECONDS = 2**32 - 1
# The creation time is kept as the data cut-off after the reference time: 2 octets of hours.
MAX_CUTOFF = timedelta(hours=2**16 - 2, minutes=59)  # 65535 hours means "missing"
# Each problem list names at most this many examples per kind of problem and measure.
_EXAMPLES = 3


@dataclass(frozen=True, slots=True)
class Location:
    """A site in degrees (WGS84); GRIB2 keeps 6 decimals, longitudes come back in [-180, 180)."""

    latitude: float
    longitude: float


class SensorLink(NamedTuple):
    """The sensor a run forecasts (its unique identifier) and the sensor's measure, if named."""

    sensor: str
    measure: str = ""
    units: str = ""


@dataclass(frozen=True, slots=True)
class MeasureSeries:
    """One output of a run: a measure (name and units) and its (timestamp, value) points."""

    name: str
    units: str
    points: tuple[Point, ...]

    def __init__(self, name: str, units: str, points: Sequence[Point]) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "units", units)
        object.__setattr__(self, "points", tuple((as_utc(when), value) for when, value in points))


@dataclass(frozen=True, slots=True)
class ModelRun:
    """A model run: model, scenario (None for a run without one), run time (its creation
    time), measures, site, and the sensor link it forecasts (None for none)."""

    model: str
    scenario: str | None
    run_time: datetime
    measures: tuple[MeasureSeries, ...]
    location: Location | None = None
    sensor: SensorLink | None = None

    def __init__(
        self,
        model: str,
        scenario: str | None,
        run_time: datetime,
        measures: Sequence[MeasureSeries],
        location: Location | None = None,
        sensor: SensorLink | None = None,
    ) -> None:
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "scenario", scenario)
        object.__setattr__(self, "run_time", as_utc(run_time))
        object.__setattr__(self, "measures", tuple(measures))
        object.__setattr__(self, "location", location)
        object.__setattr__(self, "sensor", sensor)

    @property
    def reference_time(self) -> datetime:
        """The time FDB files the run under (MARS `date` and `time`): see `reference_of`."""
        return reference_of(self.run_time, self.measures)

    def sorted(self) -> ModelRun:
        """The same run with measures by (name, units) and points by time, as read back."""
        measures = sorted(self.measures, key=lambda measure: (measure.name, measure.units))
        return ModelRun(
            self.model,
            self.scenario,
            self.run_time,
            [MeasureSeries(m.name, m.units, sorted(m.points, key=_when)) for m in measures],
            self.location,
            self.sensor,
        )


def as_utc(value: datetime) -> datetime:
    """Naive input is UTC; aware input is converted to UTC. Anything else passes unchanged."""
    if not isinstance(value, datetime):
        return value  # left for `validate_run` to report
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def reference_time(run_time: datetime) -> datetime:
    """A time as MARS keeps it: UTC, truncated to the minute."""
    return as_utc(run_time).replace(second=0, microsecond=0)


def reference_of(run_time: datetime, measures: Sequence[MeasureSeries]) -> datetime:
    """A run's FDB reference time: its creation time, or its first value's time if that is
    earlier (a forecast from an old reading, an analysis, a backfill), to the minute, so
    that no step is negative. The creation time is kept as the fields' data cut-off."""
    times = [when for m in measures for when, _ in m.points if isinstance(when, datetime)]
    if not isinstance(run_time, datetime):
        return run_time  # left for `validate_run` to report
    return reference_time(min([as_utc(run_time), *times]))


def seconds_after(reference: datetime, when: datetime) -> int:
    """Whole seconds from the reference time (validated runs only: exact, not negative)."""
    delta = when - reference
    return delta.days * 86_400 + delta.seconds


def validate_run(run: ModelRun) -> None:
    """Raise `InvalidRun` listing every reason the run cannot be exported exactly."""
    problems: list[str] = []
    if not isinstance(run.model, str) or not run.model.strip():
        problems.append(f"model name must be a non-empty string, not {run.model!r}")
    if run.scenario is not None and (not isinstance(run.scenario, str) or not run.scenario):
        problems.append(f"scenario must be None or a non-empty string, not {run.scenario!r}")
    if not isinstance(run.run_time, datetime):
        problems.append(f"run time must be a datetime, not {type(run.run_time).__name__}")
    if run.location is not None:
        problems.extend(_location_problems(run.location))
    if not run.measures:
        problems.append("the run has no measures")
    if run.sensor is not None and not (
        isinstance(run.sensor, SensorLink)
        and all(isinstance(part, str) for part in run.sensor)
        and run.sensor.sensor
    ):
        problems.append(f"sensor link must be a SensorLink of strings, not {run.sensor!r}")
    seen: set[tuple[str, str]] = set()
    reference = None
    if isinstance(run.run_time, datetime):
        reference = run.reference_time
        if run.run_time - reference > MAX_CUTOFF:
            problems.append(
                f"the run was created {run.run_time - reference} after its first value; "
                f"GRIB2 keeps at most {MAX_CUTOFF} between them"
            )
    for measure in run.measures:
        key = (measure.name, measure.units)
        if key in seen:
            problems.append(f"measure {_label(measure)} appears more than once")
        seen.add(key)
        problems.extend(_measure_problems(measure, reference))
    if problems:
        raise InvalidRun(problems)


def _measure_problems(measure: MeasureSeries, reference: datetime | None) -> list[str]:
    label = _label(measure)
    problems: list[str] = []
    if not isinstance(measure.name, str) or not measure.name.strip():
        problems.append(f"measure {label}: the name must be a non-empty string")
    if not isinstance(measure.units, str):
        problems.append(f"measure {label}: units must be a string (may be empty)")
    if not measure.points:
        return [*problems, f"measure {label}: the series is empty"]

    not_float = [(when, value) for when, value in measure.points if not isinstance(value, float)]
    if not_float:
        examples = ", ".join(
            f"{value!r} ({type(value).__name__})" for _, value in not_float[:_EXAMPLES]
        )
        problems.append(
            f"measure {label}: {len(not_float)} value(s) are not floats, e.g. {examples}; "
            "only float measures can be exported to FDB"
        )
    # numpy.float64 is a float; ints, bools, strings and float32 are not.
    not_finite = [
        value
        for _, value in measure.points
        if isinstance(value, float) and not math.isfinite(value)
    ]
    if not_finite:
        problems.append(
            f"measure {label}: {len(not_finite)} value(s) are not finite "
            f"(e.g. {not_finite[0]!r}); GRIB fields here hold finite floats only"
        )
    not_datetime = [when for when, _ in measure.points if not isinstance(when, datetime)]
    if not_datetime:
        problems.append(
            f"measure {label}: {len(not_datetime)} timestamp(s) are not datetimes, "
            f"e.g. {not_datetime[0]!r}"
        )
        return problems
    if reference is None:
        return problems

    fractional = [when for when, _ in measure.points if when.microsecond]
    if fractional:
        problems.append(
            f"measure {label}: {len(fractional)} timestamp(s) with fractions of a second, "
            f"e.g. {_times(fractional)}; steps are whole seconds (minutes where possible)"
        )
    latest = reference + timedelta(seconds=MAX_STEP_SECONDS)
    too_far = [when for when, _ in measure.points if when > latest]
    if too_far:
        problems.append(
            f"measure {label}: {len(too_far)} timestamp(s) too far after the reference time "
            f"for a GRIB2 step, e.g. {_times(too_far)}"
        )
    counts: dict[datetime, int] = {}
    for when, _ in measure.points:
        counts[when] = counts.get(when, 0) + 1
    duplicates = [when for when, count in counts.items() if count > 1]
    if duplicates:
        problems.append(
            f"measure {label}: {len(duplicates)} timestamp(s) appear more than once, "
            f"e.g. {_times(duplicates)}; one field per time"
        )
    return problems


def _location_problems(location: Location) -> list[str]:
    problems = []
    for name, value, low, high in (
        ("latitude", location.latitude, -90.0, 90.0),
        ("longitude", location.longitude, -180.0, 360.0),
    ):
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not math.isfinite(value) or not low <= value <= high:
            problems.append(f"location {name} must be a number in [{low}, {high}], not {value!r}")
    return problems


def _when(point: Point) -> datetime:
    return point[0]


def _label(measure: MeasureSeries) -> str:
    return f"{measure.name!r} [{measure.units}]"


def _times(values: Sequence[datetime]) -> str:
    return ", ".join(value.isoformat() for value in values[:_EXAMPLES])
