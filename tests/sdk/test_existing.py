"""A 409 is "already there" only when the stored object is the one sent (real backend)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dtbase.client import Client
from dtbase.schemas.values import ValueDatatype
from dtbase.sdk import BaseModel, Outcome, ServiceRunError
from tests.sdk.test_base import ExampleIngress

RUN_TIME = datetime(2024, 1, 2, 6, tzinfo=UTC)
FIRST = datetime(2024, 1, 2, 7, tzinfo=UTC)
HOUR = timedelta(hours=1)


def a_run(sensor: str, values: list[float], **changes: Any) -> dict[str, Any]:
    return {
        "model_name": "Forecaster",
        "scenario_description": "Business as usual",
        "create_scenario": True,
        "time_created": RUN_TIME.isoformat(),
        "sensor_unique_id": sensor,
        "sensor_measure": {"name": "temperature", "units": "degrees Celsius"},
        "measures_and_values": [
            {
                "measure_name": "Mean temperature",
                "units": "degrees Celsius",
                "values": values,
                "timestamps": [
                    (FIRST + timedelta(hours=i)).isoformat() for i in range(len(values))
                ],
            }
        ],
        **changes,
    }


class Forecaster(BaseModel):
    """Writes the runs it is given, the way a model service does."""

    def get_service_data(self, runs: list[dict[str, Any]]) -> list[tuple[str, Any]]:
        measure = {"name": "Mean temperature", "units": "degrees Celsius", "datatype": "float"}
        calls: list[tuple[str, Any]] = [
            ("/model/insert-model", {"name": "Forecaster"}),
            ("/model/insert-model-measure", measure),
        ]
        return calls + [("/model/insert-model-run", run) for run in runs]


@pytest.fixture
def sensors(backend_env: str, client: Client) -> Client:
    ExampleIngress()(sensor="S1")
    ExampleIngress()(sensor="S2")
    return client


def _run_outcomes(summary: Any) -> list[Outcome]:
    return [r.outcome for r in summary.results if r.endpoint == "/model/insert-model-run"]


def test_one_call_forecasting_two_sensors_stores_both_runs(sensors: Client) -> None:
    summary = Forecaster()(runs=[a_run("S1", [1.0, 2.0]), a_run("S2", [5.0, 6.0])])

    assert summary.ok
    assert _run_outcomes(summary) == [Outcome.ok, Outcome.ok]
    runs = sensors.models.list_model_runs("Forecaster", RUN_TIME, RUN_TIME)
    assert [run.sensor_unique_id for run in runs] == ["S1", "S2"]
    means = [sensors.models.get_model_run(run.id)["Mean temperature"] for run in runs]
    assert [[p.value for p in points] for points in means] == [[1.0, 2.0], [5.0, 6.0]]


def test_the_same_run_again_is_already_there(sensors: Client) -> None:
    runs = [a_run("S1", [1.0, 2.0]), a_run("S2", [5.0, 6.0])]
    Forecaster()(runs=runs)

    summary = Forecaster()(runs=runs)

    assert summary.ok, summary.describe()
    assert [r.outcome for r in summary.results] == [Outcome.exists] * 4
    assert summary.to_dict()["already_there"] == 4


def test_another_run_under_the_same_key_is_a_failure_not_already_there(sensors: Client) -> None:
    Forecaster()(runs=[a_run("S1", [1.0, 2.0])])

    with pytest.raises(ServiceRunError) as raised:
        Forecaster()(runs=[a_run("S1", [1.0, 2.5]), a_run("S2", [5.0, 6.0])])

    summary = raised.value.summary
    assert summary.to_dict()["ok"] is False
    assert _run_outcomes(summary) == [Outcome.failed, Outcome.ok]
    [failure] = summary.failures
    assert failure.status_code == 409
    assert "run 1 (sensor 'S1'" in failure.detail
    assert "other values of 'Mean temperature'" in failure.detail
    # The stored run kept its values; the other sensor's run was written.
    assert [p.value for p in sensors.models.get_model_run(1)["Mean temperature"]] == [1.0, 2.0]
    assert len(sensors.models.list_model_runs("Forecaster", RUN_TIME, RUN_TIME)) == 2


def test_a_run_with_other_outputs_under_the_same_key_fails(sensors: Client) -> None:
    Forecaster()(runs=[a_run("S1", [1.0, 2.0])])

    with pytest.raises(ServiceRunError) as raised:
        Forecaster()(runs=[a_run("S1", [1.0, 2.0, 3.0])])

    [failure] = raised.value.summary.failures
    assert "other values" in failure.detail


def test_a_measure_of_another_datatype_is_a_failure(sensors: Client) -> None:
    sensors.models.insert_model_measure(
        "Mean temperature", "degrees Celsius", ValueDatatype.integer
    )

    with pytest.raises(ServiceRunError) as raised:
        Forecaster()(runs=[])

    [failure] = raised.value.summary.failures
    assert failure.endpoint == "/model/insert-model-measure"
    assert "stored as integer, not float" in failure.detail


def test_a_sensor_type_with_other_measures_or_a_sensor_of_another_type_fail(
    sensors: Client,
) -> None:
    sensors.sensors.insert_sensor_type("other", [], None)
    sensors.sensors.insert_sensor("other", "S3")

    class Clashing(ExampleIngress):
        def get_service_data(self, n: int = 3, sensor: str = "S1") -> list[tuple[str, Any]]:
            pairs = super().get_service_data(n=1, sensor="S3")
            measure = {"name": "temperature", "units": "kelvin", "datatype": "float"}
            other_type = {"name": "thermometer", "description": None, "measures": [measure]}
            return [("/sensor/insert-sensor-type", other_type), pairs[1]]

    with pytest.raises(ServiceRunError) as raised:
        Clashing()()

    type_failure, sensor_failure = raised.value.summary.failures
    assert "stored with other measures" in type_failure.detail
    assert "missing: temperature [kelvin] float" in type_failure.detail
    assert "not as a 'thermometer'" in sensor_failure.detail


def test_a_409_the_sdk_cannot_compare_is_a_failure(sensors: Client) -> None:
    sensors.locations.insert_location_schema("site", "", [])

    class Locating(BaseModel):
        def get_service_data(self) -> list[tuple[str, Any]]:
            body = {"name": "site", "description": "another", "identifiers": []}
            return [("/location/insert-location-schema", body)]

    with pytest.raises(ServiceRunError) as raised:
        Locating()()

    [failure] = raised.value.summary.failures
    assert failure.status_code == 409
    assert "not compared with what is stored" in failure.detail
