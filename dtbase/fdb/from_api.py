"""Model runs of the API as the FDB bridge's `ModelRun`s.

A run of the API has a model, a scenario (its description; null for none), a run time
(`time_created`), a sensor link (sensor and sensor measure, or none) and one series per
measure; the measure's units come from the list of
model measures. Where the run names a sensor, the run's location is where that sensor was
installed at the run time (or, for a run older than every installation, its first
location), read from the location's `latitude`/`longitude` coordinates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from dtbase.client.client import Client
from dtbase.fdb.errors import InvalidRun
from dtbase.fdb.runs import Location, MeasureSeries, ModelRun, SensorLink, as_utc
from dtbase.schemas.models import ModelMeasure
from dtbase.schemas.models import ModelRun as ApiModelRun
from dtbase.schemas.sensors import SensorLocation
from dtbase.schemas.values import Scalar, ValueDatatype

LATITUDE_NAMES = frozenset({"latitude", "lat"})
LONGITUDE_NAMES = frozenset({"longitude", "lon", "long", "lng"})

MeasuresByName = Mapping[str, Sequence[ModelMeasure]]


def measures_by_name(client: Client) -> dict[str, list[ModelMeasure]]:
    """Every model measure of the API, by name (several may share a name)."""
    result: dict[str, list[ModelMeasure]] = {}
    for measure in client.models.list_model_measures():
        result.setdefault(measure.name, []).append(measure)
    return result


def list_api_runs(
    client: Client,
    *,
    dt_from: datetime | None = None,
    dt_to: datetime | None = None,
    models: Sequence[str] | None = None,
) -> list[ApiModelRun]:
    """The API's runs in the window (of the given models, or of every model), by time.

    Raises `InvalidRun` naming the models that do not exist.
    """
    known = [model.name for model in client.models.list_models()]
    if models is not None:
        unknown = sorted(set(models) - set(known))
        if unknown:
            raise InvalidRun([f"no such model: {name!r}" for name in unknown])
        known = [name for name in known if name in set(models)]
    runs = [
        run
        for name in known
        for run in client.models.list_model_runs(name, dt_from=dt_from, dt_to=dt_to)
    ]
    return sorted(runs, key=lambda run: (run.time_created, run.id))


def to_model_run(
    client: Client, run: ApiModelRun, *, measures: MeasuresByName | None = None
) -> ModelRun:
    """The run with its values and location; `InvalidRun` if a measure is not float.

    Pass `measures` (from `measures_by_name`) to save a request per run.
    """
    by_name = measures if measures is not None else measures_by_name(client)
    values = client.models.get_model_run(run.id)
    problems: list[str] = []
    series: list[MeasureSeries] = []
    for name, points in sorted(values.items()):
        candidates = list(by_name.get(name, ()))
        if len(candidates) != 1:
            why = "is not a model measure" if not candidates else "names several model measures"
            problems.append(f"measure {name!r} {why}; its units are unknown")
            continue
        measure = candidates[0]
        if measure.datatype is not ValueDatatype.float:
            problems.append(
                f"measure {name!r} [{measure.units}] holds {measure.datatype.value} values; "
                "only float measures can be exported to FDB"
            )
            continue
        series.append(
            MeasureSeries(
                name, measure.units, [(point.timestamp, _float(point.value)) for point in points]
            )
        )
    if problems:
        raise InvalidRun(problems)
    location = None
    if run.sensor_unique_id is not None:
        installs = client.sensors.list_sensor_locations(run.sensor_unique_id)
        location = location_at(installs, run.time_created)
    return ModelRun(
        run.model_name,
        run.scenario_description,
        run.time_created,
        series,
        location,
        sensor_link(run),
    )


def sensor_link(run: ApiModelRun) -> SensorLink | None:
    """The sensor and sensor measure a run of the API names, if any."""
    if run.sensor_unique_id is None:
        return None
    measure = run.sensor_measure
    if measure is None:
        return SensorLink(run.sensor_unique_id)
    return SensorLink(run.sensor_unique_id, measure.name, measure.units or "")


def location_at(installs: Sequence[SensorLocation], when: datetime) -> Location | None:
    """Where a sensor was at `when` (its first location if `when` precedes them all), if
    that location has latitude and longitude coordinates."""
    if not installs:
        return None
    ordered = sorted(installs, key=lambda install: install.installation_datetime)
    before = [i for i in ordered if i.installation_datetime <= as_utc(when)]
    install = before[-1] if before else ordered[0]
    return coordinates_location(install.coordinates)


def coordinates_location(coordinates: Mapping[str, object]) -> Location | None:
    latitude = _coordinate(coordinates, LATITUDE_NAMES)
    longitude = _coordinate(coordinates, LONGITUDE_NAMES)
    if latitude is None or longitude is None:
        return None
    return Location(latitude, longitude)


def _coordinate(coordinates: Mapping[str, object], names: frozenset[str]) -> float | None:
    for key, value in coordinates.items():
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if number and key.strip().lower() in names:
            return float(value)  # type: ignore[arg-type]
    return None


def _float(value: Scalar) -> float:
    """A float measure's value: JSON may spell a whole float as an integer."""
    if isinstance(value, float):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    raise InvalidRun([f"value {value!r} of a float measure is not a number"])
