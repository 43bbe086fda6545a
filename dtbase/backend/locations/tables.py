from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dtbase.backend.db import Base, Timestamped, cascading
from dtbase.backend.enums import VALUE_DATATYPE
from dtbase.backend.values import TypedValue, one_value_check
from dtbase.schemas.common import NAME_LENGTH
from dtbase.schemas.values import ValueDatatype


class LocationIdentifier(Timestamped, Base):
    """A named, typed coordinate such as latitude (float, degrees)."""

    __tablename__ = "location_identifier"
    __table_args__ = (
        # NULL units are equal to each other: (x, NULL) exists once (DTBase allowed twice).
        UniqueConstraint("name", "units", postgresql_nulls_not_distinct=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    units: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    datatype: Mapped[ValueDatatype] = mapped_column(VALUE_DATATYPE)


class LocationSchema(Timestamped, Base):
    """A named set of identifiers that every location of the schema has values for."""

    __tablename__ = "location_schema"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    description: Mapped[str | None] = mapped_column(Text)


class LocationSchemaIdentifier(Timestamped, Base):
    __tablename__ = "location_schema_identifier_relation"
    __table_args__ = (UniqueConstraint("schema_id", "identifier_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schema_id: Mapped[int] = mapped_column(cascading("location_schema.id"))
    identifier_id: Mapped[int] = mapped_column(ForeignKey("location_identifier.id"))


class Location(Timestamped, Base):
    __tablename__ = "location"

    id: Mapped[int] = mapped_column(primary_key=True)
    schema_id: Mapped[int] = mapped_column(ForeignKey("location_schema.id"), index=True)


class LocationValue(TypedValue, Base):
    """One coordinate of a location, in the column of its identifier's datatype."""

    __tablename__ = "location_value"
    __table_args__ = (one_value_check(),)

    location_id: Mapped[int] = mapped_column(cascading("location.id"), primary_key=True)
    identifier_id: Mapped[int] = mapped_column(
        ForeignKey("location_identifier.id"), primary_key=True
    )
