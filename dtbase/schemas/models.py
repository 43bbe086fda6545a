"""Wire models of the /model endpoints: digital-twin models, scenarios, measures and runs.

Field names and nullability follow DTBase exactly (API.md 2.4); "req-null" fields are
`X | None` without a default. Additive fields and endpoints are marked as such.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, Field, model_validator

from dtbase.schemas.common import KEY_LENGTH, NAME_LENGTH, NOT_BLANK, UtcDatetime, UtcDatetimes
from dtbase.schemas.values import ValueDatatype, ValueType


def _no_nul(text: str) -> str:
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    return text


# Request strings: PostgreSQL text cannot hold NUL; names and units are VARCHAR(NAME_LENGTH).
Text = Annotated[str, AfterValidator(_no_nul)]
Name = Annotated[str, Field(max_length=NAME_LENGTH), AfterValidator(_no_nul)]
# A scenario's description is its name, in an index with its model's.
Description = Annotated[str, Field(max_length=KEY_LENGTH), AfterValidator(_no_nul)]


class Model(BaseModel):
    """A model by name: the body of insert-model and delete-model, an item of list-models."""

    name: Name


class NewModel(Model):
    """The body of insert-model: a Model whose name is not blank."""

    name: Annotated[Name, NOT_BLANK]


class EditModelRequest(BaseModel):
    """Additive: rename a model."""

    name: Name
    new_name: Annotated[Name, NOT_BLANK]


class ModelScenario(BaseModel):
    """A scenario of a model; `description` is required but may be null."""

    model_name: Text
    description: Text | None


class ScenarioRequest(ModelScenario):
    """Names a scenario (insert-model-scenario, delete-model-scenario): a ModelScenario
    whose texts are bounded (a scenario listed may have been stored before the bound)."""

    model_name: Name
    description: Description | None


class EditModelScenarioRequest(BaseModel):
    """Additive: change a scenario's description (either may be null)."""

    model_name: Name
    description: Description | None
    new_description: Description | None


class ModelMeasure(BaseModel):
    """What a model outputs: name, units (never null) and datatype."""

    name: Name
    units: Name
    datatype: ValueDatatype


class DeleteModelMeasureRequest(BaseModel):
    name: Name
    units: Name | None = Field(
        default=None,
        description="Additive: delete only the measure with these units "
        "(without it every measure with that name is deleted, as in DTBase).",
    )


class EditModelMeasureRequest(BaseModel):
    """Additive: rename a measure or change its units; its datatype stays."""

    name: Name
    units: Name
    new_name: Name | None = None
    new_units: Name | None = None


class SensorMeasureIdentifier(BaseModel):
    """A sensor measure by name and units (`units` is required but may be null)."""

    name: Name
    units: Name | None


class MeasureValues(BaseModel):
    """One output of a run: a model measure's values at the given timestamps."""

    measure_name: Name
    values: list[ValueType] = Field(min_length=1)
    timestamps: UtcDatetimes
    units: Name | None = Field(
        default=None,
        description="Additive: picks the model measure when several share `measure_name`.",
    )

    @model_validator(mode="after")
    def _same_lengths(self) -> Self:
        if len(self.values) != len(self.timestamps):
            raise ValueError(
                f"values and timestamps have different lengths "
                f"({len(self.values)} and {len(self.timestamps)})"
            )
        return self


class InsertModelRunRequest(BaseModel):
    model_name: Name
    scenario_description: Description
    measures_and_values: list[MeasureValues]
    time_created: UtcDatetime | None = Field(
        default=None, description="The run time; now (UTC) when omitted."
    )
    create_scenario: bool = False
    sensor_unique_id: Name | None = None
    sensor_measure: SensorMeasureIdentifier | None = None


class ListModelRunsRequest(BaseModel):
    model_name: Text
    dt_from: UtcDatetime | None = Field(
        default=None, description="Earliest run time (inclusive); now - 7 days when omitted."
    )
    dt_to: UtcDatetime | None = Field(
        default=None, description="Latest run time (inclusive); now when omitted."
    )
    scenario: Text | None = Field(default=None, description="Only runs of this scenario.")


class ModelRun(BaseModel):
    """An item of list-model-runs."""

    id: int
    model_id: int
    model_name: str
    scenario_id: int | None
    scenario_description: str | None
    time_created: UtcDatetime
    sensor_unique_id: str | None
    sensor_measure: SensorMeasureIdentifier | None


class ModelRunRequest(BaseModel):
    """A run by id: get-model-run, get-model-run-sensor-measure and delete-model-run."""

    run_id: int


class ModelValuePoint(BaseModel):
    value: ValueType
    timestamp: UtcDatetime


class ModelRunSensorMeasure(BaseModel):
    sensor_unique_id: str | None
    sensor_measure: SensorMeasureIdentifier | None


# get-model-run: each measure's points in timestamp order, keyed by measure name.
ModelRunValues = dict[str, list[ModelValuePoint]]
