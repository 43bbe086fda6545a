"""Rollups (issue 4): downsampled reads served from per-bucket aggregates equal a Python
reference on the raw readings, whatever the window, after inserts, overwrites,
out-of-order inserts, deletes and sensor deletion; and the rollups are really read."""

from __future__ import annotations

import math
import random
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import Engine, text

from dtbase.backend.sensors import readings, rollups
from dtbase.core.timestamps import EPOCH, floor_to
from tests.utils.sensors import add_sensors, iso

MEASURES = [
    {"name": "temperature", "units": "K", "datatype": "float"},
    {"name": "count", "units": "n", "datatype": "integer"},
    {"name": "icon", "units": None, "datatype": "string"},
]
T0 = datetime(2024, 3, 1, 22, 13, 7, tzinfo=UTC)

SPAN = timedelta(days=3)
AGGREGATES = ["avg", "min", "max", "first", "last", "count"]

Points = dict[datetime, Any]


@pytest.fixture
def station(admin: httpx.Client) -> httpx.Client:
    return add_sensors(admin, "Station", MEASURES, ["R1", "R2"])


def _insert(
    admin: httpx.Client, measure: str, points: Points, uid: str = "R1", **extra: Any
) -> None:
    body = {
        "measure_name": measure,
        "unique_identifier": uid,
        "readings": list(points.values()),
        "timestamps": [iso(stamp) for stamp in points],
        **extra,
    }
    response = admin.post("/sensor/insert-sensor-readings", json=body)
    assert response.status_code == 201, response.text


def _read(
    admin: httpx.Client, measure: str, start: datetime, end: datetime, **extra: Any
) -> list[dict[str, Any]]:
    body = {
        "measure_name": measure,
        "unique_identifier": extra.pop("uid", "R1"),
        "dt_from": iso(start),
        "dt_to": iso(end),
        **extra,
    }
    response = admin.post("/sensor/sensor-readings", json=body)
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()
    return result


