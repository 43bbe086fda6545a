"""A small, deterministic demo twin, loaded through the API (`dtbase.client` only).

`load(client)` creates a location schema with three rooms, six sensors of three types
(climate: temperature and humidity; CO2; a door contact) with a month of 10-minute
readings (daily and weekly cycles, office hours, autocorrelated noise), and an `Arima`
forecast run with 68% and 95% bands for each temperature sensor, named the way the ARIMA
service names its measures so that the model page draws it over the observations.

The same `end` gives the same data, to the last digit: the noise comes from generators
seeded by the sensor's name. Loading again adds only what is missing, so it is safe to run
at every start (`dtbase up --demo`). The forecast is computed here with numpy (a seasonal
profile plus level, intervals widening with the horizon), not with statsmodels.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from dtbase.client import Client
from dtbase.schemas.locations import LocationIdentifier
from dtbase.schemas.models import MeasureValues, SensorMeasureIdentifier
from dtbase.schemas.sensors import SensorMeasure
from dtbase.schemas.values import Scalar, ValueDatatype

Array = NDArray[np.float64]

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
FORECAST_START_BEFORE_END = timedelta(days=2)  # the forecast overlaps the last 2 days
Z95 = 1.959964


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
    """The end of the demo month: the last midnight (UTC)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def timestamps(end: datetime) -> list[datetime]:
    """The month's reading times: every 10 minutes up to (not including) `end`."""
    count = int(timedelta(days=DAYS) / STEP)
    start = end - timedelta(days=DAYS)
    return [start + i * STEP for i in range(count)]


def readings(sensor: DemoSensor, measure: SensorMeasure, times: Sequence[datetime]) -> list[Scalar]:
    """The sensor's readings of `measure` at `times`: deterministic, realistic-looking."""
    rng = np.random.default_rng(zlib.crc32(f"{sensor.unique_identifier}/{measure.name}".encode()))
    hours = np.array([t.hour + t.minute / 60 for t in times])
    weekend = np.array([t.weekday() >= 5 for t in times])
    office = (hours >= 8) & (hours < 18) & ~weekend
    daily = np.sin(2 * np.pi * (hours - 9) / 24)  # warmest mid-afternoon
    noise = _red_noise(rng, len(times))
    if measure == TEMPERATURE:
        values = sensor.base_temperature + 2.5 * daily + 1.2 * office + 0.4 * noise
        return [round(float(v), 2) for v in values]
    if measure == HUMIDITY:
        values = 48 - 6 * daily - 3 * office + 2.0 * noise
        return [round(float(v), 1) for v in np.clip(values, 5, 100)]
    if measure == CO2:
        occupancy = office * (0.7 + 0.3 * np.sin(np.pi * (hours - 8) / 10))
        values = 420 + 550 * occupancy + 25 * noise
        return [round(float(v), 0) for v in np.clip(values, 380, None)]
    if measure == DOOR_OPEN:
        chance = np.where(office, 0.25, 0.01)
        return [bool(v) for v in rng.random(len(times)) < chance]
    raise ValueError(f"no demo readings for {measure.name}")


def _red_noise(rng: np.random.Generator, size: int, phi: float = 0.9) -> Array:
    """AR(1) noise with unit variance: slow wanders rather than jitter."""
    shocks = rng.normal(0.0, np.sqrt(1 - phi**2), size)
    noise = np.empty(size)
    previous = rng.normal()
    for index in range(size):
        previous = phi * previous + shocks[index]
        noise[index] = previous
    return noise


@dataclass(frozen=True)
class DemoForecast:
    times: list[datetime]
    mean: Array
    bounds: dict[str, tuple[Array, Array]]  # "68" and "95": (lower, upper)


def forecast(times: Sequence[datetime], values: Sequence[float], start: datetime) -> DemoForecast:
    """An hourly forecast from `start` with the readings before it: the last two weeks'
    daily profile plus the last day's level; intervals from the profile's residuals,
    widening with the square root of the horizon."""
    seconds = np.array([t.timestamp() for t in times])
    y = np.asarray(values, dtype=float)
    keep = seconds < start.timestamp()
    seconds, y = seconds[keep], y[keep]
    hour_index = ((seconds - start.timestamp()) // 3600).astype(int)  # negative: the past
    hourly_times = np.unique(hour_index)
    hourly = np.array([y[hour_index == h].mean() for h in hourly_times])
    recent = hourly_times >= -14 * 24
    hour_of_day = (hourly_times + start.hour) % 24
    profile = np.array([hourly[recent & (hour_of_day == h)].mean() for h in range(24)])
    last_day = hourly_times >= -24
    shift = (hourly[last_day] - profile[hour_of_day[last_day]]).mean()
    residuals = hourly[recent] - profile[hour_of_day[recent]]
    sigma = float(residuals.std(ddof=1))
    steps = np.arange(FORECAST_HOURS)
    mean = profile[(steps + start.hour) % 24] + shift * np.exp(-steps / 24)
    spread = sigma * np.sqrt(1 + steps / 24)
    return DemoForecast(
        times=[start + timedelta(hours=int(k)) for k in steps],
        mean=mean,
        bounds={
            "68": (mean - spread, mean + spread),
            "95": (mean - Z95 * spread, mean + Z95 * spread),
        },
    )


def run_measures(measure: SensorMeasure, result: DemoForecast) -> list[MeasureValues]:
    """The forecast as the ARIMA service writes it: Mean, (Upper|Lower) Bound [95%] <m>."""
    units = measure.units or ""

    def output(name: str, values: Array) -> MeasureValues:
        return MeasureValues(
            measure_name=name,
            values=[round(float(v), 3) for v in values],
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
    start = end - FORECAST_START_BEFORE_END
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
