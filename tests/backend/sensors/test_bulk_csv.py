"""insert-readings-bulk-csv (issue 4 item 2): readings uploaded as CSV, as a multipart file
or a text/csv body; export -> upload round trips; bad lines store nothing."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
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
    {"name": "icon", "units": None, "datatype": "string"},
    {"name": "raining", "units": None, "datatype": "boolean"},
]
EVERYTHING = {"dt_from": "2000-01-01", "dt_to": "2100-01-01"}
HEADER = "sensor_unique_identifier,measure_name,measure_units,timestamp,value\n"


@pytest.fixture
def site(admin: httpx.Client) -> httpx.Client:
    """Sensors A and B of type Probe (the four measures above)."""
    return add_sensors(admin, "Probe", MEASURES, ["A", "B"])


def _upload(
    http: httpx.Client, content: str | bytes, data: dict[str, str] | None = None, **params: Any
) -> httpx.Response:
    files = {"file": ("readings.csv", content, "text/csv")}
    return http.post(PATH, files=files, data=data, params=params)


def _read(http: httpx.Client, measure: str, uid: str = "A") -> list[tuple[str, Any]]:
    body = {"measure_name": measure, "unique_identifier": uid, **EVERYTHING}
    response = http.post("/sensor/sensor-readings", json=body)
    assert response.status_code == 200, response.text
    return [(reading["timestamp"], reading["value"]) for reading in response.json()]


def _everything_empty(http: httpx.Client) -> bool:
    return all(
        _read(http, measure["name"], uid) == [] for measure in MEASURES for uid in ("A", "B")
    )


SERIES_FILE = (
    HEADER + "A,temperature,K,2024-01-01T00:00:00Z,1.5\n"
    "A,count,,2024-01-01T00:00:00Z,7\n"
    'B,icon,,2024-01-01T00:00:00Z,"sun, mostly"\n'
    "A,temperature,K,2024-01-01T01:00:00+01:00,-2\n"
    "B,raining,,2024-01-01T00:00:00Z,true\n"
    "B,raining,,2024-01-01T00:00:01Z,FALSE\n"
    "A,count,,1704067201,-9223372036854775808\n"
)


def _check_series_file_stored(http: httpx.Client) -> None:
    assert _read(http, "temperature") == [("2024-01-01T00:00:00Z", 1.5)]
    assert _read(http, "count") == [
        ("2024-01-01T00:00:00Z", 7),
        ("2024-01-01T00:00:01Z", -(2**63)),
    ]
    assert _read(http, "icon", "B") == [("2024-01-01T00:00:00Z", "sun, mostly")]
    assert _read(http, "raining", "B") == [
        ("2024-01-01T00:00:00Z", True),
        ("2024-01-01T00:00:01Z", False),
    ]


def test_a_multipart_file_of_many_series_is_stored(site: httpx.Client) -> None:
    """Duplicates (the second temperature line is the first's time) keep the first."""
    response = _upload(site, SERIES_FILE)

    assert response.status_code == 201, response.text
    assert response.json()["detail"] == (
        "7 lines: 6 were stored, 0 already stored, 1 not stored (another value for the same "
        "time), 0 rejected"
    )
    _check_series_file_stored(site)


def test_a_text_csv_body_is_stored(site: httpx.Client) -> None:
    response = site.post(
        PATH, content=SERIES_FILE.encode(), headers={"content-type": "text/csv; charset=utf-8"}
    )

    assert response.status_code == 201, response.text
    _check_series_file_stored(site)


def test_overwrite_lets_the_last_line_win(site: httpx.Client) -> None:
    response = _upload(site, SERIES_FILE, overwrite="true")

    assert response.status_code == 201
    assert _read(site, "temperature") == [("2024-01-01T00:00:00Z", -2.0)]


def test_a_byte_order_mark_and_crlf_lines_are_fine(site: httpx.Client) -> None:
    content = "\ufeff" + HEADER.replace("\n", "\r\n") + "A,count,,2024-01-01T00:00:00Z,3\r\n"

    assert _upload(site, content.encode()).status_code == 201

    assert _read(site, "count") == [("2024-01-01T00:00:00Z", 3)]


def _export(http: httpx.Client, measure: str, uid: str = "A") -> str:
    body = {"measure_name": measure, "unique_identifier": uid, **EVERYTHING, "format": "csv"}
    response = http.post("/sensor/export-sensor-readings", json=body)
    assert response.status_code == 200
    return response.text


@pytest.mark.parametrize(
    ("measure", "values"),
    [
        ("temperature", [0.1, -1e-300, 1.7976931348623157e308, 42.0, -0.0]),
        ("count", [0, 2**63 - 1, -5, 12, 7]),
        ("icon", ['a,"b"\nc', "", " padded ", "é\u2028x", "plain"]),
        ("raining", [True, False, True, True, False]),
    ],
)
def test_export_then_upload_to_another_sensor_round_trips(
    site: httpx.Client, measure: str, values: list[Any]
) -> None:
    stamps = [f"2024-01-0{day}T12:34:56.{day}00001Z" for day in range(1, 6)]
    body = {
        "measure_name": measure,
        "unique_identifier": "A",
        "readings": values,
        "timestamps": stamps,
    }
    assert site.post("/sensor/insert-sensor-readings", json=body).status_code == 201

    response = _upload(site, _export(site, measure), unique_identifier="B", measure_name=measure)

    assert response.status_code == 201, response.text
    assert _read(site, measure, "B") == _read(site, measure, "A")
    assert _export(site, measure, "B") == _export(site, measure, "A")


def test_timestamp_value_lines_without_header_and_names_in_form_fields(
    site: httpx.Client,
) -> None:
    content = "2024-01-01T00:00:00Z,1\n2024-01-01T00:00:01Z,2\n"
    form = {"unique_identifier": "B", "measure_name": "temperature", "measure_units": "K"}

    response = _upload(site, content, data=form, unique_identifier="A")

    assert response.status_code == 201, response.text
    assert _read(site, "temperature", "B") == [
        ("2024-01-01T00:00:00Z", 1.0),
        ("2024-01-01T00:00:01Z", 2.0),
    ]
    assert _read(site, "temperature", "A") == []


def test_empty_units_name_the_measure_without_units(site: httpx.Client) -> None:
    response = _upload(
        site,
        "timestamp,value\n2024-01-01T00:00:00Z,5\n",
        measure_name="count",
        unique_identifier="A",
        measure_units="",
    )

    assert response.status_code == 201, response.text
    assert _read(site, "count") == [("2024-01-01T00:00:00Z", 5)]


@pytest.mark.parametrize(
    ("line", "bad", "message"),
    [
        (2, "A,count,,2024-01-01T00:00:00Z,1.5", "expected a 64-bit integer, got '1.5'"),
        (4, "A,count,,2024-01-01T00:00:09Z,9223372036854775808", "expected a 64-bit integer"),
        (4, "A,temperature,K,2024-01-01T00:00:09Z,nan", "expected a number, got 'nan'"),
        (4, "A,temperature,K,2024-01-01T00:00:09Z,1e400", "too large for a float"),
        (4, "A,temperature,K,2024-01-01T00:00:09Z,1_000", "expected a number"),
        (4, "B,raining,,2024-01-01T00:00:09Z,yes", "expected true or false, got 'yes'"),
        (4, "A,count,,yesterday,1", "column 4 (timestamp): expected a timestamp"),
        (6, "A,count,,2024-01-01T00:00:09Z", "line 6: expected 5 fields (sensor_unique"),
    ],
)
def test_a_bad_line_anywhere_is_422_naming_it_and_stores_nothing(
    site: httpx.Client, line: int, bad: str, message: str
) -> None:
    good = [
        "A,temperature,K,2024-01-01T00:00:00Z,1.5",
        "B,icon,,2024-01-01T00:00:00Z,x",
        "A,count,,2024-01-01T00:00:00Z,3",
        "B,raining,,2024-01-01T00:00:00Z,true",
    ]
    rows = [*good]
    rows.insert(line - 2, bad)

    response = _upload(site, HEADER + "\n".join(rows) + "\n")

    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "file", line]
    assert error["msg"].startswith(f"line {line}")
    assert message in error["msg"]
    assert _everything_empty(site)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty"),
        (b"\n\n", "The file is empty"),
        (HEADER.encode(), "The file has a header but no readings"),
        (b"sensor,measure,units,time,value\nA,count,,2024-01-01T00:00:00Z,1\n", "the header"),
        (b"A,count\xff,,2024-01-01T00:00:00Z,1\n", "not UTF-8"),
        (b"A,count,,2024-01-01T00:00:00Z,1\x00\n", "NUL"),
        (HEADER.encode() + b'A,count,,2024-01-01T00:00:00Z,"1\n', "not valid CSV"),
    ],
)
def test_a_bad_file_is_422(site: httpx.Client, content: bytes, message: str) -> None:
    response = _upload(site, content)

    assert response.status_code == 422, response.text
    assert message in response.json()["detail"][0]["msg"]
    assert _everything_empty(site)


