"""A script written the way DTBase's users write them, run against a live dtbase.

It speaks raw HTTP like DTBase's own clients (a bearer header, JSON bodies, no body when
the payload is empty) and walks the whole data model once, checking every answer.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from dtbase.core.settings import DEFAULT_USER_EMAIL
from tests.utils.settings import DEFAULT_PASSWORD


class _Recorder(BaseHTTPRequestHandler):
    calls: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", 0))
        body = json.loads(self.rfile.read(length)) if length else None
        self.calls.append({"path": self.path, "body": body})
        payload = json.dumps({"ingested": len(body or {})}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def service_url() -> Iterator[str]:
    _Recorder.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/ingress"
    server.shutdown()


class DTBaseStyleClient:
    """What DTBase's `utils.py` helpers do: post JSON with a bearer token."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        login = {"email": DEFAULT_USER_EMAIL, "password": DEFAULT_PASSWORD}
        tokens = http.post("/auth/login", json=login).json()
        self.headers = {"Authorization": f"Bearer {tokens['access_token']}"}

    def post(self, path: str, payload: Any, expected: int) -> Any:
        if payload:
            response = self.http.post(path, json=payload, headers=self.headers)
        else:
            response = self.http.post(path, headers=self.headers)
        assert response.status_code == expected, (path, response.text)
        return response.json()

    def get(self, path: str) -> Any:
        response = self.http.get(path, headers=self.headers)
        assert response.status_code == 200, (path, response.text)
        return response.json()


