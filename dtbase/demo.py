"""A small, deterministic demo twin, loaded through the API (`dtbase.client` only).

`load(client)` creates a location schema with three rooms, six sensors of three types
(climate: temperature and humidity; CO2; a door contact) with a month of 10-minute
readings up to the time it is loaded (daily and weekly cycles, office hours, slowly
wandering noise), and an `Arima` forecast run with 68% and 95% bands for each temperature
sensor from the last reading on, named the way the ARIMA service names its measures so
that the model page draws it beside the observations.

Every reading is a function of its sensor, measure and time alone (the noise's phases and
jitter come from generators seeded by those), so loads at different times agree where
they overlap, to the last digit. Loading again adds only what is missing (the readings
since the last load, a forecast from a new end), so it is safe at every start
(`dtbase up --demo`). Only the standard library computes it: the demo runs in a base
install, without numpy, and the forecast is a seasonal profile plus level with intervals
widening with the horizon, not statsmodels.
"""

from __future__ import annotations

import math
import random
import zlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from statistics import fmean, stdev

from dtbase.client import Client
from dtbase.schemas.locations import LocationIdentifier
from dtbase.schemas.models import MeasureValues, SensorMeasureIdentifier
from dtbase.schemas.sensors import SensorMeasure
from dtbase.schemas.values import Scalar, ValueDatatype

SCHEMA = "demo-site"
IDENTIFIERS = (
    LocationIdentifier(name="building", units=None, datatype=ValueDatatype.string),
    LocationIdentifier(name="room", units=None, datatype=ValueDatatype.string),
    LocationIdentifier(name="floor", units=None, datatype=ValueDatatype.integer),
)
ROOMS: dict[str, dict[str, Scalar]] = {
    "lab": {"building": "Main", "room": "Lab", "floor": 1},
    "office": {"building": "Main", "room": "Office", "floor": 2},
    "store": {"building": "Annex", "room": "Store", "floor": 0},
}

# The weather service's units: so the forecasts of both share their model measures.
TEMPERATURE = SensorMeasure(
    name="temperature", units="degrees Celsius", datatype=ValueDatatype.float
)
HUMIDITY = SensorMeasure(name="humidity", units="percent", datatype=ValueDatatype.float)
CO2 = SensorMeasure(name="co2", units="ppm", datatype=ValueDatatype.float)
DOOR_OPEN = SensorMeasure(name="door open", units=None, datatype=ValueDatatype.boolean)
SENSOR_TYPES = {
    "Demo climate sensor": (TEMPERATURE, HUMIDITY),
    "Demo CO2 sensor": (CO2,),
    "Demo door sensor": (DOOR_OPEN,),
}


@dataclass(frozen=True)
class DemoSensor:
    unique_identifier: str
    type_name: str
    name: str
    room: str
    base_temperature: float = 20.0


SENSORS = (
    DemoSensor("demo-climate-lab", "Demo climate sensor", "Lab climate", "lab", 21.0),
    DemoSensor("demo-climate-office", "Demo climate sensor", "Office climate", "office", 20.0),
    DemoSensor("demo-climate-store", "Demo climate sensor", "Store climate", "store", 15.0),
    DemoSensor("demo-co2-lab", "Demo CO2 sensor", "Lab CO2", "lab"),
    DemoSensor("demo-co2-office", "Demo CO2 sensor", "Office CO2", "office"),
    DemoSensor("demo-door-store", "Demo door sensor", "Store door", "store"),
)

DAYS = 30
STEP = timedelta(minutes=10)
BATCH = 5000  # readings per insert call

MODEL = "Arima"
SCENARIO = "Business as usual"
FORECAST_HOURS = 72
Z95 = 1.959964
# The noise: a few slow waves (periods of 5 hours to 4 days) and a little jitter.
WAVES = 4
WAVE_HOURS = (5.0, 96.0)
JITTER_SHARE = 0.2  # of the noise's unit variance


@dataclass
class DemoSummary:
    """What one `load` added (zero everywhere when the demo was complete already)."""

    added: dict[str, int] = field(default_factory=dict)

    def count(self, what: str, number: int = 1) -> None:
        self.added[what] = self.added.get(what, 0) + number

    def __str__(self) -> str:
        if not self.added:
            return "The demo data were all there already."
        return "Demo data added: " + ", ".join(f"{n} {what}" for what, n in self.added.items())


def default_end(now: datetime | None = None) -> datetime:
    """The demo's last reading time: now (UTC), floored to the 10-minute step."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return now - (now - datetime(2000, 1, 1, tzinfo=UTC)) % STEP


def timestamps(end: datetime) -> list[datetime]:
    """The month's reading times: every 10 minutes, the last at `end`."""
    count = int(timedelta(days=DAYS) / STEP)
    return [end - (count - 1 - i) * STEP for i in range(count)]


