from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dtbase.backend.db import Base, Timestamped, cascading
from dtbase.backend.enums import VALUE_DATATYPE
from dtbase.backend.values import TypedValue, one_value_check
from dtbase.schemas.values import ValueDatatype


class SensorMeasure(Timestamped, Base):
    """What a sensor measures: name, units and datatype, e.g. temperature in K (float)."""

    __tablename__ = "sensor_measure"
    __table_args__ = (UniqueConstraint("name", "units", postgresql_nulls_not_distinct=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    units: Mapped[str | None] = mapped_column(String(100))
    datatype: Mapped[ValueDatatype] = mapped_column(VALUE_DATATYPE)


class SensorType(Timestamped, Base):
    __tablename__ = "sensor_type"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(Text)


class SensorTypeMeasure(Timestamped, Base):
    __tablename__ = "sensor_type_measure_relation"
    __table_args__ = (UniqueConstraint("type_id", "measure_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    type_id: Mapped[int] = mapped_column(cascading("sensor_type.id"))
    measure_id: Mapped[int] = mapped_column(ForeignKey("sensor_measure.id"))


class Sensor(Timestamped, Base):
    __tablename__ = "sensor"

    id: Mapped[int] = mapped_column(primary_key=True)
    type_id: Mapped[int] = mapped_column(ForeignKey("sensor_type.id"), index=True)
    unique_identifier: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str | None] = mapped_column(String(100))
    notes: Mapped[str | None] = mapped_column(Text)


class SensorReading(TypedValue, Base):
    """One reading. The primary key (sensor, measure, timestamp) is also the read index:
    a range read of one sensor's measure is one index range scan in timestamp order.
    Leading with sensor_id keeps the table distributable by sensor (Citus)."""

    __tablename__ = "sensor_reading"
    __table_args__ = (one_value_check(),)

    sensor_id: Mapped[int] = mapped_column(cascading("sensor.id"), primary_key=True)
    measure_id: Mapped[int] = mapped_column(ForeignKey("sensor_measure.id"), primary_key=True)
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)


class SensorLocation(Timestamped, Base):
    """Where a sensor was installed, from when: its location history."""

    __tablename__ = "sensor_location"
    __table_args__ = (
        UniqueConstraint("sensor_id", "installation_datetime"),
        Index(None, "location_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sensor_id: Mapped[int] = mapped_column(cascading("sensor.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))
    installation_datetime: Mapped[datetime] = mapped_column(DateTime(timezone=True))
