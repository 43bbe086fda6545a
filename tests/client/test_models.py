"""client.models against the real backend: every /model endpoint, typed results, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dtbase.client import ApiError, Client
from dtbase.schemas.common import Msg
from dtbase.schemas.models import (
    MeasureValues,
    Model,
    ModelMeasure,
    ModelRun,
    ModelRunSensorMeasure,
    ModelScenario,
    ModelValuePoint,
    SensorMeasureIdentifier,
)
from dtbase.schemas.values import ValueDatatype

T0 = datetime(2030, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
CREATED = datetime(2024, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
TEMPERATURE = SensorMeasureIdentifier(name="temperature", units="K")


def _with_sensor(client: Client) -> None:
    sensor_type = {
        "name": "weather",
        "measures": [{"name": "temperature", "units": "K", "datatype": "float"}],
    }
    client.request("POST", "/sensor/insert-sensor-type", sensor_type)
    client.request(
        "POST", "/sensor/insert-sensor", {"type_name": "weather", "unique_identifier": "S1"}
    )


def test_models(client: Client) -> None:
    assert client.models.insert_model("A") == Msg(detail="Model inserted")
    client.models.insert_model("B")
    assert client.models.edit_model("B", "C") == Msg(detail="Model edited")

    assert client.models.list_models() == [Model(name="A"), Model(name="C")]
    assert client.models.delete_model("A") == Msg(detail="Model deleted")
    assert client.models.list_models() == [Model(name="C")]


def test_scenarios(client: Client) -> None:
    client.models.insert_model("A")

    assert client.models.insert_model_scenario("A", "BAU") == Msg(detail="Model scenario inserted")
    client.models.insert_model_scenario("A", None)
    edited = client.models.edit_model_scenario("A", None, "Hot")
    assert edited == Msg(detail="Model scenario edited")
    assert client.models.list_model_scenarios() == [
        ModelScenario(model_name="A", description="BAU"),
        ModelScenario(model_name="A", description="Hot"),
    ]
    deleted = client.models.delete_model_scenario("A", "BAU")
    assert deleted == Msg(detail="Model scenario deleted")
    assert client.models.list_model_scenarios() == [
        ModelScenario(model_name="A", description="Hot")
    ]


def test_measures(client: Client) -> None:
    inserted = client.models.insert_model_measure("temp", "K", ValueDatatype.float)
    assert inserted == Msg(detail="Model measure inserted")
    client.models.insert_model_measure("temp", "C", ValueDatatype.float)
    client.models.insert_model_measure("rain", "mm", ValueDatatype.integer)

    assert client.models.edit_model_measure("rain", "mm", new_units="cm") == Msg(
        detail="Model measure edited"
    )
    assert client.models.delete_model_measure("temp", units="C") == Msg(
        detail="Model measure deleted"
    )
    assert client.models.list_model_measures() == [
        ModelMeasure(name="temp", units="K", datatype=ValueDatatype.float),
        ModelMeasure(name="rain", units="cm", datatype=ValueDatatype.integer),
    ]
    client.models.delete_model_measure("temp")
    assert [m.name for m in client.models.list_model_measures()] == ["rain"]


def test_runs(client: Client) -> None:
    _with_sensor(client)
    client.models.insert_model("A")
    client.models.insert_model_measure("temp", "K", ValueDatatype.float)
    client.models.insert_model_measure("rain?", "", ValueDatatype.boolean)
    outputs = [
        MeasureValues(measure_name="temp", values=[1.5, 2], timestamps=[T1, T0]),
        MeasureValues(measure_name="rain?", units="", values=[True], timestamps=[T0]),
    ]

    inserted = client.models.insert_model_run(
        "A",
        "BAU",
        outputs,
        time_created=CREATED,
        create_scenario=True,
        sensor_unique_id="S1",
        sensor_measure=TEMPERATURE,
    )
    client.models.insert_model_run("A", "BAU", [])  # Now, without a sensor.

    assert inserted == Msg(detail="Model run inserted")
    runs = client.models.list_model_runs("A", dt_from=datetime(2000, 1, 1, tzinfo=UTC))
    assert runs[0] == ModelRun(
        id=1,
        model_id=1,
        model_name="A",
        scenario_id=1,
        scenario_description="BAU",
        time_created=CREATED,
        sensor_unique_id="S1",
        sensor_measure=TEMPERATURE,
    )
    assert [run.id for run in client.models.list_model_runs("A")] == [2]
    assert client.models.list_model_runs("A", scenario="Hot") == []
    assert client.models.get_model_run(1) == {
        "temp": [
            ModelValuePoint(value=2.0, timestamp=T0),
            ModelValuePoint(value=1.5, timestamp=T1),
        ],
        "rain?": [ModelValuePoint(value=True, timestamp=T0)],
    }
    assert client.models.get_model_run(3) == {}
    assert client.models.get_model_run_sensor_measure(1) == ModelRunSensorMeasure(
        sensor_unique_id="S1", sensor_measure=TEMPERATURE
    )
    assert client.models.get_model_run_sensor_measure(2) == ModelRunSensorMeasure(
        sensor_unique_id=None, sensor_measure=None
    )
    assert client.models.delete_model_run(1) == Msg(detail="Model run deleted")
    assert client.models.get_model_run(1) == {}


def test_errors_carry_status_and_detail(client: Client) -> None:
    client.models.insert_model("A")
    client.models.insert_model_measure("count", "1", ValueDatatype.integer)

    with pytest.raises(ApiError) as duplicate:
        client.models.insert_model_measure("count", "1", ValueDatatype.integer)
    with pytest.raises(ApiError) as no_run:
        client.models.get_model_run_sensor_measure(7)
    with pytest.raises(ApiError) as no_scenario:
        client.models.insert_model_run("A", "BAU", [])
    with pytest.raises(ApiError) as wrong_type:
        client.models.insert_model_run(
            "A",
            "BAU",
            [MeasureValues(measure_name="count", values=[1, 2.5], timestamps=[T0, T1])],
            create_scenario=True,
        )

    assert (duplicate.value.status_code, duplicate.value.detail) == (
        409,
        "Model measure exists already",
    )
    assert (no_run.value.status_code, no_run.value.detail) == (400, "No such model run")
    assert no_scenario.value.status_code == 400
    assert wrong_type.value.status_code == 422
    assert wrong_type.value.detail[0]["loc"] == ["body", "measures_and_values", 0, "values", 1]
    assert client.models.list_model_scenarios() == []