def readings(sensor: DemoSensor, measure: SensorMeasure, times: Sequence[datetime]) -> list[Scalar]:
    """The sensor's readings of `measure` at `times`: deterministic, realistic-looking."""
    key = f"{sensor.unique_identifier}/{measure.name}"
    hours = [t.hour + t.minute / 60 for t in times]
    office = [8 <= h < 18 and t.weekday() < 5 for t, h in zip(times, hours, strict=True)]
    daily = [math.sin(2 * math.pi * (h - 9) / 24) for h in hours]  # warmest mid-afternoon
    noise = _noise(key, times)
    rows = zip(daily, office, noise, strict=True)
    if measure == TEMPERATURE:
        base = sensor.base_temperature
        return [round(base + 2.5 * d + 1.2 * o + 0.4 * n, 2) for d, o, n in rows]
    if measure == HUMIDITY:
        return [round(_clip(48 - 6 * d - 3 * o + 2.0 * n, 5, 100), 1) for d, o, n in rows]
    if measure == CO2:
        busy = [0.7 + 0.3 * math.sin(math.pi * (h - 8) / 10) for h in hours]
        people = [o * b for o, b in zip(office, busy, strict=True)]
        return [
            round(max(420 + 550 * p + 25 * n, 380), 0) for p, n in zip(people, noise, strict=True)
        ]
    if measure == DOOR_OPEN:
        chances = [0.25 if o else 0.01 for o in office]
        return [_uniform(key, t) < p for t, p in zip(times, chances, strict=True)]
    raise ValueError(f"no demo readings for {measure.name}")


def _noise(key: str, times: Sequence[datetime]) -> list[float]:
    """Noise of unit variance that wanders slowly, a function of the time alone: waves
    whose periods and phases are drawn from `key`, plus jitter drawn from `key` and time."""
    rng = _generator(zlib.crc32(key.encode()))
    waves = [
        (2 * math.pi / (3600 * rng.uniform(*WAVE_HOURS)), rng.uniform(0, 2 * math.pi))
        for _ in range(WAVES)
    ]
    amplitude = math.sqrt(2 * (1 - JITTER_SHARE) / WAVES)  # a wave's variance: amplitude²/2
    jitter = math.sqrt(JITTER_SHARE)
    noise = []
    for t in times:
        seconds = t.timestamp()
        wander = sum(math.sin(rate * seconds + phase) for rate, phase in waves)
        noise.append(amplitude * wander + jitter * _gauss(key, t))
    return noise


def _uniform(key: str, moment: datetime) -> float:
    return _generator(f"{key}@{moment.isoformat()}").random()


def _gauss(key: str, moment: datetime) -> float:
    return _generator(f"{key}@{moment.isoformat()}~").gauss()


def _generator(seed: int | str) -> random.Random:
    # Demo data, not secrets: reproducible from the seed on purpose.
    return random.Random(seed)  # noqa: S311


