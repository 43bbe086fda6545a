"""Numbers as timestamps (issue 15, item 14): Unix seconds, as DTBase documents, up to
2e10; a larger number, which pydantic would read as milliseconds (so that `253402300800`,
meant as seconds, became 1978-01-11), is a 422 naming the field, never a wrong date."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.utils.sensors import add_sensors

MEASURES = [{"name": "t", "units": "K", "datatype": "float"}]


@pytest.fixture
def probe(admin: httpx.Client) -> httpx.Client:
    return add_sensors(admin, "Probe", MEASURES, ["P"])


def _insert(client: httpx.Client, stamps: list[Any]) -> httpx.Response:
    body = {
        "unique_identifier": "P",
        "measure_name": "t",
        "readings": [1.0] * len(stamps),
        "timestamps": stamps,
    }
    return client.post("/sensor/insert-sensor-readings", json=body)


def _stored(client: httpx.Client) -> list[str]:
    body = {
        "unique_identifier": "P",
        "measure_name": "t",
        "dt_from": "1900-01-01",
        "dt_to": "9999-12-31",
    }
    response = client.post("/sensor/sensor-readings", json=body)
    assert response.status_code == 200, response.text
    return [item["timestamp"] for item in response.json()]


@pytest.mark.parametrize(
    "stamp",
    [
        253402300800,  # 10000-01-01 in seconds: once stored as 1978-01-11
        1_700_000_000_000,  # milliseconds
        "1700000000000",  # the same as a string, which pydantic reads alike
        20_000_000_001,
        -20_000_000_001,
        1.7e12,
    ],
)
def test_a_number_that_could_be_milliseconds_is_refused(probe: httpx.Client, stamp: Any) -> None:
    response = _insert(probe, ["2024-01-01T00:00:00Z", stamp])
    assert response.status_code == 422, response.text
    problem = response.json()["detail"][0]
    assert problem["loc"] == ["body", "timestamps", 1]
    assert "Unix seconds" in problem["msg"]
    assert _stored(probe) == []


def test_numbers_are_unix_seconds_as_dtbase_reads_them(probe: httpx.Client) -> None:
    stamps = [1_700_000_000, 1_700_000_000.5, "1700000001", 20_000_000_000, 0, -86400]
    assert _insert(probe, stamps).status_code == 201
    assert _stored(probe) == [
        "1969-12-31T00:00:00Z",
        "1970-01-01T00:00:00Z",
        "2023-11-14T22:13:20Z",
        "2023-11-14T22:13:20.500000Z",
        "2023-11-14T22:13:21Z",
        "2603-10-11T11:33:20Z",
    ]


def test_a_single_timestamp_field_follows_the_same_rule(probe: httpx.Client) -> None:
    body = {
        "unique_identifier": "P",
        "measure_name": "t",
        "dt_from": 253402300800,
        "dt_to": "9999-12-31",
    }
    response = probe.post("/sensor/sensor-readings", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "dt_from"]


def test_the_bulk_insert_names_the_series(probe: httpx.Client) -> None:
    series = {"unique_identifier": "P", "measure_name": "t", "readings": [1.0]}
    body = {
        "series": [
            {**series, "timestamps": ["2024-01-01"]},
            {**series, "timestamps": [253402300800]},
        ]
    }
    response = probe.post("/sensor/insert-readings-bulk", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "series", 1, "timestamps", 0]


def test_a_csv_upload_follows_the_same_rule(probe: httpx.Client) -> None:
    csv = (
        "sensor_unique_identifier,measure_name,measure_units,timestamp,value\n"
        "P,t,K,1700000000,1.5\n"
        "P,t,K,253402300800,2.5\n"
    )
    response = probe.post(
        "/sensor/insert-readings-bulk-csv", content=csv, headers={"content-type": "text/csv"}
    )
    assert response.status_code == 422, response.text
    assert "line 3" in response.json()["detail"][0]["msg"]
    assert _stored(probe) == []