def _reference(
    points: Points, start: datetime, end: datetime, width: timedelta, aggregate: str
) -> list[dict[str, Any]]:
    buckets: dict[datetime, list[Any]] = {}
    for stamp in sorted(points):
        if start <= stamp <= end:
            bucket = EPOCH + width * ((stamp - EPOCH) // width)
            buckets.setdefault(bucket, []).append(points[stamp])
    items = []
    for bucket, values in sorted(buckets.items()):
        numeric = not isinstance(values[0], str)
        item: dict[str, Any] = {"timestamp": iso(bucket), "value": _aggregate(values, aggregate)}
        if numeric:
            item["min"], item["max"] = min(values), max(values)
        item["count"] = len(values)
        items.append(item)
    return items


def _aggregate(values: list[Any], aggregate: str) -> Any:
    if aggregate == "avg":
        return sum(values) / len(values)
    if aggregate in ("min", "max"):
        return min(values) if aggregate == "min" else max(values)
    if aggregate in ("first", "last"):
        return values[0] if aggregate == "first" else values[-1]
    return len(values)


def _same(got: list[dict[str, Any]], expected: list[dict[str, Any]], aggregate: str) -> None:
    assert [item["timestamp"] for item in got] == [item["timestamp"] for item in expected]
    for item, reference in zip(got, expected, strict=True):
        if aggregate == "avg":
            assert math.isclose(item.pop("value"), reference.pop("value"), rel_tol=1e-12)
        assert item == reference


def _random_points(rng: random.Random, count: int, kind: str) -> Points:
    stamps = {
        T0
        + timedelta(
            seconds=rng.randrange(int(SPAN.total_seconds())), milliseconds=rng.randrange(1000)
        )
        for _ in range(count)
    }
    if kind == "float":
        return {stamp: round(rng.gauss(280, 20), 3) for stamp in stamps}
    if kind == "integer":
        return {stamp: rng.randrange(-(10**12), 10**12) for stamp in stamps}
    return {stamp: rng.choice(["sun", "rain", "fog", "snow"]) for stamp in stamps}


def _random_request(rng: random.Random) -> dict[str, Any]:
    """A window with edges inside minutes, and a width that rollups divide, or not."""
    start = T0 - timedelta(hours=2) + timedelta(seconds=rng.uniform(0, 2 * 86400))
    end = start + timedelta(seconds=rng.uniform(0, 3 * 86400), microseconds=rng.randrange(10**6))
    choice = rng.randrange(4)
    if choice == 0:
        spec: dict[str, Any] = {"max_points": rng.choice([2, 3, 5, 20, 100, 500])}
    elif choice == 1:
        spec = {"bucket_seconds": rng.choice([60, 120, 600, 1800, 3600, 7200, 86400, 172800])}
    elif choice == 2:
        spec = {"bucket_seconds": rng.choice([45, 90, 1000, 5000])}  # no rollup divides
    else:
        spec = {"bucket_seconds": 600, "max_points": rng.choice([4, 50])}
    return {"start": start, "end": end, **spec}


def _check_random_windows(
    admin: httpx.Client, measure: str, points: Points, rng: random.Random, rounds: int
) -> None:
    numeric = not isinstance(next(iter(points.values())), str)
    for _ in range(rounds):
        request = _random_request(rng)
        start, end = request.pop("start"), request.pop("end")
        aggregate = rng.choice(AGGREGATES if numeric else ["first", "last", "count"])
        got = _read(admin, measure, start, end, aggregate=aggregate, **request)
        width = readings.bucket_width(
            dt_from=start,
            dt_to=end,
            max_points=request.get("max_points"),
            bucket_seconds=request.get("bucket_seconds"),
        )
        if "max_points" in request:
            assert len(got) <= request["max_points"]
        if "bucket_seconds" in request and "max_points" not in request:
            assert width == timedelta(seconds=request["bucket_seconds"])
        _same(got, _reference(points, start, end, width, aggregate), aggregate)


@pytest.mark.parametrize(
    ("measure", "kind"), [("temperature", "float"), ("count", "integer"), ("icon", "string")]
)
def test_random_windows_equal_the_reference_after_inserts_overwrites_and_old_data(
    station: httpx.Client, measure: str, kind: str
) -> None:
    rng = random.Random(f"rollups-{kind}")
    points = _random_points(rng, 4000, kind)
    stamps = sorted(points)
    _insert(station, measure, {s: points[s] for s in stamps[:2500]})
    _check_random_windows(station, measure, points_in(points, stamps[:2500]), rng, 12)

    # Out of order: older readings after newer ones, in several requests.
    for part in (stamps[3200:], stamps[2500:3200]):
        _insert(station, measure, {s: points[s] for s in part})
    _check_random_windows(station, measure, points, rng, 12)

    # Overwrites: new extremes inside buckets that are rolled up already.
    changed = rng.sample(stamps, 300)
    fresh = _random_points(rng, 300, kind)
    for stamp, value in zip(changed, fresh.values(), strict=False):
        points[stamp] = value * 3 if kind != "string" else value + "!"
    _insert(station, measure, {s: points[s] for s in changed}, overwrite=True)
    # Duplicates without overwrite change nothing.
    _insert(station, measure, {s: fresh[f] for s, f in zip(changed[:50], fresh, strict=False)})
    _check_random_windows(station, measure, points, rng, 16)


def points_in(points: Points, stamps: list[datetime]) -> Points:
    return {stamp: points[stamp] for stamp in stamps}


def test_deleted_readings_leave_the_rollups(station: httpx.Client, engine: Engine) -> None:
    rng = random.Random(7)
    points = _random_points(rng, 3000, "float")
    _insert(station, "temperature", points)
    window = (T0 - timedelta(days=1), T0 + SPAN + timedelta(days=1))
    _read(station, "temperature", *window, bucket_seconds=3600)  # rolls everything up
    cut = sorted(points)[1000:1700]
    with engine.begin() as connection:
        connection.execute(
            text('DELETE FROM sensor_reading WHERE "timestamp" >= :a AND "timestamp" <= :b'),
            {"a": cut[0], "b": cut[-1]},
        )
    for stamp in cut:
        del points[stamp]
    for aggregate in AGGREGATES:
        for width in (600, 3600, 86400):
            got = _read(station, "temperature", *window, bucket_seconds=width, aggregate=aggregate)
            _same(got, _reference(points, *window, timedelta(seconds=width), aggregate), aggregate)


def _rollup_rows(engine: Engine, uid: str) -> tuple[int, int]:
    with engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT (SELECT count(*) FROM sensor_reading_rollup u WHERE u.sensor_id = s.id),"
                " (SELECT count(*) FROM sensor_reading_dirty d WHERE d.sensor_id = s.id)"
                " FROM sensor s WHERE s.unique_identifier = :uid"
            ),
            {"uid": uid},
        ).one()
        return row[0], row[1]


