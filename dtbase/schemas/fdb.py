"""Wire models of the /fdb endpoints: the registry of GRIB codes for the FDB bridge.

A model has an `expver` (4 characters of [a-z0-9]), a scenario of a model a member number
(1-255), a measure (name, units) a `paramId`, a sensor link (sensor, and its measure's
name and units, empty when not named) a `channel` (1-65534). All additive to DTBase's API.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, Field, model_validator

from dtbase.schemas.models import Description, Name

NonEmptyName = Annotated[Name, Field(min_length=1)]
# A scenario, as its model's scenarios are named (`Description`).
Scenario = Annotated[Description, Field(min_length=1)]
Expver = Annotated[str, Field(max_length=4, pattern=r"^[a-z0-9]{4}$", description="4 of [a-z0-9]")]
Member = Annotated[int, Field(ge=1, le=255, description="ensemble member number")]
ParamId = Annotated[int, Field(ge=1, le=2**31 - 1, description="GRIB paramId")]


class ModelCode(BaseModel):
    model: str
    expver: str


class ScenarioCode(BaseModel):
    model: str
    scenario: str
    member: int


class MeasureCode(BaseModel):
    name: str
    units: str
    param: int


class SensorCode(BaseModel):
    sensor: str
    measure: str
    units: str
    channel: int


class FdbCodes(BaseModel):
    """The whole registry (one row per model, scenario, measure and sensor link), each
    list by name."""

    models: list[ModelCode]
    scenarios: list[ScenarioCode]
    measures: list[MeasureCode]
    sensors: list[SensorCode] = Field(default_factory=list)


class MeasureName(BaseModel):
    name: NonEmptyName
    units: Name


class SensorLinkName(BaseModel):
    """The sensor a run forecasts (unique identifier) and, if named, its measure."""

    sensor: NonEmptyName
    measure: Name = ""
    units: Name = ""


class AssignCodesRequest(BaseModel):
    """The codes of a run: those missing are assigned (atomically), the others kept."""

    model: NonEmptyName
    scenario: Scenario | None = None
    measures: list[MeasureName] = Field(default_factory=list)
    sensor: SensorLinkName | None = None


class RunCodes(BaseModel):
    """The codes of a run: its model's expver, its scenario's member (or null), params,
    and its sensor link's channel (0: the run names no sensor)."""

    model: str
    scenario: str | None
    expver: str
    member: int | None
    measures: list[MeasureCode]
    channel: int = 0


class EditModelCodeRequest(BaseModel):
    """Rename the model a code belongs to and/or change its expver."""

    model: Name
    new_model: NonEmptyName | None = None
    expver: Expver | None = None

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.new_model is None and self.expver is None:
            raise ValueError("give new_model and/or expver")
        return self


class EditScenarioCodeRequest(BaseModel):
    """Rename the scenario a member belongs to and/or change its member number."""

    model: Name
    scenario: Description
    new_scenario: Scenario | None = None
    member: Member | None = None

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.new_scenario is None and self.member is None:
            raise ValueError("give new_scenario and/or member")
        return self


class EditMeasureCodeRequest(BaseModel):
    """Rename a measure of the registry, change its units and/or its paramId."""

    name: Name
    units: Name
    new_name: NonEmptyName | None = None
    new_units: Name | None = None
    param: ParamId | None = None

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.new_name is None and self.new_units is None and self.param is None:
            raise ValueError("give new_name, new_units and/or param")
        return self
