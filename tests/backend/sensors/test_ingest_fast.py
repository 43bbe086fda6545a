"""The fast ingest path (issue 4): whole-list value checks, bodies validated from their
bytes, COPY for readings nothing can conflict with and its ON CONFLICT fallback. Each
must behave exactly as the per-item path it replaces."""

from __future__ import annotations

import json
import math
import random
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from dtbase.backend.db import make_session_factory
from dtbase.backend.timeseries import ingest
from dtbase.schemas.sensors import InsertReadingsBulkRequest, InsertSensorReadingsRequest
from dtbase.schemas.values import (
    Scalar,
    ValueDatatype,
    ValueListError,
    ValueTypeError,
    check_value,
    check_values,
)
from tests.utils.events import events_since, kinds_and_meta, last_id
from tests.utils.locks import when_blocked
from tests.utils.round_trips import round_trips
from tests.utils.sensors import add_sensors, iso

MEASURES = [
    {"name": "temperature", "units": "K", "datatype": "float"},
    {"name": "count", "units": None, "datatype": "integer"},
    {"name": "icon", "units": None, "datatype": "string"},
    {"name": "raining", "units": None, "datatype": "boolean"},
]
T0 = datetime(2024, 1, 1, tzinfo=UTC)
EVERYTHING = {"dt_from": "2000-01-01", "dt_to": "2100-01-01"}


# Whole-list checks against the per-item reference


def _reference(datatype: ValueDatatype, values: list[Any]) -> tuple[str, Any]:
    """check_value on each item in turn: ("ok", stored) or ("bad", (index, message))."""
    stored = []
    for index, value in enumerate(values):
        try:
            stored.append(check_value(datatype, value))
        except ValueTypeError as error:
            return "bad", (index, str(error), True)
    return "ok", stored


def _checked(datatype: ValueDatatype, values: list[Any]) -> tuple[str, Any]:
    try:
        return "ok", check_values(datatype, values)
    except ValueListError as error:
        return "bad", (error.index, error.reason, values[error.index] is error.value)


ODD_VALUES: list[Scalar] = [
    0,
    -1,
    2**63 - 1,
    -(2**63),
    2**63,
    -(2**63) - 1,
    0.5,
    -0.0,
    1e308,
    math.inf,
    -math.inf,
    math.nan,
    True,
    False,
    "",
    "x",
    "a\x00b",
    "3",
]


@pytest.mark.parametrize("datatype", list(ValueDatatype))
def test_whole_list_checks_match_the_per_item_check(datatype: ValueDatatype) -> None:
    rng = random.Random(datatype)
    typical: dict[ValueDatatype, list[Scalar]] = {
        ValueDatatype.float: [1.5, 2.25, -3.0, 7],
        ValueDatatype.integer: [1, -2, 3],
        ValueDatatype.string: ["a", "b c", ""],
        ValueDatatype.boolean: [True, False],
    }
    for _ in range(400):
        values = [rng.choice(typical[datatype]) for _ in range(rng.randrange(0, 12))]
        if rng.random() < 0.7:
            for _ in range(rng.randrange(1, 3)):
                values.insert(rng.randrange(len(values) + 1), rng.choice(ODD_VALUES))
        got, want = _checked(datatype, values), _reference(datatype, values)
        assert repr(got) == repr(want), values
        if got[0] == "ok":
            assert [type(v) for v in got[1]] == [type(v) for v in want[1]]


def test_a_finite_sum_that_overflows_is_still_accepted() -> None:
    assert check_values(ValueDatatype.float, [1e308, 1e308, -1e308]) == [1e308, 1e308, -1e308]


def test_floats_given_as_integers_are_stored_as_floats() -> None:
    stored = check_values(ValueDatatype.float, [1, 2.5, -3])
    assert stored == [1.0, 2.5, -3.0]
    assert all(type(value) is float for value in stored)


# Bodies validated from their bytes, against json.loads + validation


