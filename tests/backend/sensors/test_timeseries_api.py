"""Time series at scale (issue 4): COPY ingest with overwrite, bulk insert, streamed reads,
downsampling against a reference computed in Python, export, concurrent writers."""

from __future__ import annotations

import csv
import io
import json
import math
import random
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.utils.sensors import add_sensors, iso

MEASURES = [
    {"name": "temperature", "units": "K", "datatype": "float"},
    {"name": "humidity", "units": "%", "datatype": "integer"},
    {"name": "icon", "units": None, "datatype": "string"},
]
T0 = datetime(2024, 1, 1, tzinfo=UTC)
EVERYTHING = {"unique_identifier": "S1", "dt_from": "2000-01-01", "dt_to": "2100-01-01"}


@pytest.fixture
def station(admin: httpx.Client) -> httpx.Client:
    """Sensors S1..S3 of type Station (the measures above)."""
    return add_sensors(admin, "Station", MEASURES, ["S1", "S2", "S3"])


def _insert(
    admin: httpx.Client,
    measure: str,
    values: list[Any],
    stamps: list[datetime],
    uid: str = "S1",
    **extra: Any,
) -> httpx.Response:
    body = {
        "measure_name": measure,
        "unique_identifier": uid,
        "readings": values,
        "timestamps": [iso(stamp) for stamp in stamps],
        **extra,
    }
    return admin.post("/sensor/insert-sensor-readings", json=body)


def _read(admin: httpx.Client, measure: str, uid: str = "S1", **extra: Any) -> Any:
    body = {
        "measure_name": measure,
        "unique_identifier": uid,
        "dt_from": "2000-01-01",
        "dt_to": "2100-01-01",
        **extra,
    }
    response = admin.post("/sensor/sensor-readings", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def _stamps(count: int, step: timedelta = timedelta(seconds=1)) -> list[datetime]:
    return [T0 + step * index for index in range(count)]


# Ingest


def test_duplicates_are_skipped_and_the_first_given_stays(station: httpx.Client) -> None:
    stamps = [T0, T0 + timedelta(seconds=1), T0]
    assert _insert(station, "temperature", [1.0, 2.0, 3.0], stamps).status_code == 201
    assert _insert(station, "temperature", [9.0], [T0]).status_code == 201
    assert [r["value"] for r in _read(station, "temperature")] == [1.0, 2.0]


def test_overwrite_replaces_stored_readings_and_the_last_given_wins(
    station: httpx.Client,
) -> None:
    assert _insert(station, "temperature", [1.0, 2.0], _stamps(2)).status_code == 201
    stamps = [T0, T0 + timedelta(seconds=5), T0]
    response = _insert(station, "temperature", [7.0, 8.0, 9.0], stamps, overwrite=True)
    assert response.status_code == 201, response.text
    assert _read(station, "temperature") == [
        {"value": 9.0, "timestamp": "2024-01-01T00:00:00Z"},
        {"value": 2.0, "timestamp": "2024-01-01T00:00:01Z"},
        {"value": 8.0, "timestamp": "2024-01-01T00:00:05Z"},
    ]


def test_one_bad_value_stores_nothing(station: httpx.Client) -> None:
    values: list[Any] = [1.0] * 5000
    values[4321] = "warm"
    response = _insert(station, "temperature", values, _stamps(5000))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "readings", 4321]
    assert _read(station, "temperature") == []


def test_bulk_insert_stores_many_series_at_once(station: httpx.Client) -> None:
    series = [
        {
            "unique_identifier": uid,
            "measure_name": "humidity",
            "readings": [index, index + 1],
            "timestamps": [iso(T0), iso(T0 + timedelta(hours=1))],
        }
        for index, uid in enumerate(("S1", "S2", "S3"))
    ]
    series.append(
        {
            "unique_identifier": "S1",
            "measure_name": "icon",
            "readings": ["01d"],
            "timestamps": [iso(T0)],
        }
    )
    response = station.post("/sensor/insert-readings-bulk", json={"series": series})
    assert response.status_code == 201, response.text
    assert response.json() == {"detail": "Sensor readings inserted"}
    assert [r["value"] for r in _read(station, "humidity", "S2")] == [1, 2]
    assert [r["value"] for r in _read(station, "humidity", "S3")] == [2, 3]
    assert _read(station, "icon") == [{"value": "01d", "timestamp": "2024-01-01T00:00:00Z"}]


