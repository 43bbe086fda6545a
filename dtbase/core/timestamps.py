"""Instants on the Unix epoch's grid: time series buckets are aligned on it, so buckets of
one width are the same whatever window is asked for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def floor_to(stamp: datetime, width: timedelta | int) -> datetime:
    """The start of the epoch-aligned bucket of `width` (a timedelta, or seconds) holding
    `stamp`. Raises OverflowError when that is before year 1 or after year 9999."""
    step = width if isinstance(width, timedelta) else timedelta(seconds=width)
    return EPOCH + step * ((stamp - EPOCH) // step)