def _clip(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


@dataclass(frozen=True)
class DemoForecast:
    times: list[datetime]
    mean: list[float]
    bounds: dict[str, tuple[list[float], list[float]]]  # "68" and "95": (lower, upper)


def forecast(times: Sequence[datetime], values: Sequence[float], start: datetime) -> DemoForecast:
    """An hourly forecast from `start` with the readings before it: the last two weeks'
    daily profile plus the last day's level; intervals from the profile's residuals,
    widening with the square root of the horizon."""
    by_hour: dict[int, list[float]] = defaultdict(list)  # hours before `start`: negative
    for moment, value in zip(times, values, strict=True):
        if moment < start:
            by_hour[(moment - start) // timedelta(hours=1)].append(value)
    hourly = {hour: fmean(hour_values) for hour, hour_values in by_hour.items()}
    recent = {hour: value for hour, value in hourly.items() if hour >= -14 * 24}

    def of_day(hour: int) -> int:
        return (hour + start.hour) % 24

    profile = [
        fmean(value for hour, value in recent.items() if of_day(hour) == h) for h in range(24)
    ]
    shift = fmean(value - profile[of_day(hour)] for hour, value in hourly.items() if hour >= -24)
    sigma = stdev(value - profile[of_day(hour)] for hour, value in recent.items())
    steps = range(FORECAST_HOURS)
    mean = [profile[of_day(k)] + shift * math.exp(-k / 24) for k in steps]
    spread = [sigma * math.sqrt(1 + k / 24) for k in steps]

    def band(z: float) -> tuple[list[float], list[float]]:
        return (
            [m - z * s for m, s in zip(mean, spread, strict=True)],
            [m + z * s for m, s in zip(mean, spread, strict=True)],
        )

    return DemoForecast(
        times=[start + timedelta(hours=k) for k in steps],
        mean=mean,
        bounds={"68": band(1.0), "95": band(Z95)},
    )


def run_measures(measure: SensorMeasure, result: DemoForecast) -> list[MeasureValues]:
    """The forecast as the ARIMA service writes it: Mean, (Upper|Lower) Bound [95%] <m>."""
    units = measure.units or ""

    def output(name: str, values: list[float]) -> MeasureValues:
        return MeasureValues(
            measure_name=name,
            values=[round(v, 3) for v in values],
            timestamps=result.times,
            units=units,
        )

    low68, high68 = result.bounds["68"]
    low95, high95 = result.bounds["95"]
    return [
        output(f"Mean {measure.name}", result.mean),
        output(f"Upper Bound {measure.name}", high68),
        output(f"Lower Bound {measure.name}", low68),
        output(f"Upper Bound 95% {measure.name}", high95),
        output(f"Lower Bound 95% {measure.name}", low95),
    ]


def load(client: Client, *, end: datetime | None = None) -> DemoSummary:
    """Load the demo twin (what is missing of it) through `client`, a logged-in writer."""
    end = default_end() if end is None else end.astimezone(UTC)
    summary = DemoSummary()
    _locations(client, summary)
    _sensors(client, summary, end)
    times = timestamps(end)
    for sensor in SENSORS:
        for measure in SENSOR_TYPES[sensor.type_name]:
            _readings(client, summary, sensor, measure, times)
    _forecasts(client, summary, end, times)
    return summary


def _locations(client: Client, summary: DemoSummary) -> None:
    if SCHEMA not in {s.name for s in client.locations.list_location_schemas()}:
        client.locations.insert_location_schema(
            SCHEMA, "The demo twin's rooms (dtbase.demo)", IDENTIFIERS
        )
        summary.count("location schema")
    existing = [
        {key: value for key, value in row.items() if key != "id"}
        for row in client.locations.list_locations(SCHEMA)
    ]
    for coordinates in ROOMS.values():
        if coordinates not in existing:
            client.locations.insert_location_for_schema(SCHEMA, coordinates)
            summary.count("locations")


def _sensors(client: Client, summary: DemoSummary, end: datetime) -> None:
    types = {t.name for t in client.sensors.list_sensor_types()}
    for name, measures in SENSOR_TYPES.items():
        if name not in types:
            client.sensors.insert_sensor_type(name, measures, "Demo data (dtbase.demo)")
            summary.count("sensor types")
    sensors = {s.unique_identifier for s in client.sensors.list_sensors()}
    for sensor in SENSORS:
        if sensor.unique_identifier not in sensors:
            client.sensors.insert_sensor(
                sensor.type_name, sensor.unique_identifier, sensor.name, "Demo data"
            )
            summary.count("sensors")
        if not client.sensors.list_sensor_locations(sensor.unique_identifier):
            client.sensors.insert_sensor_location(
                sensor.unique_identifier,
                SCHEMA,
                ROOMS[sensor.room],
                installation_datetime=end - timedelta(days=DAYS + 1),
            )
            summary.count("sensor locations")


def _readings(
    client: Client,
    summary: DemoSummary,
    sensor: DemoSensor,
    measure: SensorMeasure,
    times: list[datetime],
) -> None:
    stored = client.sensors.sensor_readings(
        measure.name, sensor.unique_identifier, times[0], times[-1], measure_units=measure.units
    )
    have = {reading.timestamp for reading in stored}
    values = readings(sensor, measure, times)
    missing = [(t, v) for t, v in zip(times, values, strict=True) if t not in have]
    for first in range(0, len(missing), BATCH):
        batch = missing[first : first + BATCH]
        client.sensors.insert_sensor_readings(
            measure.name,
            sensor.unique_identifier,
            [v for _, v in batch],
            [t for t, _ in batch],
            measure_units=measure.units,
        )
    if missing:
        summary.count("readings", len(missing))


def _forecasts(client: Client, summary: DemoSummary, end: datetime, times: list[datetime]) -> None:
    start = end  # from the last reading on, as a forecast made at load time would
    if MODEL not in {m.name for m in client.models.list_models()}:
        client.models.insert_model(MODEL)
        summary.count("models")
    declared = {(m.name, m.units) for m in client.models.list_model_measures()}
    prefixes = ("Mean", "Upper Bound", "Lower Bound", "Upper Bound 95%", "Lower Bound 95%")
    for prefix in prefixes:
        name, units = f"{prefix} {TEMPERATURE.name}", TEMPERATURE.units or ""
        if (name, units) not in declared:
            client.models.insert_model_measure(name, units, ValueDatatype.float)
            summary.count("model measures")
    runs = client.models.list_model_runs(
        MODEL, dt_from=start - timedelta(hours=1), dt_to=start + timedelta(hours=1)
    )
    linked = {run.sensor_unique_id for run in runs if run.scenario_description == SCENARIO}
    forecast_sensors = [s for s in SENSORS if TEMPERATURE in SENSOR_TYPES[s.type_name]]
    for sensor in forecast_sensors:
        if sensor.unique_identifier in linked:
            continue
        values = readings(sensor, TEMPERATURE, times)
        result = forecast(times, [float(v) for v in values], start)
        client.models.insert_model_run(
            MODEL,
            SCENARIO,
            run_measures(TEMPERATURE, result),
            # One run time for all: a run is also told apart by its sensor.
            time_created=start,
            create_scenario=True,
            sensor_unique_id=sensor.unique_identifier,
            sensor_measure=SensorMeasureIdentifier(name=TEMPERATURE.name, units=TEMPERATURE.units),
        )
        summary.count("model runs")