def test_bulk_insert_with_a_bad_value_stores_nothing_and_names_it(station: httpx.Client) -> None:
    series = [
        {
            "unique_identifier": "S1",
            "measure_name": "humidity",
            "readings": [1],
            "timestamps": [iso(T0)],
        },
        {
            "unique_identifier": "S2",
            "measure_name": "humidity",
            "readings": [1, 2.5],
            "timestamps": [iso(T0), iso(T0)],
        },
    ]
    response = station.post("/sensor/insert-readings-bulk", json={"series": series})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "series", 1, "readings", 1]
    assert _read(station, "humidity") == []


def test_bulk_insert_with_an_unknown_sensor_is_400_naming_the_series(
    station: httpx.Client,
) -> None:
    series = [
        {
            "unique_identifier": "S1",
            "measure_name": "humidity",
            "readings": [1],
            "timestamps": [iso(T0)],
        },
        {
            "unique_identifier": "nope",
            "measure_name": "humidity",
            "readings": [1],
            "timestamps": [iso(T0)],
        },
    ]
    response = station.post("/sensor/insert-readings-bulk", json={"series": series})
    assert response.status_code == 400
    assert response.json() == {
        "detail": "series 1 (sensor 'nope', measure 'humidity'): Sensor does not exist"
    }
    assert _read(station, "humidity") == []


def test_bulk_insert_with_a_measure_the_sensor_lacks_names_the_series(
    station: httpx.Client,
) -> None:
    series = {"unique_identifier": "S2", "readings": [1], "timestamps": [iso(T0)]}
    body = {"series": [{**series, "measure_name": "humidity"}, {**series, "measure_name": "x"}]}
    response = station.post("/sensor/insert-readings-bulk", json=body)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("series 1 (sensor 'S2', measure 'x'): ")


def test_viewers_cannot_bulk_insert(station: httpx.Client, user_factory: Any) -> None:
    from dtbase.schemas.users import Role

    viewer = user_factory(Role.viewer)
    response = viewer.post("/sensor/insert-readings-bulk", json={"series": []})
    assert response.status_code == 403


# Reads


def test_a_long_read_streams_every_reading_in_order(station: httpx.Client) -> None:
    count = 45_000  # more than two chunks of the server-side cursor
    values = [index * 0.5 for index in range(count)]
    stamps = _stamps(count, timedelta(milliseconds=1500))
    random.Random(4).shuffle(order := list(range(count)))
    response = _insert(
        station, "temperature", [values[i] for i in order], [stamps[i] for i in order]
    )
    assert response.status_code == 201
    readings = _read(station, "temperature")
    assert readings == [
        {"value": value, "timestamp": iso(stamp)}
        for value, stamp in zip(values, stamps, strict=True)
    ]


def test_aggregate_without_a_bucket_is_422(station: httpx.Client) -> None:
    body = {"measure_name": "temperature", **EVERYTHING, "aggregate": "max"}
    response = station.post("/sensor/sensor-readings", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "aggregate"]


@pytest.mark.parametrize(
    "bad", [{"max_points": 1}, {"bucket_seconds": 0}, {"max_points": 5, "aggregate": "median"}]
)
def test_bad_downsampling_fields_are_422(station: httpx.Client, bad: dict[str, Any]) -> None:
    body = {"measure_name": "temperature", **EVERYTHING, **bad}
    assert station.post("/sensor/sensor-readings", json=body).status_code == 422


def test_a_first_bucket_before_year_1_is_422(station: httpx.Client) -> None:
    # Year 1 starts 3 days into a week of epoch-aligned weeks: its bucket starts before it.
    body = {
        "measure_name": "temperature",
        "unique_identifier": "S1",
        "dt_from": "0001-01-01T00:00:00Z",
        "dt_to": "2000-01-01T00:00:00Z",
    }
    week = station.post("/sensor/sensor-readings", json={**body, "bucket_seconds": 7 * 86400})
    day = station.post("/sensor/sensor-readings", json={**body, "bucket_seconds": 86400})

    assert week.status_code == 422
    assert week.json()["detail"][0]["loc"] == ["body", "dt_from"]
    assert (day.status_code, day.json()) == (200, [])


