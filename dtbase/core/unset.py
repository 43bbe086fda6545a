"""Leaving a field out versus setting it to null: `UNSET` marks a value nobody gave.

The backend's edits change only the fields a request had (`model_fields_set`), and the
client's edit methods send only the arguments given; in both, None is an explicit null.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Final

from pydantic import BaseModel


class Unset(Enum):
    """The type of `UNSET` (an enum, so that `X | Unset` narrows with `is UNSET`)."""

    token = "unset"


UNSET: Final = Unset.token


def sent(body: BaseModel, field: str) -> Any:
    """The field's value if the request had the key (even as null), otherwise UNSET."""
    return getattr(body, field) if field in body.model_fields_set else UNSET
