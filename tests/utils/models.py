"""Digital-twin models set up over the API: models, a scenario, measures, a sensor, and
the body of a valid model run."""

from __future__ import annotations

from typing import Any

import httpx

MEASURES = [
    {"name": "mean temp", "units": "K", "datatype": "float"},
    {"name": "rain?", "units": "", "datatype": "boolean"},
    {"name": "count", "units": "1", "datatype": "integer"},
    {"name": "label", "units": "-", "datatype": "string"},
]
T0, T1, T2 = "2030-01-01T00:00:00Z", "2030-01-01T01:00:00Z", "2030-01-01T02:00:00Z"
SENSOR_MEASURE = {"name": "temperature", "units": "K"}


def setup_models(admin: httpx.Client) -> None:
    """Models M1 and M2, scenario BAU of M1, four model measures, sensor S1 measuring
    temperature in K and humidity (no units)."""
    for name in ["M1", "M2"]:
        assert admin.post("/model/insert-model", json={"name": name}).status_code == 201
    response = admin.post(
        "/model/insert-model-scenario", json={"model_name": "M1", "description": "BAU"}
    )
    assert response.status_code == 201
    for measure in MEASURES:
        assert admin.post("/model/insert-model-measure", json=measure).status_code == 201
    sensor_type = {
        "name": "weather",
        "measures": [
            {**SENSOR_MEASURE, "datatype": "float"},
            {"name": "humidity", "units": None, "datatype": "float"},
        ],
    }
    response = admin.post("/sensor/insert-sensor-type", json=sensor_type)
    assert response.status_code == 201, response.text
    response = admin.post(
        "/sensor/insert-sensor", json={"type_name": "weather", "unique_identifier": "S1"}
    )
    assert response.status_code == 201, response.text


def a_run(**changes: Any) -> dict[str, Any]:
    """A valid insert-model-run body for M1/BAU, with the given fields replaced."""
    return {
        "model_name": "M1",
        "scenario_description": "BAU",
        "time_created": "2024-01-01T12:00:00Z",
        "measures_and_values": [
            {"measure_name": "mean temp", "values": [1.5, 2.5], "timestamps": [T0, T1]},
        ],
        **changes,
    }
