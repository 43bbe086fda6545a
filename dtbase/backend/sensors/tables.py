from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from dtbase.backend.db import Base, Timestamped, cascading
from dtbase.backend.enums import VALUE_DATATYPE
from dtbase.backend.values import TypedValue, one_value_check
from dtbase.schemas.common import NAME_LENGTH
from dtbase.schemas.values import ValueDatatype


class SensorMeasure(Timestamped, Base):
    """What a sensor measures: name, units and datatype, e.g. temperature in K (float)."""

    __tablename__ = "sensor_measure"
    __table_args__ = (UniqueConstraint("name", "units", postgresql_nulls_not_distinct=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    units: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    datatype: Mapped[ValueDatatype] = mapped_column(VALUE_DATATYPE)


class SensorType(Timestamped, Base):
    __tablename__ = "sensor_type"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
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
    unique_identifier: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    name: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
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


class SensorReadingRollup(Base):
    """Aggregates of one sensor's measure over an epoch-aligned bucket of `width_seconds`
    (see `sensors.rollups`). Derived data: rebuilt from `sensor_reading` whenever a
    `SensorReadingDirty` range says it may be out of date. First and last hold timestamps
    only: their values are one key lookup away in `sensor_reading`."""

    __tablename__ = "sensor_reading_rollup"

    sensor_id: Mapped[int] = mapped_column(cascading("sensor.id"), primary_key=True)
    measure_id: Mapped[int] = mapped_column(cascading("sensor_measure.id"), primary_key=True)
    width_seconds: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)
    # Numeric measures only, in the type of their datatype (sums of integers are exact;
    # sums of floats are scaled by 2**-64 so that they cannot overflow: `rollups`).
    sum_float: Mapped[float | None] = mapped_column(Double)
    min_float: Mapped[float | None] = mapped_column(Double)
    max_float: Mapped[float | None] = mapped_column(Double)
    sum_integer: Mapped[Decimal | None] = mapped_column(Numeric)
    min_integer: Mapped[int | None] = mapped_column(BigInteger)
    max_integer: Mapped[int | None] = mapped_column(BigInteger)
    first_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SensorReadingDirty(Base):
    """A range of readings [lo, hi] (within one day) written since the rollups over it were
    computed. Statement-level triggers on `sensor_reading` add these (migration 0008)."""

    __tablename__ = "sensor_reading_dirty"
    __table_args__ = (Index(None, "sensor_id", "measure_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    sensor_id: Mapped[int] = mapped_column(cascading("sensor.id"))
    measure_id: Mapped[int] = mapped_column(cascading("sensor_measure.id"))
    lo: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    hi: Mapped[datetime] = mapped_column(DateTime(timezone=True))