def _rollup_total(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(text("SELECT count(*) FROM sensor_reading_rollup")) or 0)


def test_deleting_a_sensor_removes_its_rollups(station: httpx.Client, engine: Engine) -> None:
    rng = random.Random(11)
    for uid in ("R1", "R2"):
        _insert(station, "temperature", _random_points(rng, 500, "float"), uid=uid)
    assert _rollup_rows(engine, "R1")[1] > 0  # the trigger marked the writes dirty
    for uid in ("R1", "R2"):
        _read(station, "temperature", T0, T0 + SPAN, bucket_seconds=3600, uid=uid)
    rows_r1, dirty_r1 = _rollup_rows(engine, "R1")
    assert rows_r1 > 0
    assert dirty_r1 == 0
    total = _rollup_total(engine)

    response = station.post("/sensor/delete-sensor", json={"unique_identifier": "R1"})
    assert response.status_code == 200, response.text

    assert _rollup_total(engine) == total - rows_r1
    with engine.connect() as connection:
        left = connection.scalar(
            text(
                "SELECT count(*) FROM sensor_reading_dirty d"
                " WHERE NOT EXISTS (SELECT FROM sensor s WHERE s.id = d.sensor_id)"
            )
        )
    assert left == 0


def test_reads_use_the_rollups(station: httpx.Client, engine: Engine) -> None:
    """A rollup row altered behind the backend's back shows in the answer (so it was read),
    until a write in its bucket marks it dirty and the next read recomputes it."""
    hour = datetime(2024, 3, 2, 5, tzinfo=UTC)
    points = {hour + timedelta(seconds=10 * i): float(i) for i in range(360 * 3)}
    _insert(station, "temperature", points)
    window = (hour - timedelta(minutes=30, seconds=17), hour + timedelta(hours=3, minutes=1))
    before = _read(station, "temperature", *window, bucket_seconds=3600, aggregate="count")
    assert [item["count"] for item in before] == [360, 360, 360]
    with engine.begin() as connection:
        changed = connection.execute(
            text(
                "UPDATE sensor_reading_rollup SET count = count + 1000, max_float = 1e9"
                " WHERE width_seconds = 3600 AND bucket = :bucket"
            ),
            {"bucket": hour + timedelta(hours=1)},
        ).rowcount
    assert changed == 1

    tampered = _read(station, "temperature", *window, bucket_seconds=3600, aggregate="count")
    assert [item["count"] for item in tampered] == [360, 1360, 360]
    assert tampered[1]["max"] == 1e9

    _insert(station, "temperature", {hour + timedelta(hours=1, seconds=5): -1.0})
    after = _read(station, "temperature", *window, bucket_seconds=3600, aggregate="count")
    assert [item["count"] for item in after] == [360, 361, 360]
    assert after[1]["max"] == max(v for s, v in points.items() if s < hour + timedelta(hours=2))


def test_a_plan_covers_the_window_exactly_once() -> None:
    rng = random.Random(3)
    for _ in range(300):
        start = T0 + timedelta(seconds=rng.uniform(0, 5 * 86400))
        end = start + timedelta(seconds=rng.uniform(0, 4 * 86400))
        levels = rollups.levels_for(timedelta(seconds=rng.choice([60, 600, 3600, 86400, 7200])))
        dirty = [
            (lo, lo + timedelta(seconds=rng.uniform(0, 20000)))
            for lo in (start + timedelta(seconds=rng.uniform(-9e4, 4e5)) for _ in range(2))
        ]
        chosen = rollups.plan(start, end, levels, dirty)
        pieces = [*chosen.raw, *((a, b) for _, a, b in chosen.rollups)]
        assert rollups.merged(pieces) == ([(start, end)] if start < end else [])
        assert sum((b - a for a, b in pieces), timedelta()) == end - start
        for width, a, b in chosen.rollups:
            assert width in levels
            assert floor_to(a, width) == a
            assert floor_to(b, width) == b
            for lo, hi in dirty:
                assert hi <= a or lo >= b  # no rolled-up bucket meets a dirty range


