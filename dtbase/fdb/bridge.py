"""Model runs into an FDB and back: export, compare, list, read.

A run is identified in FDB by its model's `expver`, its scenario's member (or none), its
sensor link's `channel` (0 for none) and its reference time to the minute (see
`dtbase.fdb.mars`); its fields by measure (`param`) and time (`step`). What the FDB
holds is the truth: `compare_held` reads back what the FDB holds under a run's keys and
compares it with the run, so an exporter skips only runs whose values (and location) the
FDB holds identically and never overwrites different ones.
"""

from __future__ import annotations

import struct
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dtbase.fdb.errors import FdbError, RunNotFound
from dtbase.fdb.grib import DecodedField, decode_messages, encode_run, split_messages
from dtbase.fdb.mars import (
    Keys,
    field_keys,
    is_dtbase_field,
    listing_request,
    member_of,
    of_run,
    reference_time_of,
    retrieve_request,
    run_keys,
    run_request,
    step_seconds,
)
from dtbase.fdb.registry import CodeRegistry, Codes, MeasureKey
from dtbase.fdb.runs import (
    Location,
    MeasureSeries,
    ModelRun,
    SensorLink,
    reference_time,
    seconds_after,
    validate_run,
)
from dtbase.fdb.sinks import Sink
from dtbase.fdb.store import FdbStore

_FLOAT = struct.Struct(">d")
SAME = "the FDB holds it already, with the same values"


@dataclass(frozen=True)
class ExportResult:
    expver: str
    member: int | None
    reference_time: datetime
    messages: int
    channel: int = 0


@dataclass(frozen=True)
class HeldRun:
    """What the FDB holds under a run's keys, compared with the run.

    `differing` counts held fields whose value (bit for bit) or location is not the run's;
    `extra` held fields the run does not have (another run under the same keys). The
    creation time is not compared: it is no key, and a run with the same values under the
    same keys is the same data (a scheduled forecast of a sensor that stopped reporting
    repeats itself every hour). `created` holds the creation times, to the minute, of the
    held fields equal to the run's: whose metadata the FDB keeps.
    """

    expected: int
    missing: int
    differing: int = 0
    extra: int = 0
    example: str | None = None
    created: tuple[datetime, ...] = ()

    @property
    def same(self) -> bool:
        """The FDB holds the run: every field, with the run's values, and nothing else."""
        return self.missing == 0 and not self.conflicts

    @property
    def conflicts(self) -> bool:
        """The FDB holds something else under the run's keys (exporting would mask it)."""
        return bool(self.differing or self.extra)

    def reason(self) -> str:
        """One line saying why the FDB's copy is not the run."""
        parts = []
        if self.differing:
            parts.append(f"{self.differing} of its {self.expected} fields hold other values")
        if self.extra:
            parts.append(f"{self.extra} fields it does not have")
        if self.missing:
            parts.append(f"{self.missing} of its fields are missing")
        found = "; ".join(parts)
        example = f" (e.g. {self.example})" if self.example else ""
        return f"the FDB holds something else under this run's keys: {found}{example}"

    def same_reason(self, run_time: datetime) -> str:
        """One line saying that the FDB holds the run created at `run_time`, and, when the
        held fields come from a run created at another time, which one."""
        others = [when for when in self.created if when != reference_time(run_time)]
        if not others:
            return SAME
        when = ", ".join(when.isoformat() for when in others)
        return f"{SAME}: identical values from a run created at {when}, kept as they are"


@dataclass(frozen=True)
class ListedMeasure:
    """A measure of a listed run; name and units are None for a paramId the registry lacks."""

    param: int
    name: str | None
    units: str | None
    fields: int
    first_time: datetime
    last_time: datetime


@dataclass(frozen=True)
class ListedRun:
    """A run as the FDB lists it; model and scenario are None where the registry lacks them.

    Measures are sorted by (name, units), those the registry does not know last.
    """

    expver: str
    member: int | None
    model: str | None
    scenario: str | None
    run_time: datetime  # the reference time
    measures: tuple[ListedMeasure, ...]
    channel: int = 0
    sensor: SensorLink | None = None

    @property
    def fields(self) -> int:
        return sum(measure.fields for measure in self.measures)


def export_run(run: ModelRun, *, registry: CodeRegistry, sink: Sink) -> ExportResult:
    """Archive every (measure, timestamp) of a run as one GRIB2 message.

    The run is checked before anything happens (`InvalidRun`), codes are assigned next,
    and messages are all encoded before the first one is written. Exporting a run again
    writes the same fields under the same keys: FDB masks the old copies.
    """
    validate_run(run)
    codes = registry.assign(
        model=run.model,
        scenario=run.scenario,
        measures=[(m.name, m.units) for m in run.measures],
        sensor=run.sensor,
    )
    messages = encode_run(run, codes)
    written = sink.write(messages)
    return ExportResult(codes.expver, codes.member, run.reference_time, written, codes.channel)