def test_a_timestamp_value_file_needs_its_series_named(site: httpx.Client) -> None:
    response = _upload(site, "timestamp,value\n2024-01-01T00:00:00Z,1\n", measure_name="count")

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "unique_identifier"]


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (
            HEADER + "A,count,,2024-01-01T00:00:00Z,1\nZ,count,,2024-01-01T00:00:00Z,1\n",
            "line 3: Sensor does not exist",
        ),
        (
            HEADER + "A,count,,2024-01-01T00:00:00Z,1\nA,wind,,2024-01-01T00:00:00Z,1\n",
            "line 3: Sensor type 'Probe' has no measure 'wind' (no units)",
        ),
    ],
)
def test_an_unknown_sensor_or_measure_is_400_naming_its_line(
    site: httpx.Client, content: str, detail: str
) -> None:
    response = _upload(site, content)

    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail)
    assert _everything_empty(site)


def test_another_content_type_is_415(site: httpx.Client) -> None:
    response = site.post(PATH, json={"series": []})

    assert response.status_code == 415
    assert _everything_empty(site)


def test_a_form_without_a_file_is_422(site: httpx.Client) -> None:
    response = site.post(PATH, data={"unique_identifier": "A"}, files={"other": ("x", b"1")})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "file"]


def test_a_bad_overwrite_form_field_is_422(site: httpx.Client) -> None:
    response = _upload(site, SERIES_FILE, data={"overwrite": "maybe"})

    assert response.status_code == 422
    assert _everything_empty(site)


def test_viewers_cannot_upload(site: httpx.Client, user_factory: Any) -> None:
    from dtbase.schemas.users import Role

    viewer = user_factory(Role.viewer)
    assert _upload(viewer, SERIES_FILE).status_code == 403
    assert _everything_empty(site)


def test_the_client_uploads_csv(site: httpx.Client, client: Client) -> None:
    report = client.sensors.insert_readings_csv(SERIES_FILE)
    assert (report.lines, report.stored, report.not_stored) == (7, 6, 1)
    _check_series_file_stored(site)

    exported = client.sensors.export_sensor_readings(
        "count",
        "A",
        dt_from=datetime(2000, 1, 1, tzinfo=UTC),
        dt_to=datetime(2100, 1, 1, tzinfo=UTC),
    )
    client.sensors.insert_readings_csv(
        exported, unique_identifier="B", measure_name="count", measure_units=""
    )
    assert _read(site, "count", "B") == _read(site, "count")

    with pytest.raises(ApiError) as raised:
        client.sensors.insert_readings_csv("nonsense,header,here\n1,2,3\n")
    assert raised.value.status_code == 422
    rows = list(csv.reader(io.StringIO(exported.decode())))
    assert len(rows) == 3
