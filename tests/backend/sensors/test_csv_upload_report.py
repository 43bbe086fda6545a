"""insert-readings-bulk-csv's additive flags and report (issue 17 item 2): every bad line
listed with its column, `skip_bad_lines` storing the good ones, `dry_run` storing nothing,
and counts of stored, already stored, not stored and rejected lines."""

from __future__ import annotations

import io
import tracemalloc
from typing import Any

import httpx
import pytest

from dtbase.client import Client
from dtbase.client.errors import ApiError
from tests.utils.sensors import add_sensors

PATH = "/sensor/insert-readings-bulk-csv"
MEASURES: list[dict[str, Any]] = [
    {"name": "temperature", "units": "K", "datatype": "float"},
    {"name": "count", "units": None, "datatype": "integer"},
]
HEADER = "sensor_unique_identifier,measure_name,measure_units,timestamp,value\n"
EVERYTHING = {"dt_from": "2000-01-01", "dt_to": "2100-01-01"}

# Lines 2, 4 and 6 are good; 3 (value), 5 (timestamp) and 7 (field count) are bad.
MIXED = (
    HEADER + "A,temperature,K,2024-01-01T00:00:00Z,1.5\n"
    "A,temperature,K,2024-01-01T00:01:00Z,warm\n"
    "A,count,,2024-01-01T00:00:00Z,3\n"
    "A,count,,noon,4\n"
    "B,count,,2024-01-01T00:00:00Z,5\n"
    "B,count,,2024-01-01T00:00:00Z\n"
)


@pytest.fixture
def site(admin: httpx.Client) -> httpx.Client:
    return add_sensors(admin, "Probe", MEASURES, ["A", "B"])


def _upload(http: httpx.Client, content: str, **params: Any) -> httpx.Response:
    return http.post(PATH, files={"file": ("r.csv", content, "text/csv")}, params=params)


def _read(http: httpx.Client, measure: str, uid: str = "A") -> list[tuple[str, Any]]:
    body = {"measure_name": measure, "unique_identifier": uid, **EVERYTHING}
    response = http.post("/sensor/sensor-readings", json=body)
    assert response.status_code == 200, response.text
    return [(reading["timestamp"], reading["value"]) for reading in response.json()]


def _nothing_stored(http: httpx.Client) -> bool:
    return all(_read(http, m["name"], uid) == [] for m in MEASURES for uid in ("A", "B"))


def test_every_bad_line_is_listed_with_its_column_and_nothing_is_stored(
    site: httpx.Client,
) -> None:
    response = _upload(site, MIXED)

    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert [error["loc"] for error in errors] == [["body", "file", n] for n in (3, 5, 7)]
    assert [error["msg"] for error in errors] == [
        "line 3, column 5 (value): expected a number, got 'warm'",
        errors[1]["msg"],
        "line 7: expected 5 fields (sensor_unique_identifier,measure_name,measure_units,"
        "timestamp,value), got 4",
    ]
    assert errors[1]["msg"].startswith("line 5, column 4 (timestamp): expected a timestamp")
    assert errors[0]["ctx"] == {"line": 3, "column": 5, "column_name": "value"}
    assert _nothing_stored(site)


def test_skip_bad_lines_stores_the_good_ones_and_lists_the_bad(site: httpx.Client) -> None:
    response = _upload(site, MIXED, skip_bad_lines="true")

    assert response.status_code == 201, response.text
    report = response.json()
    assert (report["lines"], report["stored"], report["already_stored"]) == (6, 3, 0)
    assert (report["not_stored"], report["rejected"]) == (0, 3)
    assert [problem["line"] for problem in report["problems"]] == [3, 5, 7]
    assert report["problems"][0] == {
        "line": 3,
        "column": 5,
        "column_name": "value",
        "msg": "line 3, column 5 (value): expected a number, got 'warm'",
        "input": "warm",
        "type": "value_error",
    }
    assert "3 were stored" in report["detail"]
    assert "3 rejected" in report["detail"]
    assert report["first_timestamp"] == report["last_timestamp"] == "2024-01-01T00:00:00Z"
    assert _read(site, "temperature") == [("2024-01-01T00:00:00Z", 1.5)]
    assert _read(site, "count") == [("2024-01-01T00:00:00Z", 3)]
    assert _read(site, "count", "B") == [("2024-01-01T00:00:00Z", 5)]


