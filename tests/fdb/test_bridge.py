"""Export, list and read back runs through a real FDB."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest

from dtbase.fdb import (
    FdbError,
    FdbRequestError,
    FdbStore,
    HeldRun,
    JsonCodeRegistry,
    MeasureSeries,
    ModelRun,
    RunNotFound,
    SensorLink,
    compare_held,
    export_run,
    list_fields,
    list_runs,
    missing_fields,
    open_sink,
    read_back,
    read_run,
)
from dtbase.fdb.mars import listing_request, retrieve_request, run_request
from dtbase.fdb.registry import EXPERIMENTAL_PARAMS, STANDARD_PARAMS
from tests.fdb.factories import LONDON, RUN_TIME, make_run


def test_round_trip_is_exact_with_sub_hourly_steps(
    store: FdbStore, registry: JsonCodeRegistry
) -> None:
    run = make_run(steps=96)

    result = export_run(run, registry=registry, sink=open_sink(store))
    back = read_run(store, registry, model="arima", scenario="baseline", run_time=RUN_TIME)

    assert result.messages == 96 + 4
    assert back == run.sorted()
    steps = {
        keys["step"]
        for keys in list_fields(
            store, registry, model="arima", scenario="baseline", run_time=RUN_TIME
        )
    }
    assert {"0", "15m", "1m30s", "1h15m", "48", "23h45m"} <= steps


def test_points_come_back_sorted_by_validity_time(
    store: FdbStore, registry: JsonCodeRegistry
) -> None:
    shuffled = [(RUN_TIME + timedelta(minutes=m), float(m)) for m in (45, 0, 30, 15)]
    run = ModelRun("arima", None, RUN_TIME, [MeasureSeries("level", "m", shuffled)])
    export_run(run, registry=registry, sink=open_sink(store))

    back = read_run(store, registry, model="arima", scenario=None, run_time=RUN_TIME)

    assert back.measures[0].points == tuple(sorted(shuffled))


def test_a_run_with_a_location_carries_its_coordinates(
    store: FdbStore, registry: JsonCodeRegistry
) -> None:
    run = make_run(location=LONDON)
    export_run(run, registry=registry, sink=open_sink(store))

    back = read_run(store, registry, model="arima", scenario="baseline", run_time=RUN_TIME)

    assert back.location == LONDON
    assert back == run.sorted()


def test_scenarios_and_runs_without_one_are_kept_apart(
    store: FdbStore, registry: JsonCodeRegistry
) -> None:
    runs = [make_run(scenario=s) for s in ("baseline", "wet", None)]
    runs.append(make_run(model="other", scenario="baseline"))
    for run in runs:
        export_run(run, registry=registry, sink=open_sink(store))

    for run in runs:
        back = read_run(store, registry, model=run.model, scenario=run.scenario, run_time=RUN_TIME)
        assert back == run.sorted()


def test_run_time_is_kept_to_the_minute(store: FdbStore, registry: JsonCodeRegistry) -> None:
    late = RUN_TIME.replace(second=59, microsecond=999_999)
    run = make_run(scenario=None)
    shifted = [
        MeasureSeries(m.name, m.units, [(t + timedelta(minutes=1), v) for t, v in m.points])
        for m in run.measures
    ]
    run = ModelRun(run.model, None, late, shifted)
    export_run(run, registry=registry, sink=open_sink(store))

    back = read_run(store, registry, model="arima", scenario=None, run_time=late)

    assert back.run_time == RUN_TIME
    assert back.measures == run.sorted().measures


def test_re_exporting_changes_nothing_that_list_shows(
    store: FdbStore, registry: JsonCodeRegistry
) -> None:
    run = make_run(location=LONDON)
    export_run(run, registry=registry, sink=open_sink(store))
    before = store.list({"class": "rd"})
    codes_before = registry.codes()

    export_run(run, registry=registry, sink=open_sink(store))
    export_run(run, registry=registry, sink=open_sink(store, "multio"))

    assert store.list({"class": "rd"}) == before
    assert registry.codes() == codes_before
    assert read_run(store, registry, model="arima", scenario="baseline", run_time=RUN_TIME) == (
        run.sorted()
    )


def test_missing_fields_follows_the_fdb_listing(
    store: FdbStore, registry: JsonCodeRegistry
) -> None:
    run = make_run()
    assert missing_fields(store, registry, run) == 16

    export_run(run, registry=registry, sink=open_sink(store))
    assert missing_fields(store, registry, run) == 0

    longer = make_run(steps=14)
    assert missing_fields(store, registry, longer) == 2
    assert missing_fields(store, registry, make_run(scenario="new")) == 16


def test_list_runs(store: FdbStore, registry: JsonCodeRegistry) -> None:
    day = timedelta(days=1)
    for run in (
        make_run(),
        make_run(scenario=None, run_time=RUN_TIME + day),
        make_run(model="other", run_time=RUN_TIME + 2 * day),
    ):
        export_run(run, registry=registry, sink=open_sink(store))

    every = list_runs(store, registry)
    arima = list_runs(store, registry, model="arima")
    later = list_runs(store, registry, date_from=date(2024, 3, 10))
    window = list_runs(store, registry, date_from=date(2024, 3, 10), date_to=date(2024, 3, 10))

    assert [(r.model, r.scenario, r.run_time) for r in every] == [
        ("arima", "baseline", RUN_TIME),
        ("arima", None, RUN_TIME + day),
        ("other", "baseline", RUN_TIME + 2 * day),
    ]
    assert [r.run_time for r in arima] == [RUN_TIME, RUN_TIME + day]
    assert [r.model for r in later] == ["arima", "other"]
    assert [(r.model, r.scenario) for r in window] == [("arima", None)]
    assert list_runs(store, registry, model="never exported") == []
    first = every[0]
    assert first.fields == 16
    assert [(m.name, m.units, m.fields) for m in first.measures] == [
        ("soil moisture", "m3 m-3", 4),
        ("temperature", "K", 12),
    ]
    assert first.measures[0].last_time == RUN_TIME + timedelta(days=2)


def test_unknown_runs_are_not_found(store: FdbStore, registry: JsonCodeRegistry) -> None:
    export_run(make_run(), registry=registry, sink=open_sink(store))

    with pytest.raises(RunNotFound, match="never exported"):
        read_run(store, registry, model="nope", scenario=None, run_time=RUN_TIME)
    with pytest.raises(RunNotFound, match="Scenario 'dry' of 'arima' was never exported"):
        read_run(store, registry, model="arima", scenario="dry", run_time=RUN_TIME)
    with pytest.raises(RunNotFound, match="holds no field"):
        read_run(
            store,
            registry,
            model="arima",
            scenario="baseline",
            run_time=RUN_TIME + timedelta(hours=1),
        )


def test_requests_pass_metkit_validation(store: FdbStore, registry: JsonCodeRegistry) -> None:
    export_run(make_run(), registry=registry, sink=open_sink(store))
    run = run_request(expver="zzzz", member=255, reference_time=RUN_TIME)
    every_param = [str(p) for p in EXPERIMENTAL_PARAMS] + [str(s.param) for s in STANDARD_PARAMS]

    # Each of these would raise FdbRequestError if metkit refused a key or a value.
    assert store.list(listing_request()) != []
    assert store.list(listing_request(expver="d001")) != []
    assert store.list(listing_request(date_from=date(2024, 1, 1), date_to=date(2024, 12, 31)))
    assert store.list(run) == []
    assert store.list({**run, "param": every_param}) == []
    assert store.retrieve(retrieve_request(run, params=every_param, steps=["0", "1h15m"])) == b""
    assert store.list(run_request(expver="d001", member=None, reference_time=RUN_TIME)) == []

    with pytest.raises(FdbRequestError, match="cannot expand 'nope'"):
        store.list({"class": "rd", "stream": "nope"})
    with pytest.raises(FdbRequestError, match="Cannot match"):
        store.list({"class": "rd", "model_name": "arima"})


def test_a_bad_code_in_the_registry_writes_nothing(
    store: FdbStore, registry: JsonCodeRegistry
) -> None:
    registry.path.write_text(
        json.dumps(
            {
                "models": {"arima": {"expver": "d001", "scenarios": {"baseline": 1}}},
                "measures": [{"name": "soil moisture", "units": "m3 m-3", "param": 999999}],
            }
        )
    )

    with pytest.raises(FdbError, match="eccodes cannot encode"):
        export_run(make_run(), registry=registry, sink=open_sink(store))

    assert store.list({"class": "rd"}) == []


def _for_sensor(run: ModelRun, sensor: SensorLink | None, *, factor: float = 1.0) -> ModelRun:
    """The run forecasting another sensor link, with its own values."""
    measures = [
        MeasureSeries(m.name, m.units, [(t, v * factor) for t, v in m.points]) for m in run.measures
    ]
    return ModelRun(run.model, run.scenario, run.run_time, measures, run.location, sensor)


LOOP1 = SensorLink("LOOP1", "temperature", "K")
LOOP2 = SensorLink("LOOP2", "temperature", "K")


def test_runs_of_one_call_for_several_sensors_are_separate_field_sets(
    store: FdbStore, registry: JsonCodeRegistry
) -> None:
    """Same model, scenario and creation time (to the second), different sensor links:
    each run is its own field set and reads back as itself."""
    created = RUN_TIME.replace(second=17)
    base = ModelRun("arima", "baseline", created, make_run().measures)
    runs = [
        _for_sensor(base, LOOP1, factor=1.0),
        _for_sensor(base, LOOP2, factor=-1.0),
        _for_sensor(base, SensorLink("LOOP1", "humidity", "%"), factor=0.5),
        _for_sensor(base, None),
    ]

    results = [export_run(run, registry=registry, sink=open_sink(store)) for run in runs]

    assert [r.channel for r in results] == [1, 2, 3, 0]
    assert len(store.list({"class": "rd"})) == 4 * 16
    for run in runs:
        back = read_back(store, registry, run)
        assert back.sensor == run.sensor
        assert back.measures == run.sorted().measures
        assert back.run_time == RUN_TIME  # the creation time, to the minute
        assert compare_held(store, registry, run).same
    listed = list_runs(store, registry)
    assert sorted((r.channel, r.sensor) for r in listed) == sorted(
        [(0, None), (1, LOOP1), (2, LOOP2), (3, SensorLink("LOOP1", "humidity", "%"))]
    )


def test_a_run_starting_before_its_creation_exports_and_reads_back(
    store: FdbStore, registry: JsonCodeRegistry
) -> None:
    """A forecast from a sensor whose last reading is three hours old."""
    created = RUN_TIME.replace(second=42)
    start = RUN_TIME - timedelta(hours=3) + timedelta(seconds=30)
    points = [(start + timedelta(minutes=30 * i), 280.0 + i / 7) for i in range(12)]
    run = ModelRun("arima", None, created, [MeasureSeries("temperature", "K", points)], None, LOOP1)

    export_run(run, registry=registry, sink=open_sink(store))

    reference = RUN_TIME - timedelta(hours=3)
    assert run.reference_time == reference
    [listed] = list_runs(store, registry)
    assert (listed.run_time, listed.sensor) == (reference, LOOP1)
    steps = [
        k["step"]
        for k in list_fields(
            store, registry, model="arima", scenario=None, run_time=reference, sensor=LOOP1
        )
    ]
    assert sorted(steps, key=lambda s: (len(s), s))[0] == "30s"
    back = read_back(store, registry, run)
    assert back.measures == run.measures
    assert back.run_time == RUN_TIME  # kept as the data cut-off, to the minute
    assert compare_held(store, registry, run).same


def _stale_forecast(created: datetime, *, nudge: float = 0.0) -> ModelRun:
    """A forecast of LOOP1 from its last reading, three hours before `created`."""
    start = RUN_TIME - timedelta(hours=3)
    points = [(start + timedelta(minutes=30 * i), 280.0 + i / 7) for i in range(12)]
    points[5] = (points[5][0], points[5][1] + nudge)
    return ModelRun(
        "arima", None, created, [MeasureSeries("temperature", "K", points)], None, LOOP1
    )


def test_a_later_run_with_the_same_values_is_held_and_keeps_the_first_creation_time(
    store: FdbStore, registry: JsonCodeRegistry
) -> None:
    """A scheduled forecast of a sensor that stopped reporting: every hour, the same values
    from the same origin, under the same keys; the FDB holds them already."""
    first = _stale_forecast(RUN_TIME)
    export_run(first, registry=registry, sink=open_sink(store))
    before = store.list({"class": "rd"})
    later = _stale_forecast(RUN_TIME + timedelta(hours=1, seconds=20))

    held = compare_held(store, registry, later)

    assert later.reference_time == first.reference_time
    assert held == HeldRun(12, 0, created=(RUN_TIME,))
    assert held.same
    assert held.same_reason(later.run_time) == (
        "the FDB holds it already, with the same values: identical values from a run "
        "created at 2024-03-09T06:45:00+00:00, kept as they are"
    )
    assert held.same_reason(first.run_time) == "the FDB holds it already, with the same values"
    assert read_back(store, registry, later).run_time == RUN_TIME
    assert store.list({"class": "rd"}) == before


def test_a_later_run_with_one_other_value_under_the_same_keys_conflicts(
    store: FdbStore, registry: JsonCodeRegistry
) -> None:
    export_run(_stale_forecast(RUN_TIME), registry=registry, sink=open_sink(store))
    later = _stale_forecast(RUN_TIME + timedelta(hours=1), nudge=1e-9)

    held = compare_held(store, registry, later)

    assert (held.same, held.conflicts, held.differing, held.missing) == (False, True, 1, 0)
    assert "1 of its 12 fields hold other values" in held.reason()


def test_compare_held_tells_same_missing_and_different(
    store: FdbStore, registry: JsonCodeRegistry
) -> None:
    run = _for_sensor(make_run(), LOOP1)
    assert compare_held(store, registry, run) == HeldRun(16, 16)

    export_run(run, registry=registry, sink=open_sink(store))
    assert compare_held(store, registry, run) == HeldRun(16, 0, created=(RUN_TIME,))

    other = _for_sensor(make_run(), LOOP1, factor=-1.0)  # same keys, other values
    held = compare_held(store, registry, other)
    assert (held.missing, held.differing, held.extra, held.conflicts) == (0, 16, 0, True)
    assert "16 of its 16 fields hold other values" in held.reason()
    later = ModelRun(run.model, run.scenario, run.run_time, run.measures, LONDON, run.sensor)
    assert compare_held(store, registry, later).differing == 16  # not at the run's location
    shorter = ModelRun(
        run.model,
        run.scenario,
        run.run_time,
        [MeasureSeries(m.name, m.units, m.points[:2]) for m in run.measures],
        None,
        run.sensor,
    )
    held = compare_held(store, registry, shorter)
    assert (held.missing, held.differing, held.extra) == (0, 0, 12)
    longer = _for_sensor(make_run(steps=14), LOOP1)
    held = compare_held(store, registry, longer)
    assert (held.missing, held.conflicts, held.same) == (2, False, False)
