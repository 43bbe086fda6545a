"""Leaving a field out versus setting it to null, in the client's edit methods.

An edit method's optional arguments default to `UNSET`: the field is left out of the
request and keeps its value. `None` is sent as null, which clears the fields the backend
allows to be empty (a description, units, a schedule's cron...).
"""

from __future__ import annotations

from typing import Any

from dtbase.core.unset import UNSET as UNSET
from dtbase.core.unset import Unset as Unset


def given(**fields: Any) -> dict[str, Any]:
    """The fields that were given, None included."""
    return {name: value for name, value in fields.items() if value is not UNSET}