def test_skip_bad_lines_as_a_form_field(site: httpx.Client) -> None:
    files = {"file": ("r.csv", MIXED, "text/csv")}
    response = site.post(PATH, files=files, data={"skip_bad_lines": "true"})

    assert response.status_code == 201, response.text
    assert response.json()["stored"] == 3


def test_skip_bad_lines_with_no_good_line_is_422(site: httpx.Client) -> None:
    response = _upload(site, HEADER + "A,count,,x,1\nA,count,,y,2\n", skip_bad_lines="true")

    assert response.status_code == 422
    assert [error["loc"][-1] for error in response.json()["detail"]] == [2, 3]
    assert _nothing_stored(site)


def test_an_unknown_sensor_skipped_rejects_each_of_its_lines(site: httpx.Client) -> None:
    content = HEADER + "Z,count,,2024-01-01T00:00:00Z,1\nA,count,,2024-01-01T00:00:00Z,2\n"
    content += "Z,count,,2024-01-01T00:00:01Z,1\n"

    response = _upload(site, content, skip_bad_lines="true")

    assert response.status_code == 201, response.text
    report = response.json()
    assert (report["stored"], report["rejected"]) == (1, 2)
    assert [(p["line"], p["msg"]) for p in report["problems"]] == [
        (2, "line 2: Sensor does not exist"),
        (4, "line 4: Sensor does not exist"),
    ]
    assert _read(site, "count") == [("2024-01-01T00:00:00Z", 2)]


def test_a_dry_run_checks_every_line_and_stores_nothing(site: httpx.Client) -> None:
    response = _upload(site, MIXED, dry_run="true")

    assert response.status_code == 200, response.text
    report = response.json()
    assert report["dry_run"] is True
    assert (report["stored"], report["rejected"]) == (3, 3)
    assert "3 would be stored" in report["detail"]
    assert "An upload would store nothing: 3 bad lines;" in report["detail"]
    assert _nothing_stored(site)


def test_a_dry_run_of_a_good_file_then_the_upload(site: httpx.Client) -> None:
    good = HEADER + "A,count,,2024-01-01T00:00:00Z,3\n"
    assert _upload(site, good, dry_run="true").json()["stored"] == 1
    assert _nothing_stored(site)

    report = _upload(site, good).json()

    assert (report["stored"], report["dry_run"]) == (1, False)
    assert report["detail"] == "Sensor readings inserted"
    assert report["first_timestamp"] == "2024-01-01T00:00:00Z"
    assert _read(site, "count") == [("2024-01-01T00:00:00Z", 3)]


def test_lines_already_stored_and_other_values_are_counted_apart(site: httpx.Client) -> None:
    first = HEADER + "A,count,,2024-01-01T00:00:00Z,1\nA,count,,2024-01-01T00:00:01Z,2\n"
    assert _upload(site, first).status_code == 201
    again = (
        HEADER + "A,count,,2024-01-01T00:00:00Z,1\n"  # the same: already stored
        "A,count,,2024-01-01T00:00:01Z,9\n"  # another value: not stored
        "A,count,,2024-01-01T00:00:02Z,3\n"  # new
        "A,count,,2024-01-01T00:00:02Z,4\n"  # repeats line 4's time: not stored
        "A,count,,2024-01-01T00:00:02Z,3\n"  # repeats line 4 exactly: already there
    )

    report = _upload(site, again).json()

    assert (report["stored"], report["already_stored"], report["not_stored"]) == (1, 2, 2)
    assert [(p["line"], p["type"]) for p in report["problems"]] == [
        (3, "conflict"),
        (5, "conflict"),
    ]
    assert "another value (2) is stored" in report["problems"][0]["msg"]
    assert "an earlier line (4)" in report["problems"][1]["msg"]
    assert _read(site, "count") == [
        ("2024-01-01T00:00:00Z", 1),
        ("2024-01-01T00:00:01Z", 2),
        ("2024-01-01T00:00:02Z", 3),
    ]


def test_with_overwrite_other_values_are_stored(site: httpx.Client) -> None:
    assert _upload(site, HEADER + "A,count,,2024-01-01T00:00:00Z,1\n").status_code == 201
    again = HEADER + "A,count,,2024-01-01T00:00:00Z,7\nA,count,,2024-01-01T00:00:00Z,8\n"

    report = _upload(site, again, overwrite="true").json()

    assert (report["stored"], report["not_stored"]) == (1, 1)
    assert "a later line (3)" in report["problems"][0]["msg"]
    assert _read(site, "count") == [("2024-01-01T00:00:00Z", 8)]