BODIES = [
    '{"measure_name": "m", "unique_identifier": "u", "readings": %s, "timestamps": %s}',
    '{"measure_name": "m", "unique_identifier": "u", "readings": %s, "timestamps": %s,'
    ' "measure_units": null, "overwrite": "true"}',
]
READINGS = [
    '[1, 2.0, true, "x"]',
    "[1.0, NaN, Infinity, -Infinity]",
    "[1e400, -0.0, 5e-324, 1.7976931348623157e308]",
    "[123456789012345678901234567890]",
    '["\\ud800"]',
    '["a\\u0000b", "\\u00e9"]',
    "[null]",
    "[[1]]",
    "{}",
    "[0.1, 0.2, 0.30000000000000004]",
]
STAMPS = [
    '["2024-01-01T00:00:00Z", "2024-01-01T00:00:00+05:30", "2024-01-01T00:00:00"]',
    '[1700000000, "1700000000", 1.5e9, "2024-01-01"]',
    '["yesterday"]',
    '["0001-01-01T00:00:00+01:00"]',
]


@pytest.mark.parametrize("template", BODIES)
@pytest.mark.parametrize("readings", READINGS)
@pytest.mark.parametrize("stamps", STAMPS)
def test_bytes_validation_matches_json_loads_validation(
    template: str, readings: str, stamps: str
) -> None:
    """Where the bytes validate, the result is the one FastAPI's own path gives (which
    answers every body the bytes path refuses)."""
    raw = (template % (readings, stamps)).encode()
    try:
        fast = InsertSensorReadingsRequest.model_validate_json(raw)
    except ValidationError:
        return
    slow = InsertSensorReadingsRequest.model_validate(json.loads(raw))
    assert repr(fast.model_dump()) == repr(slow.model_dump())
    assert fast.model_fields_set == slow.model_fields_set
    assert [type(v) for v in fast.readings] == [type(v) for v in slow.readings]


def test_bulk_bytes_validation_matches_json_loads_validation() -> None:
    body = {
        "series": [
            {
                "unique_identifier": "a",
                "measure_name": "m",
                "readings": [1, 2.5, True],
                "timestamps": [0, "1970-01-01T00:00:01+01:00", "1970-01-02"],
            },
            {
                "unique_identifier": "b",
                "measure_name": "m",
                "measure_units": None,
                "readings": [],
                "timestamps": [],
            },
        ],
        "overwrite": 1,
    }
    raw = json.dumps(body)

    fast = InsertReadingsBulkRequest.model_validate_json(raw)

    slow = InsertReadingsBulkRequest.model_validate(json.loads(raw))
    assert repr(fast.model_dump()) == repr(slow.model_dump())
    assert [s.model_fields_set for s in fast.series] == [s.model_fields_set for s in slow.series]


# Through the API


@pytest.fixture
def live_backend(backend_of_each_role: str) -> str:
    """Ingest runs as a superuser (foreign keys checked once) and as a plain role (per
    row, as on a managed database): the same answers either way."""
    return backend_of_each_role


@pytest.fixture
def site(admin: httpx.Client) -> httpx.Client:
    """Sensors A and B of type Probe (the four measures above)."""
    return add_sensors(admin, "Probe", MEASURES, ["A", "B"])


def _stamps(count: int, start: int = 0) -> list[str]:
    return [iso(T0 + timedelta(seconds=start + index)) for index in range(count)]


def _insert(
    http: httpx.Client,
    measure: str,
    values: list[Any],
    stamps: list[str],
    uid: str = "A",
    **extra: Any,
) -> httpx.Response:
    body = {
        "measure_name": measure,
        "unique_identifier": uid,
        "readings": values,
        "timestamps": stamps,
        **extra,
    }
    return http.post("/sensor/insert-sensor-readings", json=body)


def _read(http: httpx.Client, measure: str, uid: str = "A") -> list[tuple[str, Any]]:
    body = {"measure_name": measure, "unique_identifier": uid, **EVERYTHING}
    response = http.post("/sensor/sensor-readings", json=body)
    assert response.status_code == 200, response.text
    return [(reading["timestamp"], reading["value"]) for reading in response.json()]


@pytest.mark.parametrize(
    ("measure", "values"),
    [
        ("temperature", [1.5, -0.0, 1e308, 5e-324, 3]),
        ("count", [0, -(2**63), 2**63 - 1, 42, -1]),
        ("icon", ["", "sun", "é ☀", 'a,b\n"c"', " "]),
        ("raining", [True, False, False, True, True]),
    ],
)
def test_every_datatype_round_trips(site: httpx.Client, measure: str, values: list[Any]) -> None:
    stamps = _stamps(len(values))

    assert _insert(site, measure, values, stamps).status_code == 201

    stored = _read(site, measure)
    assert stored == list(zip(stamps, values, strict=True))
    kind = float if measure == "temperature" else type(values[0])
    assert {type(value) for _, value in stored} == {kind}


