"""Model runs into an FDB and back: export, list, read.

A run is identified in FDB by its model's `expver`, its scenario's member (or none), and
its run time to the minute; its fields by measure (`param`) and time (`step`). What the
FDB lists is the truth: `missing_fields` compares a run's expected keys with a listing,
so an exporter can skip runs the FDB already holds.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dtbase.fdb.errors import FdbError, RunNotFound
from dtbase.fdb.grib import decode_messages, encode_run, split_messages
from dtbase.fdb.mars import (
    Keys,
    field_keys,
    is_dtbase_field,
    listing_request,
    member_of,
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
    reference_time,
    seconds_after,
    validate_run,
)
from dtbase.fdb.sinks import Sink
from dtbase.fdb.store import FdbStore


@dataclass(frozen=True)
class ExportResult:
    expver: str
    member: int | None
    reference_time: datetime
    messages: int


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
    run_time: datetime
    measures: tuple[ListedMeasure, ...]

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
        model=run.model, scenario=run.scenario, measures=[(m.name, m.units) for m in run.measures]
    )
    messages = encode_run(run, codes)
    written = sink.write(messages)
    return ExportResult(codes.expver, codes.member, run.reference_time, written)


def expected_fields(run: ModelRun, codes: Codes) -> list[Keys] | None:
    """The keys of every field of a run, or None if the registry has no codes for it yet."""
    validate_run(run)
    measures = [(measure.name, measure.units) for measure in run.measures]
    found = codes.run_codes(model=run.model, scenario=run.scenario, measures=measures)
    if found is None:
        return None
    reference = run.reference_time
    base = run_keys(expver=found.expver, member=found.member, reference_time=reference)
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
    held = {_frozen(keys) for keys in store.list(_request_of(expected[0]))}
    return sum(1 for keys in expected if _frozen(keys) not in held)


def list_fields(
    store: FdbStore, registry: CodeRegistry, *, model: str, scenario: str | None, run_time: datetime
) -> list[Keys]:
    """The keys of every field the FDB holds for one run (empty if it holds none).

    Raises `RunNotFound` when the registry has no code for the model or the scenario.
    """
    request = _run_request(registry.codes(), model=model, scenario=scenario, run_time=run_time)
    return store.list(request)


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
    groups: dict[tuple[str, int | None, datetime], list[Keys]] = defaultdict(list)
    for keys in store.list(request):
        if not is_dtbase_field(keys):
            continue
        when = reference_time_of(keys)
        if (date_from and when.date() < date_from) or (date_to and when.date() > date_to):
            continue
        groups[(keys["expver"], member_of(keys), when)].append(keys)
    runs = [_listed_run(codes, *key, fields) for key, fields in groups.items()]
    return sorted(runs, key=lambda run: (run.run_time, run.expver, run.member or 0))


def read_run(
    store: FdbStore, registry: CodeRegistry, *, model: str, scenario: str | None, run_time: datetime
) -> ModelRun:
    """A run read back from the FDB: measures by (name, units), points by validity time.

    The run time comes back truncated to the minute, as FDB keeps it.
    """
    codes = registry.codes()
    request = _run_request(codes, model=model, scenario=scenario, run_time=run_time)
    listed = store.list(request)
    if not listed:
        raise RunNotFound(
            f"The FDB holds no field of model {model!r}, scenario {scenario!r}, "
            f"run time {reference_time(run_time).isoformat()}"
        )
    params = sorted({keys["param"] for keys in listed}, key=int)
    steps = sorted({keys["step"] for keys in listed}, key=step_seconds)
    data = store.retrieve(retrieve_request(_request_of(listed[0]), params=params, steps=steps))
    fields = decode_messages(split_messages(data))
    if len(fields) != len(listed):
        raise FdbError(f"FDB listed {len(listed)} fields of the run but returned {len(fields)}")

    by_param: dict[int, list[tuple[datetime, float]]] = defaultdict(list)
    locations: set[Location | None] = set()
    for field in fields:
        by_param[field.param].append((field.valid_time, field.value))
        locations.add(field.location)
    if len(locations) != 1:
        raise FdbError(f"The fields of the run are at different locations: {locations}")
    measures = []
    for param, points in by_param.items():
        measure = codes.measure_of(param)
        if measure is None:
            raise FdbError(f"paramId {param} of the run is not in the code registry")
        measures.append(MeasureSeries(*measure, sorted(points, key=lambda p: p[0])))
    measures.sort(key=lambda m: (m.name, m.units))
    return ModelRun(model, scenario, reference_time(run_time), measures, locations.pop())


def _run_request(codes: Codes, *, model: str, scenario: str | None, run_time: datetime) -> Keys:
    expver = codes.expver(model)
    if expver is None:
        raise RunNotFound(f"Model {model!r} has no FDB code: it was never exported")
    member = None
    if scenario is not None:
        member = codes.member(model, scenario)
        if member is None:
            raise RunNotFound(f"Scenario {scenario!r} of {model!r} was never exported")
    return run_request(expver=expver, member=member, reference_time=reference_time(run_time))


def _request_of(keys: Keys) -> Keys:
    """The run part of a field's keys, as a request."""
    return {k: v for k, v in keys.items() if k not in {"param", "step"}}


def _frozen(keys: Keys) -> frozenset[tuple[str, str]]:
    return frozenset(keys.items())


def _listed_run(
    codes: Codes, expver: str, member: int | None, when: datetime, fields: list[Keys]
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
    return ListedRun(expver, member, model, scenario, when, tuple(measures))