def test_many_bad_lines_list_the_first_hundred_and_count_all(site: httpx.Client) -> None:
    content = HEADER + "".join(f"A,count,,2024-01-01T00:00:{n % 60:02}Z,x{n}\n" for n in range(250))

    strict = _upload(site, content).json()["detail"]
    skipped = _upload(site, content + "A,count,,2024-02-01T00:00:00Z,1\n", skip_bad_lines="true")

    assert len(strict) == 101
    assert strict[-1]["msg"] == "250 bad lines in all: 150 more not listed"
    report = skipped.json()
    assert (report["rejected"], report["stored"], len(report["problems"])) == (250, 1, 100)


def test_a_long_bad_value_is_quoted_short(site: httpx.Client) -> None:
    long_value = "x" * 10_000

    error = _upload(site, HEADER + f"A,count,,2024-01-01T00:00:00Z,{long_value}\n").json()

    message = error["detail"][0]["msg"]
    assert len(message) < 200
    assert "(10000 characters)" in message


@pytest.mark.parametrize("flag", ["skip_bad_lines", "dry_run"])
def test_a_bad_flag_form_field_is_422(site: httpx.Client, flag: str) -> None:
    files = {"file": ("r.csv", MIXED, "text/csv")}
    response = site.post(PATH, files=files, data={flag: "perhaps"})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", flag]
    assert _nothing_stored(site)


def test_the_client_streams_a_file_and_skips_bad_lines(site: httpx.Client, client: Client) -> None:
    report = client.sensors.insert_readings_csv(io.BytesIO(MIXED.encode()), skip_bad_lines=True)

    assert (report.stored, report.rejected) == (3, 3)
    assert [problem.line for problem in report.problems] == [3, 5, 7]
    dry = client.sensors.insert_readings_csv(MIXED, dry_run=True, skip_bad_lines=True)
    assert (dry.stored, dry.already_stored, dry.dry_run) == (0, 3, True)
    with pytest.raises(ApiError) as raised:
        client.sensors.insert_readings_csv(MIXED)
    assert raised.value.status_code == 422


def test_a_quoted_line_break_in_a_number_is_a_bad_value_on_its_own_line(
    site: httpx.Client,
) -> None:
    content = HEADER + 'A,count,,2024-01-01T00:00:00Z,"1\n2"\nA,count,,2024-01-01T00:00:01Z,3\n'

    response = _upload(site, content, skip_bad_lines="true")

    report = response.json()
    assert (report["stored"], report["rejected"]) == (1, 1)
    # The quoted field ends on line 3, where the reader finished that record.
    assert report["problems"][0]["line"] == 3
    assert "expected a 64-bit integer, got '1\\n2'" in report["problems"][0]["msg"]


@pytest.mark.parametrize(
    ("values", "stored"),
    [
        (["1", "9223372036854775807", "-9223372036854775808"], 3),
        (["1", "9223372036854775808"], 1),
        (["1", " 2 "], 2),
    ],
)
def test_integer_columns_at_the_edges(site: httpx.Client, values: list[str], stored: int) -> None:
    lines = [f"A,count,,2024-01-01T00:00:0{n}Z,{value}\n" for n, value in enumerate(values)]

    report = _upload(site, HEADER + "".join(lines), skip_bad_lines="true").json()

    assert report["stored"] == stored
    assert report["rejected"] == len(values) - stored


def test_reading_a_large_file_takes_about_ten_times_its_size() -> None:
    """Rows go one at a time into their series, and a column is matched value by value (a
    pattern over the joined column kept 30 times the file's size of backtracking state)."""
    from dtbase.backend.sensors import csv_upload
    from dtbase.backend.sensors.tables import SensorMeasure
    from dtbase.core.unset import UNSET
    from dtbase.schemas.values import ValueDatatype

    text = "".join(f"2024-01-01T00:00:00.{n:06}Z,{n / 7}\n" for n in range(100_000))
    measure = SensorMeasure(id=1, name="m", units=None, datatype=ValueDatatype.float)
    tracemalloc.start()
    try:
        [series], problems = csv_upload.parse_series(
            text, unique_identifier="A", measure_name="m", units=UNSET
        )
        good = csv_upload._good_lines(series, 1, measure, problems)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert (len(good.values), problems) == (100_000, [])
    assert peak < 16 * len(text)
