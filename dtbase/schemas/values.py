"""Typed values: coordinates, readings and model values are JSON scalars of a declared type.

The JSON token decides the Python type (Pydantic's strict union keeps `3`, `3.0` and `true`
apart), and `check_value` enforces the declared datatype on every element of a list.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StrictBool, StrictFloat, StrictInt, StrictStr


class ValueDatatype(StrEnum):
    string = "string"
    float = "float"
    integer = "integer"
    boolean = "boolean"


# Order matters for output: bool before int, as `True` is also an int in Python.
ValueType = Annotated[
    StrictBool | StrictInt | StrictFloat | StrictStr,
    Field(union_mode="smart", description="A JSON string, number or boolean."),
]

Scalar = bool | int | float | str


class ValueTypeError(ValueError):
    """A value whose JSON type does not match the declared datatype."""


# PostgreSQL's bigint, the integer column's type.
INT64 = range(-(2**63), 2**63)


def check_value(datatype: ValueDatatype, value: Scalar) -> Scalar:
    """The value as stored for `datatype`; `3` is a fine float, `true` is never a number.

    NaN and infinities (which Python's JSON reader accepts), integers beyond 64 bits and
    NUL characters are refused: they could not be stored, or not be written back as JSON.
    """
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueTypeError("floats must be finite")
    if isinstance(value, int) and not isinstance(value, bool) and value not in INT64:
        raise ValueTypeError("integers must fit in 64 bits")
    if isinstance(value, str) and "\x00" in value:
        raise ValueTypeError("strings cannot contain NUL characters")
    match datatype:
        case ValueDatatype.boolean if isinstance(value, bool):
            return value
        case ValueDatatype.integer if isinstance(value, int) and not isinstance(value, bool):
            return value
        case ValueDatatype.float if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        case ValueDatatype.string if isinstance(value, str):
            return value
    article = "an" if datatype == ValueDatatype.integer else "a"
    raise ValueTypeError(f"expected {article} {datatype} value, got {_json_type(value)} {value!r}")


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return type(value).__name__
