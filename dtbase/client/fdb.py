"""The /fdb endpoints: the registry of GRIB codes that the FDB bridge exports under."""

from __future__ import annotations

from collections.abc import Iterable

from dtbase.client.resource import Resource
from dtbase.client.unset import UNSET, Unset, given
from dtbase.schemas.common import Msg
from dtbase.schemas.fdb import (
    AssignCodesRequest,
    EditMeasureCodeRequest,
    EditModelCodeRequest,
    EditScenarioCodeRequest,
    FdbCodes,
    MeasureName,
    RunCodes,
    SensorLinkName,
)


class Fdb(Resource):
    """The FDB code registry: list it, get a run's codes assigned, edit codes (admins)."""

    def list_codes(self) -> FdbCodes:
        return self._client.get("/fdb/list-codes", FdbCodes)

    def assign_codes(
        self,
        model: str,
        scenario: str | None,
        measures: Iterable[tuple[str, str]],
        sensor: tuple[str, str, str] | None = None,
    ) -> RunCodes:
        """The run's codes, assigning those it lacks; measures are (name, units) pairs, the
        sensor link (sensor, measure name, units), with empty names where none."""
        body = AssignCodesRequest(
            model=model,
            scenario=scenario,
            measures=[MeasureName(name=name, units=units) for name, units in measures],
            sensor=(
                None
                if sensor is None
                else SensorLinkName(sensor=sensor[0], measure=sensor[1], units=sensor[2])
            ),
        )
        return self._client.post("/fdb/assign-codes", body.model_dump(exclude_none=True), RunCodes)

    def edit_model_code(
        self, model: str, new_model: str | Unset = UNSET, expver: str | Unset = UNSET
    ) -> Msg:
        """Rename the model and/or change its expver; fields not given stay."""
        body = EditModelCodeRequest(model=model, **given(new_model=new_model, expver=expver))
        return self._client.post("/fdb/edit-model-code", body.model_dump(exclude_unset=True), Msg)

    def edit_scenario_code(
        self,
        model: str,
        scenario: str,
        new_scenario: str | Unset = UNSET,
        member: int | Unset = UNSET,
    ) -> Msg:
        """Rename the scenario and/or change its member number; fields not given stay."""
        body = EditScenarioCodeRequest(
            model=model, scenario=scenario, **given(new_scenario=new_scenario, member=member)
        )
        dumped = body.model_dump(exclude_unset=True)
        return self._client.post("/fdb/edit-scenario-code", dumped, Msg)

    def edit_measure_code(
        self,
        name: str,
        units: str,
        new_name: str | Unset = UNSET,
        new_units: str | Unset = UNSET,
        param: int | Unset = UNSET,
    ) -> Msg:
        """Rename the measure, change its units and/or its paramId; fields not given stay."""
        body = EditMeasureCodeRequest(
            name=name, units=units, **given(new_name=new_name, new_units=new_units, param=param)
        )
        dumped = body.model_dump(exclude_unset=True)
        return self._client.post("/fdb/edit-measure-code", dumped, Msg)
