from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field

# Every text a request stores is bounded, so that too long a one is a 422 naming the field
# and its limit, never the database's error (a 500): a VARCHAR refuses a longer value, and
# an index refuses an entry over about 2,700 bytes.
#
# The longest name, units or identifier the database holds (its VARCHAR columns are this
# long; the backend's tables take the number from here, the frontend's forms too).
NAME_LENGTH = 100
BoundedName = Annotated[str, Field(max_length=NAME_LENGTH)]
# The longest other text that lands in an index (the names of services, parameter sets,
# schedules and triggers, a scenario's description; TEXT columns since DTBase): at most
# 2,000 bytes of UTF-8 (4 per character at most), under PostgreSQL's index entry limit.
KEY_LENGTH = 500
BoundedKey = Annotated[str, Field(max_length=KEY_LENGTH)]
# Free text (descriptions, notes): no index, but a request is no way to store megabytes.
TEXT_LENGTH = 10_000
BoundedText = Annotated[str, Field(max_length=TEXT_LENGTH)]
# The longest URL a service or a webhook subscription may have.
URL_LENGTH = 2048


class Msg(BaseModel):
    """DTBase's plain answer: `{"detail": "..."}`."""

    detail: str


# A number is a time in Unix seconds (as DTBase documents) up to this, 2603-10-11. Above
# it pydantic reads a number as milliseconds, so `253402300800` (seconds: year 10000, out
# of range) became 1978-01-11, and a date in milliseconds is no safer read as seconds: such
# numbers are refused (422), and a later date is sent as ISO 8601.
LARGEST_UNIX_SECONDS = 2e10
_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")
_AMBIGUOUS = (
    f"a number is a time in Unix seconds, at most {LARGEST_UNIX_SECONDS:.0e}"
    " (2603-10-11): send a later time, or one in milliseconds, as an ISO 8601 string"
)


def _ambiguous(value: object) -> bool:
    """Whether `value` is a number (or a numeric string, which pydantic reads alike) that
    pydantic would read as milliseconds."""
    if isinstance(value, str):
        if value[4:5] == "-" or not _NUMBER.fullmatch(value):  # ISO 8601 dates first
            return False
        value = float(value)
    elif isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return not abs(value) <= LARGEST_UNIX_SECONDS


def _seconds_only(value: object) -> object:
    if _ambiguous(value):
        raise ValueError(_AMBIGUOUS)
    return value


def _as_utc(value: datetime) -> datetime:
    """Naive input is UTC (decision 6); aware input is converted to UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as error:
        raise ValueError("datetime is out of range once converted to UTC") from error


# Every datetime on the wire: ISO 8601 (or Unix seconds, see above) in, UTC with a `Z` out.
UtcDatetime = Annotated[datetime, BeforeValidator(_seconds_only), AfterValidator(_as_utc)]


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
UtcDatetimes = Annotated[
    list[Annotated[datetime, BeforeValidator(_seconds_only)]], AfterValidator(_all_as_utc)
]


def _not_blank(name: str) -> str:
    if not name.strip():
        raise ValueError("must not be empty or only white space")
    return name


# A name that identifies something (a model, a service, a sensor's unique identifier):
# an empty or blank one cannot be told apart in a list, a form or a log. Used where a name
# is given to something new, so that reads of names stored before still work. `NOT_BLANK`
# adds the check to a domain's own name type (`Annotated[Name, NOT_BLANK]`).
NOT_BLANK = AfterValidator(_not_blank)


def utc_now() -> datetime:
    return datetime.now(UTC)
