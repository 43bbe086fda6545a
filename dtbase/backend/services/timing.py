"""When schedules fire: cron expressions (cronsim) in an IANA time zone, and intervals.

Every function takes and returns aware datetimes; the results are in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from dtbase.backend.errors import Unprocessable

CRON_FIELDS = 5


def zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`, or a 422 naming `time_zone`."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as error:
        # ValueError: paths ("../x", "/etc") or a NUL; OSError: a directory, a long name.
        raise Unprocessable(["time_zone"], f"Unknown time zone: {name!r}", name) from error


def check_cron(expression: str) -> None:
    """A 422 naming `cron` unless `expression` is a five-field cron expression."""
    if len(expression.split()) != CRON_FIELDS:
        raise Unprocessable(
            ["cron"],
            "A cron expression has five fields: minute hour day-of-month month day-of-week",
            expression,
        )
    try:
        CronSim(expression, datetime(2000, 1, 1, tzinfo=UTC))
    except CronSimError as error:
        raise Unprocessable(["cron"], f"Invalid cron expression: {error}", expression) from error


def next_cron(expression: str, time_zone: str, after: datetime) -> datetime | None:
    """The first time strictly after `after` that matches, or None if none in 50 years."""
    local = after.astimezone(zone(time_zone))
    try:
        return next(CronSim(expression, local)).astimezone(UTC)
    except StopIteration:
        return None


def next_interval(anchor: datetime, interval_seconds: int, after: datetime) -> datetime:
    """The first of `anchor + k * interval` (k >= 0) strictly after `after`."""
    if anchor > after:
        return anchor.astimezone(UTC)
    step = timedelta(seconds=interval_seconds)
    periods = (after - anchor) // step + 1
    return (anchor + periods * step).astimezone(UTC)