def test_the_ends_of_time_are_read_raw_or_refused(station: httpx.Client) -> None:
    late = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    points = {late: 2.0, late - timedelta(days=1, seconds=1): 1.0, T0: 5.0}
    _insert(station, "temperature", points)
    end = late
    for width in (60, 86400):
        got = _read(station, "temperature", T0, end, bucket_seconds=width, aggregate="max")
        _same(got, _reference(points, T0, end, timedelta(seconds=width), "max"), "max")
    got = _read(station, "temperature", T0, end, max_points=3)
    assert sum(item["count"] for item in got) == 3

    early = datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC)
    body = {"measure_name": "temperature", "unique_identifier": "R1", "dt_to": iso(T0)}
    for extra in (
        {"dt_from": "0001-01-01T00:00:01Z", "bucket_seconds": 7 * 86400},
        {"dt_from": iso(T0), "bucket_seconds": 10**20},
    ):
        response = station.post("/sensor/sensor-readings", json={**body, **extra})
        assert response.status_code == 422, response.text
    ok = _read(station, "temperature", early, T0, bucket_seconds=86400)
    assert [item["count"] for item in ok] == [1]


def test_reads_during_concurrent_writes_see_whole_requests(station: httpx.Client) -> None:
    """Writers store one 2-hour batch each while readers downsample windows cut inside
    rollup buckets: every answer shows each batch whole or not at all, never a rollup that
    lags its readings, and nothing fails or deadlocks."""
    base = datetime(2024, 6, 1, tzinfo=UTC)
    batches = [
        {base + timedelta(hours=2 * k, seconds=10 * i): float(k * 1000 + i) for i in range(720)}
        for k in range(8)
    ]
    start, end = base + timedelta(minutes=30, seconds=7), base + timedelta(hours=15, seconds=3)
    expected = {
        item["timestamp"]: item
        for item in _reference(
            {s: v for batch in batches for s, v in batch.items()},
            start,
            end,
            timedelta(minutes=10),
            "max",
        )
    }
    batch_of = {
        iso(EPOCH + timedelta(minutes=10) * ((s - EPOCH) // timedelta(minutes=10))): k
        for k, batch in enumerate(batches)
        for s in batch
    }
    failures: list[str] = []
    answers: list[list[dict[str, Any]]] = []
    done = threading.Event()
    base_url, headers = station.base_url, dict(station.headers)

    def write(k: int) -> None:
        with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
            body = {
                "measure_name": "temperature",
                "unique_identifier": "R1",
                "readings": list(batches[k].values()),
                "timestamps": [iso(s) for s in batches[k]],
            }
            response = client.post("/sensor/insert-sensor-readings", json=body)
            if response.status_code != 201:
                failures.append(response.text)

    def read() -> None:
        with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
            body = {
                "measure_name": "temperature",
                "unique_identifier": "R1",
                "dt_from": iso(start),
                "dt_to": iso(end),
                "bucket_seconds": 600,
                "aggregate": "max",
            }
            while not done.is_set():
                response = client.post("/sensor/sensor-readings", json=body)
                if response.status_code != 200:
                    failures.append(response.text)
                    return
                answers.append(response.json())

    readers = [threading.Thread(target=read) for _ in range(3)]
    writers = [threading.Thread(target=write, args=(k,)) for k in range(8)]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    for thread in readers:
        thread.join()

    assert failures == []
    answers.append(_read(station, "temperature", start, end, bucket_seconds=600, aggregate="max"))
    for answer in answers:
        for item in answer:
            assert item == expected[item["timestamp"]]
        shown = {batch_of[item["timestamp"]] for item in answer}
        assert len(answer) == sum(
            1 for stamp in expected if batch_of[stamp] in shown
        )  # whole batches only
    assert [item["timestamp"] for item in answers[-1]] == list(expected)


def test_refresh_all_rolls_every_series_up(station: httpx.Client, engine: Engine) -> None:
    rng = random.Random(5)
    points = {uid: _random_points(rng, 400, "float") for uid in ("R1", "R2")}
    for uid, series in points.items():
        _insert(station, "temperature", series, uid=uid)
    _insert(station, "count", {T0: 3}, uid="R2")
    with engine.connect() as outer:
        connection = outer.connection.driver_connection
        assert isinstance(connection, psycopg.Connection)
        cleaned = rollups.refresh_all(connection)
    assert cleaned >= 3
    assert _rollup_rows(engine, "R1")[1] == _rollup_rows(engine, "R2")[1] == 0
    for uid, series in points.items():
        got = _read(station, "temperature", T0, T0 + SPAN, bucket_seconds=3600, uid=uid)
        _same(got, _reference(series, T0, T0 + SPAN, timedelta(hours=1), "avg"), "avg")