def expected_fields(run: ModelRun, codes: Codes) -> list[Keys] | None:
    """The keys of every field of a run, or None if the registry has no codes for it yet."""
    validate_run(run)
    measures = [(measure.name, measure.units) for measure in run.measures]
    found = codes.run_codes(
        model=run.model, scenario=run.scenario, measures=measures, sensor=run.sensor
    )
    if found is None:
        return None
    reference = run.reference_time
    base = run_keys(
        expver=found.expver, member=found.member, reference_time=reference, channel=found.channel
    )
    return [
        field_keys(base, param=found.params[(m.name, m.units)], step=seconds_after(reference, t))
        for m in run.measures
        for t, _ in m.points
    ]


def missing_fields(store: FdbStore, registry: CodeRegistry, run: ModelRun) -> int:
    """How many of a run's fields the FDB does not list (all of them if never exported)."""
    expected = expected_fields(run, registry.codes())
    if expected is None:
        return sum(len(measure.points) for measure in run.measures)
    request = _request_of(expected[0])
    held = {_frozen(keys) for keys in of_run(store.list(request), request)}
    return sum(1 for keys in expected if _frozen(keys) not in held)


def compare_held(store: FdbStore, registry: CodeRegistry, run: ModelRun) -> HeldRun:
    """What the FDB holds under the run's keys, read back and compared field by field
    (values bit for bit, and location; not the creation time: see `HeldRun`)."""
    expected = expected_fields(run, registry.codes())
    total = sum(len(measure.points) for measure in run.measures)
    if expected is None:
        return HeldRun(total, total)
    request = _request_of(expected[0])
    listed = of_run(store.list(request), request)
    if not listed:
        return HeldRun(total, total)
    wanted = {
        (int(keys["param"]), step_seconds(keys["step"])): value
        for keys, value in zip(expected, _values(run), strict=True)
    }
    differing, extra, example = 0, 0, None
    created: set[datetime] = set()
    held = _read_fields(store, request, listed)
    for field in held:
        key = (field.param, field.step)
        if key not in wanted:
            extra += 1
            example = example or f"param {field.param} at {field.valid_time.isoformat()}"
            continue
        value = wanted[key]
        if _FLOAT.pack(field.value) != _FLOAT.pack(value):
            differing += 1
            example = example or (
                f"param {field.param} at {field.valid_time.isoformat()}: "
                f"held {field.value!r}, run {value!r}"
            )
        elif field.location != run.location:
            differing += 1
            example = example or f"held location {field.location}, run {run.location}"
        else:
            created.add(field.created)
    missing = total - (len(held) - extra)
    return HeldRun(total, missing, differing, extra, example, tuple(sorted(created)))


def list_fields(
    store: FdbStore,
    registry: CodeRegistry,
    *,
    model: str,
    scenario: str | None,
    run_time: datetime,
    sensor: SensorLink | None = None,
) -> list[Keys]:
    """The keys of every field the FDB holds for one run (empty if it holds none);
    `run_time` is the run's reference time (see `dtbase.fdb.mars`).

    Raises `RunNotFound` when the registry has no code for the model, the scenario or the
    sensor link.
    """
    request = _run_request(
        registry.codes(), model=model, scenario=scenario, run_time=run_time, sensor=sensor
    )
    return of_run(store.list(request), request)


