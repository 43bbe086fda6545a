"""The FDB code registry: free-text names of dtbase mapped to the GRIB codes FDB indexes by.

Codes are keyed by names, not by foreign keys to the model and sensor tables: a code stays with the
data archived under it even when the model, scenario or measure is deleted, so it is never
handed out again. Renames are edits of the registry (`/fdb/edit-*-code`).
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dtbase.backend.db import Base, Timestamped, cascading
from dtbase.schemas.common import NAME_LENGTH


class FdbModelCode(Timestamped, Base):
    """A model's `expver`: 4 characters of [a-z0-9], one per model."""

    __tablename__ = "fdb_model_code"
    __table_args__ = (CheckConstraint("expver ~ '^[a-z0-9]{4}$'", name="expver_format"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    expver: Mapped[str] = mapped_column(String(4), unique=True)


class FdbScenarioCode(Timestamped, Base):
    """A scenario's ensemble member number (1-255), unique within its model."""

    __tablename__ = "fdb_scenario_code"
    __table_args__ = (
        UniqueConstraint("model_code_id", "scenario"),
        UniqueConstraint("model_code_id", "member"),
        CheckConstraint("member BETWEEN 1 AND 255", name="member_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    model_code_id: Mapped[int] = mapped_column(cascading("fdb_model_code.id"))
    scenario: Mapped[str] = mapped_column(Text)
    member: Mapped[int]


class FdbMeasureCode(Timestamped, Base):
    """A measure's (name, units) `paramId`, one per measure."""

    __tablename__ = "fdb_measure_code"
    __table_args__ = (
        UniqueConstraint("name", "units"),
        CheckConstraint("param > 0", name="param_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    units: Mapped[str] = mapped_column(String(NAME_LENGTH))
    param: Mapped[int] = mapped_column(unique=True)


class FdbSensorCode(Timestamped, Base):
    """A sensor link's `channel` (1-65534): the sensor a run forecasts and its measure
    (empty strings when the run names none)."""

    __tablename__ = "fdb_sensor_code"
    __table_args__ = (
        UniqueConstraint("sensor", "measure", "units"),
        CheckConstraint("channel BETWEEN 1 AND 65534", name="channel_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sensor: Mapped[str] = mapped_column(Text)
    measure: Mapped[str] = mapped_column(String(NAME_LENGTH))
    units: Mapped[str] = mapped_column(String(NAME_LENGTH))
    channel: Mapped[int] = mapped_column(unique=True)