def test_offsets_and_naive_timestamps_are_stored_in_utc(site: httpx.Client) -> None:
    stamps = ["2024-01-01T01:00:00+01:00", "2024-01-01T00:00:01", "2024-01-01T00:00:02Z"]

    assert _insert(site, "count", [1, 2, 3], stamps).status_code == 201

    assert _read(site, "count") == [
        ("2024-01-01T00:00:00Z", 1),
        ("2024-01-01T00:00:01Z", 2),
        ("2024-01-01T00:00:02Z", 3),
    ]


@pytest.mark.parametrize("stored_first", [False, True])
def test_duplicates_inside_one_request_first_given_wins(
    site: httpx.Client, stored_first: bool
) -> None:
    """With nothing stored and over stored readings (repeats take ON CONFLICT either way)."""
    if stored_first:
        assert _insert(site, "count", [100], _stamps(1, start=1)).status_code == 201
    stamps = _stamps(3)
    values = [1, 2, 3, 4, 5, 6]

    assert (
        _insert(site, "count", values, [stamps[2], *stamps, stamps[0], stamps[2]]).status_code
        == 201
    )

    expected = [(stamps[0], 2), (stamps[1], 100 if stored_first else 3), (stamps[2], 1)]
    assert _read(site, "count") == expected


@pytest.mark.parametrize("stored_first", [False, True])
def test_duplicates_inside_one_request_last_given_wins_with_overwrite(
    site: httpx.Client, stored_first: bool
) -> None:
    if stored_first:
        assert _insert(site, "count", [100, 200], _stamps(2, start=1)).status_code == 201
    stamps = _stamps(3)
    values = [1, 2, 3, 4, 5, 6]

    response = _insert(
        site, "count", values, [stamps[2], *stamps, stamps[0], stamps[2]], overwrite=True
    )

    assert response.status_code == 201
    assert _read(site, "count") == [(stamps[0], 5), (stamps[1], 3), (stamps[2], 6)]


def test_readings_around_stored_ones_fill_the_gaps(site: httpx.Client) -> None:
    """A request whose span holds stored readings skips exactly those."""
    assert _insert(site, "count", [-1, -2], [_stamps(10)[3], _stamps(10)[7]]).status_code == 201

    assert _insert(site, "count", list(range(10)), _stamps(10)).status_code == 201

    values = [value for _, value in _read(site, "count")]
    assert values == [0, 1, 2, -1, 4, 5, 6, -2, 8, 9]


@pytest.mark.parametrize("position", [0, 4_999, 9_999])
def test_a_bad_value_anywhere_stores_nothing(site: httpx.Client, position: int) -> None:
    values: list[Any] = [float(index) for index in range(10_000)]
    values[position] = "warm"

    response = _insert(site, "temperature", values, _stamps(10_000))

    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "type": "value_error",
                "loc": ["body", "readings", position],
                "msg": "expected a float value, got string 'warm'",
                "input": "warm",
            }
        ]
    }
    assert _read(site, "temperature") == []


def test_a_bad_value_in_a_later_bulk_series_stores_nothing(site: httpx.Client) -> None:
    series = [
        {
            "unique_identifier": "A",
            "measure_name": "count",
            "readings": [1, 2],
            "timestamps": _stamps(2),
        },
        {
            "unique_identifier": "B",
            "measure_name": "icon",
            "readings": ["a", 3],
            "timestamps": _stamps(2),
        },
    ]

    response = site.post("/sensor/insert-readings-bulk", json={"series": series})

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "series", 1, "readings", 1]
    assert _read(site, "count") == []
    assert _read(site, "icon", "B") == []


