from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel


class Msg(BaseModel):
    """DTBase's plain answer: `{"detail": "..."}`."""

    detail: str


def _as_utc(value: datetime) -> datetime:
    """Naive input is UTC (decision 6); aware input is converted to UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as error:
        raise ValueError("datetime is out of range once converted to UTC") from error


# Every datetime on the wire: ISO 8601 (or Unix seconds) in, UTC with a `Z` out.
UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


def _all_as_utc(values: list[datetime]) -> list[datetime]:
    """`_as_utc` over a list, inline: ingest brings thousands of timestamps, and a
    validator call per element cost as much as parsing them. (Converting even those
    already at offset zero is on purpose: psycopg writes `datetime.UTC` ones three
    times faster than pydantic's own UTC.)"""
    try:
        return [
            value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
            for value in values
        ]
    except OverflowError:
        for index, value in enumerate(values):
            try:
                _as_utc(value)
            except ValueError as error:
                raise ValueError(f"item {index}: {error}") from error
        raise


# A list of UtcDatetime, checked a list at a time.
UtcDatetimes = Annotated[list[datetime], AfterValidator(_all_as_utc)]


def utc_now() -> datetime:
    return datetime.now(UTC)
