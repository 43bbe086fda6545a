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


def utc_now() -> datetime:
    return datetime.now(UTC)
