"""Digital-twin models (forecasts, simulations), their scenarios, measures and runs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from dtbase.backend.db import Base, Timestamped, cascading
from dtbase.backend.enums import VALUE_DATATYPE
from dtbase.backend.values import TypedValue, one_value_check
from dtbase.schemas.common import NAME_LENGTH
from dtbase.schemas.values import ValueDatatype


class Model(Timestamped, Base):
    __tablename__ = "model"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)


class ModelScenario(Timestamped, Base):
    __tablename__ = "model_scenario"
    __table_args__ = (
        UniqueConstraint("model_id", "description", postgresql_nulls_not_distinct=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(cascading("model.id"))
    description: Mapped[str | None] = mapped_column(Text)


class ModelMeasure(Timestamped, Base):
    __tablename__ = "model_measure"
    __table_args__ = (UniqueConstraint("name", "units"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    units: Mapped[str] = mapped_column(String(NAME_LENGTH))
    datatype: Mapped[ValueDatatype] = mapped_column(VALUE_DATATYPE)


class ModelRun(Base):
    """One run of a model: its outputs are products, one per measure."""

    __tablename__ = "model_run"
    __table_args__ = (
        # A run is its model, scenario and time *and* the sensor measure it forecasts, so
        # one call forecasting several sensors at one time stores every run (nulls equal:
        # two runs of no sensor at one time still clash).
        UniqueConstraint(
            "model_id",
            "scenario_id",
            "time_created",
            "sensor_id",
            "sensor_measure_id",
            name="uq_model_run_identity",
            postgresql_nulls_not_distinct=True,
        ),
        Index(None, "time_created"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("model.id"))
    scenario_id: Mapped[int | None] = mapped_column(ForeignKey("model_scenario.id"))
    sensor_id: Mapped[int | None] = mapped_column(ForeignKey("sensor.id"), index=True)
    sensor_measure_id: Mapped[int | None] = mapped_column(ForeignKey("sensor_measure.id"))
    # The run time: settable through the API, `now()` (UTC) by default.
    time_created: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    time_updated: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), onupdate=func.now()
    )


class ModelProduct(Timestamped, Base):
    """One measure's output of one run."""

    __tablename__ = "model_product"
    __table_args__ = (UniqueConstraint("run_id", "measure_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(cascading("model_run.id"))
    measure_id: Mapped[int] = mapped_column(ForeignKey("model_measure.id"), index=True)


class ModelValue(TypedValue, Base):
    __tablename__ = "model_value"
    __table_args__ = (one_value_check(),)

    product_id: Mapped[int] = mapped_column(cascading("model_product.id"), primary_key=True)
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
