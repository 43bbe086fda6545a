"""Pages of readings cut from per-bucket counts: every page is exactly the slice of the
whole range it stands for, whatever the spread of the readings over time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dtbase.client import Client
from dtbase.schemas.sensors import SensorMeasure
from dtbase.schemas.values import ValueDatatype
from frontend.readings import paging
from frontend.readings.paging import read_page

START = datetime(2024, 3, 1, tzinfo=UTC)
BODY = {"measure_name": "visits", "measure_units": None, "unique_identifier": "s-1"}


def _times() -> list[datetime]:
    """Bursts (many readings within a second, some on whole minutes and hours), quiet
    spells and a gap of a day: buckets hold very different counts."""
    times = [START + timedelta(minutes=n) for n in range(0, 600, 7)]  # on whole minutes
    times += [START + timedelta(hours=11, microseconds=n) for n in range(300)]  # one burst
    times += [START + timedelta(hours=12, seconds=n) for n in range(500)]
    times += [START + timedelta(days=1, hours=14, seconds=3 * n) for n in range(400)]
    times += [START + timedelta(days=1, hours=23, minutes=59, seconds=59)]
    return sorted(times)


@pytest.fixture
def readings(client: Client) -> None:
    client.sensors.insert_sensor_type(
        "counter", [SensorMeasure(name="visits", units=None, datatype=ValueDatatype.integer)]
    )
    client.sensors.insert_sensor("counter", "s-1")
    times = _times()
    client.sensors.insert_sensor_readings("visits", "s-1", list(range(len(times))), times)


def _all(client: Client, dt_from: datetime, dt_to: datetime) -> list[dict[str, Any]]:
    body = BODY | {"dt_from": dt_from.isoformat(), "dt_to": dt_to.isoformat()}
    found: list[dict[str, Any]] = client.request("POST", "/sensor/sensor-readings", body)
    return found


@pytest.mark.parametrize("buckets", [1000, 7, 2])
@pytest.mark.parametrize(
    ("dt_from", "dt_to"),
    [
        (START, START + timedelta(days=2)),
        # Not on any bucket's edge; the last reading of the range is at its very end.
        (
            START + timedelta(hours=1, seconds=17),
            START + timedelta(days=1, hours=23, minutes=59, seconds=59),
        ),
    ],
)
def test_every_page_is_the_slice_of_the_whole_range(
    client: Client,
    readings: None,
    monkeypatch: pytest.MonkeyPatch,
    buckets: int,
    dt_from: datetime,
    dt_to: datetime,
) -> None:
    monkeypatch.setattr(paging, "COUNT_BUCKETS", buckets)
    whole = _all(client, dt_from, dt_to)
    assert len(whole) > 1000

    for size in (97, 333):
        pages = [
            read_page(client, BODY, dt_from, dt_to, offset, size)
            for offset in range(0, len(whole) + size, size)
        ]
        assert {page.total for page in pages} == {len(whole)}
        assert [r for page in pages for r in page.readings] == whole
        assert pages[-1].readings == []


def test_offsets_on_and_around_bucket_edges(client: Client, readings: None) -> None:
    dt_from, dt_to = START, START + timedelta(days=2)
    whole = _all(client, dt_from, dt_to)

    for offset in (0, 85, 86, 87, 385, 386, 886, len(whole) - 1):
        page = read_page(client, BODY, dt_from, dt_to, offset, 10)
        assert page.readings == whole[offset : offset + 10], offset


def test_empty_range_has_no_pages(client: Client, readings: None) -> None:
    page = read_page(client, BODY, START - timedelta(days=9), START - timedelta(days=8), 0, 100)

    assert (page.readings, page.total) == ([], 0)
