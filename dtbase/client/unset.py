"""Leaving a field out versus setting it to null, in the client's edit methods.

An edit method's optional arguments default to `UNSET`: the field is left out of the
request and keeps its value. `None` is sent as null, which clears the fields the backend
allows to be empty (a description, units, a schedule's cron...).
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Final


class Unset(Enum):
    """The type of `UNSET` (an enum, so that `X | Unset` narrows with `is UNSET`)."""

    token = "unset"


UNSET: Final = Unset.token


def given(**fields: Any) -> dict[str, Any]:
    """The fields that were given, None included."""
    return {name: value for name, value in fields.items() if value is not UNSET}
