from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from dtbase.client.resource import Resource, as_models
from dtbase.client.unset import UNSET, Unset, given
from dtbase.schemas.common import Msg
from dtbase.schemas.models import (
    DeleteModelMeasureRequest,
    EditModelMeasureRequest,
    EditModelRequest,
    EditModelScenarioRequest,
    InsertModelRunRequest,
    ListModelRunsRequest,
    MeasureValues,
    Model,
    ModelMeasure,
    ModelRun,
    ModelRunRequest,
    ModelRunSensorMeasure,
    ModelRunValues,
    ModelScenario,
    SensorMeasureIdentifier,
)
from dtbase.schemas.values import ValueDatatype


class Models(Resource):
    """The /model endpoints: digital-twin models, their scenarios, measures and runs."""

    # Models

    def insert_model(self, name: str) -> Msg:
        return self._client.post("/model/insert-model", Model(name=name).model_dump(), Msg)

    def list_models(self) -> list[Model]:
        return self._client.get("/model/list-models", list[Model])

    def delete_model(self, name: str) -> Msg:
        return self._client.post("/model/delete-model", Model(name=name).model_dump(), Msg)

    def edit_model(self, name: str, new_name: str) -> Msg:
        body = EditModelRequest(name=name, new_name=new_name)
        return self._client.post("/model/edit-model", body.model_dump(), Msg)

    # Scenarios

    def insert_model_scenario(self, model_name: str, description: str | None) -> Msg:
        body = ModelScenario(model_name=model_name, description=description)
        return self._client.post("/model/insert-model-scenario", body.model_dump(), Msg)

    def list_model_scenarios(self) -> list[ModelScenario]:
        return self._client.get("/model/list-model-scenarios", list[ModelScenario])

    def delete_model_scenario(self, model_name: str, description: str | None) -> Msg:
        body = ModelScenario(model_name=model_name, description=description)
        return self._client.post("/model/delete-model-scenario", body.model_dump(), Msg)

    def edit_model_scenario(
        self, model_name: str, description: str | None, new_description: str | None
    ) -> Msg:
        body = EditModelScenarioRequest(
            model_name=model_name, description=description, new_description=new_description
        )
        return self._client.post("/model/edit-model-scenario", body.model_dump(), Msg)

    # Measures

    def insert_model_measure(self, name: str, units: str, datatype: ValueDatatype) -> Msg:
        body = ModelMeasure(name=name, units=units, datatype=datatype)
        return self._client.post("/model/insert-model-measure", body.model_dump(mode="json"), Msg)

    def list_model_measures(self) -> list[ModelMeasure]:
        return self._client.get("/model/list-model-measures", list[ModelMeasure])

    def delete_model_measure(self, name: str, units: str | None = None) -> Msg:
        """Delete every measure called `name`, or only the one in `units`."""
        body = DeleteModelMeasureRequest(name=name, units=units)
        return self._client.post(
            "/model/delete-model-measure", body.model_dump(exclude_none=True), Msg
        )

    def edit_model_measure(
        self,
        name: str,
        units: str,
        new_name: str | Unset = UNSET,
        new_units: str | Unset = UNSET,
    ) -> Msg:
        """Rename the measure and/or change its units; fields not given stay."""
        body = EditModelMeasureRequest(
            name=name, units=units, **given(new_name=new_name, new_units=new_units)
        )
        return self._client.post(
            "/model/edit-model-measure", body.model_dump(exclude_unset=True), Msg
        )

    # Runs

    def insert_model_run(
        self,
        model_name: str,
        scenario_description: str,
        measures_and_values: Sequence[MeasureValues | Mapping[str, Any]],
        time_created: datetime | None = None,
        create_scenario: bool = False,
        sensor_unique_id: str | None = None,
        sensor_measure: SensorMeasureIdentifier | Mapping[str, Any] | None = None,
    ) -> Msg:
        body = InsertModelRunRequest(
            model_name=model_name,
            scenario_description=scenario_description,
            measures_and_values=as_models(MeasureValues, measures_and_values),
            time_created=time_created,
            create_scenario=create_scenario,
            sensor_unique_id=sensor_unique_id,
            sensor_measure=None
            if sensor_measure is None
            else as_models(SensorMeasureIdentifier, [sensor_measure])[0],
        )
        return self._client.post("/model/insert-model-run", body.model_dump(mode="json"), Msg)

    def list_model_runs(
        self,
        model_name: str,
        dt_from: datetime | None = None,
        dt_to: datetime | None = None,
        scenario: str | None = None,
    ) -> list[ModelRun]:
        body = ListModelRunsRequest(
            model_name=model_name, dt_from=dt_from, dt_to=dt_to, scenario=scenario
        )
        return self._client.post(
            "/model/list-model-runs",
            body.model_dump(mode="json", exclude_none=True),
            list[ModelRun],
        )

    def get_model_run(self, run_id: int) -> ModelRunValues:
        body = ModelRunRequest(run_id=run_id)
        return self._client.post("/model/get-model-run", body.model_dump(), ModelRunValues)

    def get_model_run_sensor_measure(self, run_id: int) -> ModelRunSensorMeasure:
        body = ModelRunRequest(run_id=run_id)
        return self._client.post(
            "/model/get-model-run-sensor-measure", body.model_dump(), ModelRunSensorMeasure
        )

    def delete_model_run(self, run_id: int) -> Msg:
        body = ModelRunRequest(run_id=run_id)
        return self._client.post("/model/delete-model-run", body.model_dump(), Msg)
