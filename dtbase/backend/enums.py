"""PostgreSQL enum types shared by several domains' tables."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Enum

from dtbase.schemas.values import ValueDatatype


def pg_enum(enum: type[StrEnum], name: str) -> Enum:
    return Enum(enum, name=name, values_callable=lambda members: [m.value for m in members])


VALUE_DATATYPE = pg_enum(ValueDatatype, "value_datatype")
