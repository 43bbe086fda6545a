"""Typed values: coordinates, readings and model values are JSON scalars of a declared type.

The JSON token decides the Python type (Pydantic's strict union keeps `3`, `3.0` and `true`
apart), and `check_value` enforces the declared datatype on every element of a list.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, cast

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


class ValueListError(ValueTypeError):
    """The first element of a list that does not fit its datatype, and why."""

    def __init__(self, index: int, value: object, reason: str) -> None:
        super().__init__(reason)
        self.index = index
        self.value = value
        self.reason = reason


def check_values(datatype: ValueDatatype, values: Sequence[Scalar]) -> list[Scalar]:
    """`check_value` on every element, as stored; `ValueListError` names the first that
    does not fit.

    Ingest checks lists of thousands of readings: when every element has the JSON type of
    the datatype (the usual case), one pass in C over the list replaces a Python call per
    element. Anything else takes the per-element path, which finds the first bad element
    and gives exactly `check_value`'s message.
    """
    items = values if isinstance(values, list) else list(values)
    kinds = set(map(type, items))
    if _fits(datatype, kinds, items):
        if datatype == ValueDatatype.float and int in kinds:
            return [float(value) for value in items]
        return items
    checked: list[Scalar] = []
    for index, value in enumerate(items):
        try:
            checked.append(check_value(datatype, value))
        except ValueTypeError as error:
            raise ValueListError(index, value, str(error)) from error
    return checked


def _fits(datatype: ValueDatatype, kinds: set[type], items: list[Scalar]) -> bool:
    """Whether every element fits, by whole-list checks (False may still mean they do)."""
    if not items:
        return True
    match datatype:
        case ValueDatatype.float if kinds <= {float, int}:
            # A sum is finite only if no element is NaN or infinite (a finite sum that
            # overflows only sends the list down the per-element path).
            floats = [value for value in items if type(value) is float] if int in kinds else items
            return _ints_fit(items, kinds) and math.isfinite(sum(cast(list[float], floats)))
        case ValueDatatype.integer if kinds == {int}:
            return _ints_fit(items, kinds)
        case ValueDatatype.string if kinds == {str}:
            return "\x00" not in "".join(cast(list[str], items))
        case ValueDatatype.boolean if kinds == {bool}:
            return True
    return False


def _ints_fit(items: list[Scalar], kinds: set[type]) -> bool:
    if int not in kinds:
        return True
    ints = [value for value in items if type(value) is int] if len(kinds) > 1 else items
    return min(cast(list[int], ints)) in INT64 and max(cast(list[int], ints)) in INT64


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