def test_a_dtbase_script_runs_unchanged(anonymous: httpx.Client, service_url: str) -> None:
    dt = DTBaseStyleClient(anonymous)

    # Locations.
    xy = [
        {"name": "x", "units": "m", "datatype": "float"},
        {"name": "y", "units": "m", "datatype": "float"},
    ]
    assert dt.post(
        "/location/insert-location-schema",
        {"name": "xy", "description": "Cartesian", "identifiers": xy},
        201,
    ) == {"detail": "Location schema inserted"}
    for x, y in [(0.5, 1.5), (2.5, 3.5)]:
        dt.post(
            "/location/insert-location-for-schema",
            {"schema_name": "xy", "coordinates": {"x": x, "y": y}},
            201,
        )
    assert dt.post("/location/list-locations", {"schema_name": "xy"}, 200) == [
        {"id": 1, "x": 0.5, "y": 1.5},
        {"id": 2, "x": 2.5, "y": 3.5},
    ]
    # DTBase's own test asks for a schema that does not exist and expects 200 and a list.
    assert dt.post("/location/list-locations", {"schema_name": "nope"}, 200) == []

    # A sensor type with one measure of each datatype, and sensors at locations.
    measures = [
        {"name": "temperature", "units": "degrees Celsius", "datatype": "float"},
        {"name": "count", "units": None, "datatype": "integer"},
        {"name": "status", "units": None, "datatype": "string"},
        {"name": "door open", "units": None, "datatype": "boolean"},
    ]
    dt.post(
        "/sensor/insert-sensor-type",
        {"name": "multi", "description": "all types", "measures": measures},
        201,
    )
    for sensor_id in ("S1", "S2"):
        payload = {"type_name": "multi", "unique_identifier": sensor_id, "name": sensor_id}
        assert dt.post("/sensor/insert-sensor", payload, 201) == {"detail": "Sensor inserted"}
    dt.post(
        "/sensor/insert-sensor-location",
        {
            "unique_identifier": "S1",
            "schema_name": "xy",
            "coordinates": {"x": 0.5, "y": 1.5},
            "installation_datetime": "2024-01-01T00:00:00",
        },
        201,
    )
    history = dt.post("/sensor/list-sensor-locations", {"unique_identifier": "S1"}, 200)
    assert history == [
        {"id": 1, "x": 0.5, "y": 1.5, "installation_datetime": "2024-01-01T00:00:00Z"}
    ]
    assert dt.post("/sensor/list-sensors", {"type_name": "multi"}, 200) == [
        {"unique_identifier": "S1", "name": "S1", "notes": None},
        {"unique_identifier": "S2", "name": "S2", "notes": None},
    ]

    # Readings of every datatype, read back in their own JSON types.
    timestamps = ["2024-03-01T00:00:00", "2024-03-01T00:30:00.250000Z"]
    series: dict[str, list[Any]] = {
        "temperature": [20.5, 21.25],
        "count": [3, 4],
        "status": ["ok", "degraded"],
        "door open": [True, False],
    }
    for measure, values in series.items():
        dt.post(
            "/sensor/insert-sensor-readings",
            {
                "measure_name": measure,
                "unique_identifier": "S1",
                "readings": values,
                "timestamps": timestamps,
            },
            201,
        )
        readings = dt.post(
            "/sensor/sensor-readings",
            {
                "measure_name": measure,
                "unique_identifier": "S1",
                "dt_from": "2024-03-01",
                "dt_to": "2024-03-02",
            },
            200,
        )
        assert readings == [
            {"value": values[0], "timestamp": "2024-03-01T00:00:00Z"},
            {"value": values[1], "timestamp": "2024-03-01T00:30:00.250000Z"},
        ]

    # A model, a run linked to a sensor measure, listed and read back.
    dt.post("/model/insert-model", {"name": "forecast"}, 201)
    dt.post(
        "/model/insert-model-measure",
        {"name": "Mean temperature", "units": "degrees Celsius", "datatype": "float"},
        201,
    )
    run = {
        "model_name": "forecast",
        "scenario_description": "BAU",
        "measures_and_values": [
            {
                "measure_name": "Mean temperature",
                "values": [22.0, 22.5],
                "timestamps": ["2024-03-02T00:00:00", "2024-03-02T01:00:00"],
            }
        ],
        "time_created": "2024-03-01T06:00:00",
        "create_scenario": True,
        "sensor_unique_id": "S1",
        "sensor_measure": {"name": "temperature", "units": "degrees Celsius"},
    }
    assert dt.post("/model/insert-model-run", run, 201) == {"detail": "Model run inserted"}
    runs = dt.post(
        "/model/list-model-runs",
        {"model_name": "forecast", "dt_from": "2024-03-01", "dt_to": "2024-03-02"},
        200,
    )
    assert runs == [
        {
            "id": 1,
            "model_id": 1,
            "model_name": "forecast",
            "scenario_id": 1,
            "scenario_description": "BAU",
            "time_created": "2024-03-01T06:00:00Z",
            "sensor_unique_id": "S1",
            "sensor_measure": {"name": "temperature", "units": "degrees Celsius"},
        }
    ]
    assert dt.post("/model/get-model-run", {"run_id": 1}, 200) == {
        "Mean temperature": [
            {"value": 22.0, "timestamp": "2024-03-02T00:00:00Z"},
            {"value": 22.5, "timestamp": "2024-03-02T01:00:00Z"},
        ]
    }
    assert dt.post("/model/get-model-run-sensor-measure", {"run_id": 1}, 200) == {
        "sensor_unique_id": "S1",
        "sensor_measure": {"name": "temperature", "units": "degrees Celsius"},
    }

    # A service on a local HTTP server, a parameter set, a run and its log.
    dt.post(
        "/service/insert-service",
        {"name": "ingress", "url": service_url, "http_method": "POST"},
        201,
    )
    dt.post(
        "/service/insert-parameter-set",
        {"service_name": "ingress", "name": "daily", "parameters": {"days": 1}},
        201,
    )
    ran = dt.post(
        "/service/run-service", {"service_name": "ingress", "parameter_set_name": "daily"}, 200
    )
    # DTBase's detail, with dtbase's additions beside it (the run and what the service said).
    assert ran["detail"] == "Service called successfully."
    assert (ran["response_status_code"], ran["response_json"]) == (200, {"ingested": 1})
    assert _Recorder.calls == [{"path": "/ingress", "body": {"days": 1}}]
    log = dt.post("/service/list-runs", {"service_name": "ingress"}, 200)
    assert len(log) == 1
    assert log[0]["parameter_set_name"] == "daily"
    assert log[0]["parameters"] == {"days": 1}
    assert log[0]["response_status_code"] == 200
    assert log[0]["response_json"] == {"ingested": 1}
    assert dt.get("/service/list-services") == [
        {"name": "ingress", "url": service_url, "http_method": "POST"}
    ]
