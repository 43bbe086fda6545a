"""Typed value columns shared by location coordinates, sensor readings and model values.

DTBase keeps one table per datatype (string, integer, float, boolean) for each kind of
value. dtbase keeps one table per kind with one nullable column per datatype, exactly one
of them set (a CHECK constraint says so). The datatype is a property of the measure or
identifier, so a row's column is known before it is read; one table means one write path
(COPY), one index and one query per read, and nulls cost one bit each in PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Double, Text
from sqlalchemy.orm import Mapped, mapped_column

from dtbase.schemas.values import Scalar, ValueDatatype

VALUE_COLUMNS = {
    ValueDatatype.float: "value_float",
    ValueDatatype.integer: "value_integer",
    ValueDatatype.string: "value_string",
    ValueDatatype.boolean: "value_boolean",
}


class TypedValue:
    """Mixin: one value in the column of its datatype."""

    value_float: Mapped[float | None] = mapped_column(Double)
    value_integer: Mapped[int | None] = mapped_column(BigInteger)
    value_string: Mapped[str | None] = mapped_column(Text)
    value_boolean: Mapped[bool | None] = mapped_column(Boolean)

    def value_of(self, datatype: ValueDatatype) -> Scalar | None:
        value: Scalar | None = getattr(self, VALUE_COLUMNS[datatype])
        return value


def one_value_check() -> CheckConstraint:
    return CheckConstraint(
        "num_nonnulls(value_float, value_integer, value_string, value_boolean) = 1",
        name="one_value",
    )


def value_columns(datatype: ValueDatatype, value: Scalar) -> dict[str, Scalar]:
    """Keyword arguments that put `value` in the column of `datatype`."""
    return {VALUE_COLUMNS[datatype]: value}
