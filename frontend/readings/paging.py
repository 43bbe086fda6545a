"""One page of a range's readings without fetching the whole range.

The backend has no offset for readings, but it counts them per time bucket cheaply (a
downsampled read with `aggregate: count`, served from its rollups). The counts say which
buckets hold the page; only their readings are fetched and the page cut from them. A
page of a million-reading range so costs one count and a read of about
`size + range / COUNT_BUCKETS` readings, not a million.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dtbase.client import Client

COUNT_BUCKETS = 1000
# Reads include both ends: a bucket ends just before the next one starts.
JUST_BEFORE = timedelta(microseconds=1)


@dataclass(frozen=True)
class ReadingsPage:
    readings: list[dict[str, Any]]
    total: int


def read_page(
    client: Client, body: dict[str, Any], dt_from: datetime, dt_to: datetime, offset: int, size: int
) -> ReadingsPage:
    """Readings `offset` to `offset + size` (oldest first) of the sensor-readings request
    `body` over [dt_from, dt_to], and how many the range holds."""
    window = body | {"dt_from": dt_from.isoformat(), "dt_to": dt_to.isoformat()}
    buckets: list[dict[str, Any]] = client.request(
        "POST",
        "/sensor/sensor-readings",
        window | {"max_points": COUNT_BUCKETS, "aggregate": "count"},
    )
    if any("count" not in bucket for bucket in buckets):
        # A backend that does not downsample answered with the readings themselves.
        return ReadingsPage(buckets[offset : offset + size], len(buckets))
    counts = [int(bucket["count"]) for bucket in buckets]
    total = sum(counts)
    if offset >= total or size <= 0:
        return ReadingsPage([], total)
    first, before = 0, 0
    while before + counts[first] <= offset:
        before += counts[first]
        first += 1
    last, held = first, counts[first]
    while held < offset - before + size and last + 1 < len(counts):
        last += 1
        held += counts[last]
    start = max(datetime.fromisoformat(buckets[first]["timestamp"]), dt_from)
    if last + 1 < len(buckets):
        end = datetime.fromisoformat(buckets[last + 1]["timestamp"]) - JUST_BEFORE
    else:
        end = dt_to
    readings: list[dict[str, Any]] = client.request(
        "POST",
        "/sensor/sensor-readings",
        body | {"dt_from": start.isoformat(), "dt_to": end.isoformat()},
    )
    skip = offset - before
    return ReadingsPage(readings[skip : skip + size], total)
