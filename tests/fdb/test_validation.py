"""Bad runs get a clear error and nothing is written: no field, no registry entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from dtbase.fdb import (
    FdbStore,
    InvalidRun,
    JsonCodeRegistry,
    Location,
    MeasureSeries,
    ModelRun,
    export_run,
    open_sink,
    validate_run,
)
from tests.fdb.factories import RUN_TIME, make_run


def one_measure(points: list[tuple[Any, Any]], **run: Any) -> ModelRun:
    return ModelRun(
        run.get("model", "arima"),
        run.get("scenario"),
        run.get("run_time", RUN_TIME),
        [MeasureSeries("level", "m", points)],
        run.get("location"),
    )


HOUR = RUN_TIME + timedelta(hours=1)

BAD_RUNS = {
    "integer value": (one_measure([(HOUR, 3)]), "are not floats, e.g. 3 (int)"),
    "boolean value": (one_measure([(HOUR, True)]), "True (bool)"),
    "string value": (one_measure([(HOUR, "3.0")]), "'3.0' (str)"),
    "missing value": (one_measure([(HOUR, None)]), "None (NoneType)"),
    "not a number": (one_measure([(HOUR, float("nan"))]), "are not finite"),
    "infinite": (one_measure([(HOUR, float("inf"))]), "are not finite"),
    "created too long after its first value": (
        one_measure([(RUN_TIME - timedelta(days=2731), 1.0)]),
        "the run was created 2731 days, 0:00:00 after its first value; "
        "GRIB2 keeps at most 2730 days, 14:59:00 between them",
    ),
    "empty series": (one_measure([]), "the series is empty"),
    "fraction of a second": (
        one_measure([(HOUR + timedelta(microseconds=5), 1.0)]),
        "fractions of a second",
    ),
    "duplicate timestamp": (one_measure([(HOUR, 1.0), (HOUR, 2.0)]), "appear more than once"),
    "timestamp not a datetime": (one_measure([("2024-03-09T07:45", 1.0)]), "are not datetimes"),
    "no measures": (ModelRun("arima", None, RUN_TIME, []), "the run has no measures"),
    "empty model name": (one_measure([(HOUR, 1.0)], model=" "), "model name"),
    "empty scenario": (one_measure([(HOUR, 1.0)], scenario=""), "scenario must be"),
    "latitude out of range": (
        one_measure([(HOUR, 1.0)], location=Location(91.0, 0.0)),
        "location latitude",
    ),
    "too far for GRIB2": (one_measure([(RUN_TIME + timedelta(days=50_000), 1.0)]), "too far"),
    "duplicate measure": (
        ModelRun(
            "arima",
            None,
            RUN_TIME,
            [
                MeasureSeries("level", "m", [(HOUR, 1.0)]),
                MeasureSeries("level", "m", [(HOUR, 2.0)]),
            ],
        ),
        "'level' [m] appears more than once",
    ),
}


@pytest.mark.parametrize("case", BAD_RUNS, ids=list(BAD_RUNS))
def test_bad_run_errors_and_writes_nothing(
    case: str, store: FdbStore, registry: JsonCodeRegistry
) -> None:
    run, message = BAD_RUNS[case]

    with pytest.raises(InvalidRun) as raised:
        export_run(run, registry=registry, sink=open_sink(store))

    assert message in str(raised.value)
    assert "nothing was written" in str(raised.value)
    assert store.list({"class": "rd"}) == []
    assert not registry.path.exists()


def test_every_problem_is_listed_at_once() -> None:
    run = ModelRun(
        "arima",
        None,
        RUN_TIME,
        [
            MeasureSeries("a", "m", [(HOUR, 1)]),
            MeasureSeries("b", "m", [(HOUR + timedelta(microseconds=1), 1.0)]),
            MeasureSeries("c", "m", []),
        ],
    )

    with pytest.raises(InvalidRun) as raised:
        validate_run(run)

    assert len(raised.value.problems) == 3


def test_a_bad_measure_after_good_ones_writes_nothing(
    store: FdbStore, registry: JsonCodeRegistry
) -> None:
    good = make_run()
    bad = ModelRun(
        good.model,
        good.scenario,
        good.run_time,
        [*good.measures, MeasureSeries("count", "1", [(HOUR, 4)])],
    )

    with pytest.raises(InvalidRun, match="'count' \\[1\\]: 1 value\\(s\\) are not floats"):
        export_run(bad, registry=registry, sink=open_sink(store, "multio"))

    assert store.list({"class": "rd"}) == []


def test_naive_datetimes_are_utc_and_aware_ones_are_converted() -> None:
    paris = timezone(timedelta(hours=1))
    naive = one_measure([(datetime(2024, 3, 9, 7, 45), 1.0)], run_time=datetime(2024, 3, 9, 6, 45))
    aware = one_measure(
        [(datetime(2024, 3, 9, 8, 45, tzinfo=paris), 1.0)],
        run_time=datetime(2024, 3, 9, 7, 45, tzinfo=paris),
    )

    assert naive == aware
    assert naive.run_time.tzinfo is UTC
    validate_run(naive)


def test_run_time_is_kept_to_the_minute(tmp_path: Path) -> None:
    run = one_measure([(HOUR, 1.0)], run_time=RUN_TIME.replace(second=42, microsecond=7))

    assert run.reference_time == RUN_TIME
    validate_run(run)


def test_values_before_the_creation_time_are_valid_and_move_the_reference_time() -> None:
    """A forecast from an old reading, an analysis, a backfill: the reference time is the
    first value's (to the minute), so steps are never negative."""
    early = one_measure([(RUN_TIME - timedelta(hours=3, seconds=20), 1.0), (HOUR, 2.0)])
    seconds = one_measure(
        [(RUN_TIME + timedelta(seconds=10), 1.0)], run_time=RUN_TIME.replace(second=30)
    )

    validate_run(early)
    validate_run(seconds)

    assert early.reference_time == RUN_TIME - timedelta(hours=3, minutes=1)
    assert seconds.reference_time == RUN_TIME