def test_a_bulk_series_named_twice_keeps_the_first_given_or_the_last(site: httpx.Client) -> None:
    stamps = _stamps(2)
    series = [
        {
            "unique_identifier": "A",
            "measure_name": "count",
            "readings": [1, 2],
            "timestamps": stamps,
        },
        {
            "unique_identifier": "A",
            "measure_name": "icon",
            "readings": ["x"],
            "timestamps": stamps[:1],
        },
        {
            "unique_identifier": "A",
            "measure_name": "count",
            "readings": [3, 4],
            "timestamps": stamps,
        },
    ]

    assert site.post("/sensor/insert-readings-bulk", json={"series": series}).status_code == 201
    assert _read(site, "count") == [(stamps[0], 1), (stamps[1], 2)]

    body = {"series": series, "overwrite": True}
    assert site.post("/sensor/insert-readings-bulk", json=body).status_code == 201
    assert _read(site, "count") == [(stamps[0], 3), (stamps[1], 4)]
    assert _read(site, "icon") == [(stamps[0], "x")]


def test_a_large_request_stores_every_reading(site: httpx.Client) -> None:
    count = 50_000
    values = [round(math.sin(index / 100), 6) for index in range(count)]
    stamps = _stamps(count)

    response = site.post(
        "/sensor/insert-sensor-readings",
        content=json.dumps(
            {
                "measure_name": "temperature",
                "unique_identifier": "A",
                "readings": values,
                "timestamps": stamps,
            }
        ),
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 201, response.text
    assert _read(site, "temperature") == list(zip(stamps, values, strict=True))


def test_racing_writers_of_the_same_new_readings_store_each_once(
    site: httpx.Client, live_backend: str
) -> None:
    """8 clients send the same timestamps to an empty series at once: all take COPY, the
    losers fall back to ON CONFLICT; one value per timestamp, none lost."""
    token = site.headers["Authorization"]
    stamps = _stamps(3_000)
    answers: list[int] = []
    start = threading.Barrier(8)

    def writer(number: int) -> None:
        with httpx.Client(
            base_url=live_backend, timeout=120, headers={"Authorization": token}
        ) as http:
            start.wait()
            answers.append(_insert(http, "count", [number] * len(stamps), stamps).status_code)

    threads = [threading.Thread(target=writer, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    assert answers == [201] * 8
    stored = _read(site, "count")
    assert [stamp for stamp, _ in stored] == stamps
    assert {value for _, value in stored} <= set(range(8))


def test_a_copy_that_loses_a_race_falls_back_and_skips_the_winners_keys(
    site: httpx.Client, engine: Engine
) -> None:
    """The probe cannot see a concurrent writer's uncommitted rows: the COPY waits for it,
    fails on its keys once it commits, and the same rows then go through ON CONFLICT."""
    factory = make_session_factory(engine)
    with factory() as winner, factory() as loser:
        sensor_id, measure_id = winner.execute(
            sql_text(
                "SELECT s.id, m.id FROM sensor s, sensor_measure m"
                " WHERE s.unique_identifier = 'A' AND m.name = 'count'"
            )
        ).one()
        stamps = [T0 + timedelta(seconds=index) for index in range(0, 100, 2)]
        _store(winner, sensor_id, measure_id, stamps, 1)
        loser_pid = loser.scalar(sql_text("SELECT pg_backend_pid()"))
        # Odd seconds too: the loser's span holds the winner's keys and new ones.
        everything = [T0 + timedelta(seconds=index) for index in range(100)]
        when_blocked(
            engine, winner, lambda: _store(loser, sensor_id, measure_id, everything, 2), loser_pid
        )
        loser.commit()

    stored = _read(site, "count")
    assert [stamp for stamp, _ in stored] == [iso(stamp) for stamp in everything]
    assert [value for _, value in stored] == [1 if index % 2 == 0 else 2 for index in range(100)]


def test_series_in_any_order_of_sensors_still_take_the_copy(
    site: httpx.Client, engine: Engine, tmp_path: Path
) -> None:
    """A bulk request may name its sensors in any order (the MQTT bridge names them as
    their messages arrived): the series are sorted by key, so new readings still go in
    with one COPY rather than the slower ON CONFLICT (seen on the wire)."""
    factory = make_session_factory(engine)
    with round_trips(engine, tmp_path / "trace") as trips, factory() as session:
        ids: dict[str, int] = dict(
            session.execute(
                sql_text(
                    "SELECT s.unique_identifier, s.id FROM sensor s"
                    " WHERE s.unique_identifier IN ('A', 'B')"
                )
            ).all()
        )
        measure_id = session.scalar(sql_text("SELECT id FROM sensor_measure WHERE name = 'count'"))
        stamps = [T0 + timedelta(seconds=index) for index in range(3)]
        later_first = [
            ingest.Rows((ids[uid], measure_id), stamps, values)
            for uid, values in [("B", [4, 5, 6]), ("A", [1, 2, 3])]
        ]
        written = ingest.insert_series(
            session,
            table="sensor_reading",
            prefix_keys=("sensor_id", "measure_id"),
            datatype=ValueDatatype.integer,
            series=later_first,
        )
        session.commit()
        trace = trips.trace.read_text()

    assert written == 6
    assert "CopyInResponse" in trace
    assert "ON CONFLICT" not in trace
    assert [value for _, value in _read(site, "count", "A")] == [1, 2, 3]
    assert [value for _, value in _read(site, "count", "B")] == [4, 5, 6]


def test_a_bulk_requests_events_give_each_sensors_times_in_utc(site: httpx.Client) -> None:
    """One `readings.stored` event per sensor, in the order the request first names them:
    its measures once each (in the order named), its first and last time as the wire
    writes them (UTC with a `Z`, microseconds when there are some) whatever offsets the
    request used, and its readings counted over all its series."""
    start = last_id(site)
    series = [
        ("B", "count", [1, 2], ["2026-01-01T02:00:00.000250+02:00", "2026-01-01T00:00:01Z"]),
        ("A", "icon", ["x"], ["2026-01-01T00:00:00Z"]),
        ("B", "raining", [True], ["2025-12-31T23:59:59-00:30"]),
        ("B", "count", [3], ["2026-01-01T00:00:02Z"]),
    ]
    body = {
        "series": [
            {"unique_identifier": uid, "measure_name": name, "readings": values, "timestamps": at}
            for uid, name, values, at in series
        ]
    }

    response = site.post("/sensor/insert-readings-bulk", json=body)

    assert response.status_code == 201, response.text
    assert kinds_and_meta(events_since(site, start)) == [
        (
            "readings.stored",
            {
                "sensor": "B",
                "sensor_type": "Probe",
                "measure": ["count", "raining"],
                "first": "2026-01-01T00:00:00.000250Z",
                "last": "2026-01-01T00:29:59Z",
                "count": 4,
            },
        ),
        (
            "readings.stored",
            {
                "sensor": "A",
                "sensor_type": "Probe",
                "measure": ["icon"],
                "first": "2026-01-01T00:00:00Z",
                "last": "2026-01-01T00:00:00Z",
                "count": 1,
            },
        ),
    ]


def _store(
    session: Session, sensor_id: int, measure_id: int, stamps: list[datetime], value: int
) -> None:
    rows = ingest.Rows((sensor_id, measure_id), stamps, [value] * len(stamps))
    ingest.insert_series(
        session,
        table="sensor_reading",
        prefix_keys=("sensor_id", "measure_id"),
        datatype=ValueDatatype.integer,
        series=[rows],
    )


def test_concurrent_bulk_writers_of_several_datatypes_never_deadlock(
    site: httpx.Client, live_backend: str
) -> None:
    """Series of several datatypes in opposite orders, overlapping between writers."""
    token = site.headers["Authorization"]
    answers: list[int] = []

    def series(measure: str, values: list[Any], uid: str) -> dict[str, Any]:
        return {
            "unique_identifier": uid,
            "measure_name": measure,
            "readings": values,
            "timestamps": _stamps(len(values)),
        }

    def writer(number: int) -> None:
        body = [
            series("count", list(range(1_000)), "A"),
            series("icon", ["x"] * 1_000, "B"),
            series("raining", [True] * 1_000, "A"),
            series("temperature", [0.5] * 1_000, "B"),
        ]
        ordered = body if number % 2 else body[::-1]
        with httpx.Client(
            base_url=live_backend, timeout=120, headers={"Authorization": token}
        ) as http:
            for _ in range(3):
                response = http.post("/sensor/insert-readings-bulk", json={"series": ordered})
                answers.append(response.status_code)

    threads = [threading.Thread(target=writer, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    assert answers == [201] * 24
    assert len(_read(site, "count")) == len(_read(site, "raining")) == 1_000
    assert len(_read(site, "icon", "B")) == len(_read(site, "temperature", "B")) == 1_000