def list_runs(
    store: FdbStore,
    registry: CodeRegistry,
    *,
    model: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> list[ListedRun]:
    """The runs the FDB holds (of one model, or all), by run date, oldest first."""
    codes = registry.codes()
    expver = None
    if model is not None:
        expver = codes.expver(model)
        if expver is None:
            return []
    request = listing_request(expver=expver, date_from=date_from, date_to=date_to)
    groups: dict[tuple[str, int | None, int, datetime], list[Keys]] = defaultdict(list)
    for keys in store.list(request):
        if not is_dtbase_field(keys):
            continue
        when = reference_time_of(keys)
        if (date_from and when.date() < date_from) or (date_to and when.date() > date_to):
            continue
        groups[(keys["expver"], member_of(keys), int(keys["channel"]), when)].append(keys)
    runs = [_listed_run(codes, *key, fields) for key, fields in groups.items()]
    return sorted(runs, key=lambda run: (run.run_time, run.expver, run.member or 0, run.channel))


def read_run(
    store: FdbStore,
    registry: CodeRegistry,
    *,
    model: str,
    scenario: str | None,
    run_time: datetime,
    sensor: SensorLink | None = None,
) -> ModelRun:
    """A run read back from the FDB: measures by (name, units), points by validity time.

    `run_time` is the run's reference time, as `list_runs` shows it (for a run whose
    values start after its creation, its creation time); the run comes back with its
    creation time to the minute, as its fields keep it.
    """
    codes = registry.codes()
    request = _run_request(codes, model=model, scenario=scenario, run_time=run_time, sensor=sensor)
    listed = of_run(store.list(request), request)
    if not listed:
        link = f", sensor link {_link(sensor)}" if sensor is not None else ""
        raise RunNotFound(
            f"The FDB holds no field of model {model!r}, scenario {scenario!r}{link}, "
            f"reference time {reference_time(run_time).isoformat()}"
        )
    fields = _read_fields(store, request, listed)
    by_param: dict[int, list[tuple[datetime, float]]] = defaultdict(list)
    locations: set[Location | None] = set()
    created: set[datetime] = set()
    for field in fields:
        by_param[field.param].append((field.valid_time, field.value))
        locations.add(field.location)
        created.add(field.created)
    if len(locations) != 1 or len(created) != 1:
        raise FdbError(f"The fields of the run disagree: locations {locations}, created {created}")
    measures = []
    for param, points in by_param.items():
        measure = codes.measure_of(param)
        if measure is None:
            raise FdbError(f"paramId {param} of the run is not in the code registry")
        measures.append(MeasureSeries(*measure, sorted(points, key=lambda p: p[0])))
    measures.sort(key=lambda m: (m.name, m.units))
    return ModelRun(model, scenario, created.pop(), measures, locations.pop(), sensor)


def read_back(store: FdbStore, registry: CodeRegistry, run: ModelRun) -> ModelRun:
    """The FDB's copy of a run (found by the run's own keys), to compare with it."""
    return read_run(
        store,
        registry,
        model=run.model,
        scenario=run.scenario,
        run_time=run.reference_time,
        sensor=run.sensor,
    )


def _read_fields(store: FdbStore, request: Keys, listed: list[Keys]) -> list[DecodedField]:
    """The listed fields of one run's request, retrieved and decoded."""
    params = sorted({keys["param"] for keys in listed}, key=int)
    steps = sorted({keys["step"] for keys in listed}, key=step_seconds)
    data = store.retrieve(retrieve_request(request, params=params, steps=steps))
    channel = int(request["channel"])
    fields = [f for f in decode_messages(split_messages(data)) if f.channel == channel]
    if len(fields) != len(listed):
        raise FdbError(f"FDB listed {len(listed)} fields of the run but returned {len(fields)}")
    return fields


def _values(run: ModelRun) -> list[float]:
    """The run's values in `expected_fields` order."""
    return [value for measure in run.measures for _, value in measure.points]


def _run_request(
    codes: Codes,
    *,
    model: str,
    scenario: str | None,
    run_time: datetime,
    sensor: SensorLink | None,
) -> Keys:
    expver = codes.expver(model)
    if expver is None:
        raise RunNotFound(f"Model {model!r} has no FDB code: it was never exported")
    member = None
    if scenario is not None:
        member = codes.member(model, scenario)
        if member is None:
            raise RunNotFound(f"Scenario {scenario!r} of {model!r} was never exported")
    channel = codes.channel(sensor)
    if channel is None:
        raise RunNotFound(f"Sensor link {_link(sensor)} was never exported")
    return run_request(
        expver=expver, member=member, reference_time=reference_time(run_time), channel=channel
    )


def _link(sensor: SensorLink | None) -> str:
    if sensor is None:
        return "none"
    measure = f" / {sensor.measure} [{sensor.units}]" if sensor.measure else ""
    return f"{sensor.sensor}{measure}"


def _request_of(keys: Keys) -> Keys:
    """The run part of a field's keys, as a request."""
    return {k: v for k, v in keys.items() if k not in {"param", "step"}}


def _frozen(keys: Keys) -> frozenset[tuple[str, str]]:
    return frozenset(keys.items())


def _listed_run(
    codes: Codes, expver: str, member: int | None, channel: int, when: datetime, fields: list[Keys]
) -> ListedRun:
    model = codes.model_of(expver)
    scenario = None
    if model is not None and member is not None:
        scenario = codes.scenario_of(model, member)
    steps: dict[int, list[int]] = defaultdict(list)
    for keys in fields:
        steps[int(keys["param"])].append(step_seconds(keys["step"]))
    measures = []
    for param, seconds in sorted(steps.items()):
        found: MeasureKey | None = codes.measure_of(param)
        measures.append(
            ListedMeasure(
                param=param,
                name=found[0] if found else None,
                units=found[1] if found else None,
                fields=len(seconds),
                first_time=when + timedelta(seconds=min(seconds)),
                last_time=when + timedelta(seconds=max(seconds)),
            )
        )
    measures.sort(key=lambda m: (m.name is None, m.name or "", m.units or "", m.param))
    sensor = codes.sensor_of(channel) if channel else None
    return ListedRun(expver, member, model, scenario, when, tuple(measures), channel, sensor)