# Downsampling, against a reference computed here


def _reference(
    points: list[tuple[datetime, float]], width: timedelta, aggregate: str
) -> list[dict[str, Any]]:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    buckets: dict[datetime, list[tuple[datetime, float]]] = {}
    for stamp, value in sorted(points):
        start = epoch + width * ((stamp - epoch) // width)
        buckets.setdefault(start, []).append((stamp, value))
    items = []
    for start, members in sorted(buckets.items()):
        values = [value for _, value in members]
        chosen: float | int = {
            "avg": sum(values) / len(values),
            "min": min(values),
            "max": max(values),
            "first": values[0],
            "last": values[-1],
            "count": len(values),
        }[aggregate]
        items.append(
            {
                "timestamp": iso(start),
                "value": chosen,
                "min": min(values),
                "max": max(values),
                "count": len(values),
            }
        )
    return items


@pytest.fixture
def noisy(station: httpx.Client) -> list[tuple[datetime, float]]:
    rng = random.Random(239)
    stamps = sorted({T0 + timedelta(seconds=rng.randrange(0, 6 * 3600)) for _ in range(3000)})
    points = [(stamp, round(rng.gauss(290, 5), 3)) for stamp in stamps]
    response = _insert(station, "temperature", [v for _, v in points], [s for s, _ in points])
    assert response.status_code == 201
    return points


@pytest.mark.parametrize("aggregate", ["avg", "min", "max", "first", "last", "count"])
def test_bucketed_values_equal_a_python_reference(
    station: httpx.Client, noisy: list[tuple[datetime, float]], aggregate: str
) -> None:
    got = _read(station, "temperature", bucket_seconds=600, aggregate=aggregate)
    expected = _reference(noisy, timedelta(seconds=600), aggregate)
    assert [item["timestamp"] for item in got] == [item["timestamp"] for item in expected]
    for item, reference in zip(got, expected, strict=True):
        assert item["count"] == reference["count"]
        assert item["min"] == reference["min"]
        assert item["max"] == reference["max"]
        assert math.isclose(item["value"], reference["value"], rel_tol=1e-12)
        assert type(item["value"]) is type(reference["value"])


def test_avg_is_the_default_aggregate(
    station: httpx.Client, noisy: list[tuple[datetime, float]]
) -> None:
    got = _read(station, "temperature", bucket_seconds=3600)
    expected = _reference(noisy, timedelta(hours=1), "avg")
    assert [round(item["value"], 9) for item in got] == [round(i["value"], 9) for i in expected]


@pytest.mark.parametrize("max_points", [2, 7, 100, 5000])
def test_max_points_gives_at_most_that_many_buckets_holding_every_reading(
    station: httpx.Client, noisy: list[tuple[datetime, float]], max_points: int
) -> None:
    start, end = T0 + timedelta(minutes=7), T0 + timedelta(hours=5, seconds=13)
    body = {"dt_from": iso(start), "dt_to": iso(end)}
    got = _read(station, "temperature", max_points=max_points, aggregate="max", **body)
    inside = [(s, v) for s, v in noisy if start <= s <= end]
    assert 0 < len(got) <= max_points
    assert sum(item["count"] for item in got) == len(inside)
    assert max(item["value"] for item in got) == max(v for _, v in inside)
    assert min(item["min"] for item in got) == min(v for _, v in inside)


def test_integer_averages_are_floats(station: httpx.Client) -> None:
    assert _insert(station, "humidity", [1, 2, 4], _stamps(3)).status_code == 201
    assert _read(station, "humidity", bucket_seconds=60) == [
        {"timestamp": "2024-01-01T00:00:00Z", "value": 7 / 3, "min": 1, "max": 4, "count": 3}
    ]
    assert _read(station, "humidity", bucket_seconds=60, aggregate="max")[0]["value"] == 4


def test_strings_downsample_with_first_last_or_count_only(station: httpx.Client) -> None:
    stamps = _stamps(4, timedelta(seconds=40))
    assert _insert(station, "icon", ["a", "b", "c", "d"], stamps).status_code == 201
    assert _read(station, "icon", bucket_seconds=60, aggregate="last") == [
        {"timestamp": "2024-01-01T00:00:00Z", "value": "b", "count": 2},
        {"timestamp": "2024-01-01T00:01:00Z", "value": "c", "count": 1},
        {"timestamp": "2024-01-01T00:02:00Z", "value": "d", "count": 1},
    ]
    body = {"measure_name": "icon", **EVERYTHING, "bucket_seconds": 60}
    response = station.post("/sensor/sensor-readings", json=body)
    assert response.status_code == 422
    assert "first, last or count" in response.json()["detail"][0]["msg"]


def test_downsampling_an_unknown_sensor_gives_nothing(station: httpx.Client) -> None:
    assert _read(station, "temperature", "nope", max_points=10) == []


# Export


def test_csv_export_round_trips(station: httpx.Client) -> None:
    stamps = _stamps(3000, timedelta(microseconds=1_250_001))
    values = [random.Random(i).uniform(-1e6, 1e6) for i in range(3000)]
    assert _insert(station, "temperature", values, stamps).status_code == 201
    body = {"measure_name": "temperature", **EVERYTHING, "format": "csv"}
    response = station.post("/sensor/export-sensor-readings", json=body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="S1_temperature.csv"' in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["timestamp", "value"]
    parsed = [(datetime.fromisoformat(stamp), float(value)) for stamp, value in rows[1:]]
    assert parsed == list(zip(stamps, values, strict=True))


def test_csv_export_quotes_strings(station: httpx.Client) -> None:
    assert _insert(station, "icon", ['a,"b"\nc'], [T0]).status_code == 201
    body = {"measure_name": "icon", **EVERYTHING}
    response = station.post("/sensor/export-sensor-readings", json=body)
    rows = list(csv.reader(io.StringIO(response.text, newline="")))
    assert rows == [["timestamp", "value"], ["2024-01-01T00:00:00Z", 'a,"b"\nc']]


def test_ndjson_export_matches_sensor_readings(station: httpx.Client) -> None:
    assert _insert(station, "humidity", [3, 1, 4], _stamps(3)).status_code == 201
    body = {"measure_name": "humidity", **EVERYTHING, "format": "ndjson"}
    response = station.post("/sensor/export-sensor-readings", json=body)
    assert response.status_code == 200
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines == _read(station, "humidity")


def test_export_of_an_unknown_measure_is_400(station: httpx.Client) -> None:
    body = {"measure_name": "nope", **EVERYTHING}
    response = station.post("/sensor/export-sensor-readings", json=body)
    assert response.status_code == 400
    assert response.json() == {"detail": "Sensor measure does not exist"}


# Concurrency


def test_concurrent_writers_lose_nothing_and_never_deadlock(
    station: httpx.Client, live_backend: str
) -> None:
    """8 clients: each writes overlapping batches to the shared S1 (in its own shuffled
    order) and its own share of S2/S3."""
    token = station.headers["Authorization"]
    errors: list[str] = []
    shared = _stamps(4000)

    def writer(number: int) -> None:
        rng = random.Random(number)
        with httpx.Client(
            base_url=live_backend, timeout=60, headers={"Authorization": token}
        ) as http:
            for batch in range(5):
                picked = rng.sample(shared, 1500)
                response = _insert(http, "humidity", [number] * len(picked), picked, "S1")
                if response.status_code != 201:
                    errors.append(response.text)
                own = [
                    T0 + timedelta(seconds=10_000 * number + 500 * batch + i) for i in range(500)
                ]
                uid = "S2" if number % 2 else "S3"
                response = _insert(http, "humidity", list(range(500)), own, uid)
                if response.status_code != 201:
                    errors.append(response.text)

    threads = [threading.Thread(target=writer, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []
    written: set[datetime] = set()
    for number in range(8):
        rng = random.Random(number)
        for _ in range(5):
            written.update(rng.sample(shared, 1500))
    s1 = _read(station, "humidity", "S1")
    assert [r["timestamp"] for r in s1] == [iso(stamp) for stamp in sorted(written)]
    assert len(_read(station, "humidity", "S2")) == 4 * 5 * 500
    assert len(_read(station, "humidity", "S3")) == 4 * 5 * 500
