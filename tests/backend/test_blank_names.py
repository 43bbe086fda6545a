"""Empty or blank names are refused (422 naming the field) where something new gets a
name: models, services, parameter sets, schedules, sensor types, measures and sensors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

SERVICE = {"name": "svc", "url": "http://localhost:7071/api/none", "http_method": "POST"}
MEASURE = {"name": "t", "units": "K", "datatype": "float"}
CASES: list[tuple[str, dict[str, Any], list[str | int], str]] = [
    ("/model/insert-model", {"name": "{}"}, ["name"], "/model/list-models"),
    ("/model/edit-model", {"name": "m", "new_name": "{}"}, ["new_name"], "/model/list-models"),
    ("/service/insert-service", {**SERVICE, "name": "{}"}, ["name"], "/service/list-services"),
    ("/service/edit-service", {"name": "svc", "new_name": "{}"}, ["new_name"], ""),
    (
        "/service/insert-parameter-set",
        {"service_name": "svc", "name": "{}", "parameters": {}},
        ["name"],
        "",
    ),
    (
        "/service/insert-schedule",
        {"service_name": "svc", "name": "{}", "interval_seconds": 3600},
        ["name"],
        "",
    ),
    (
        "/sensor/insert-sensor-type",
        {"name": "{}", "measures": [MEASURE]},
        ["name"],
        "/sensor/list-sensor-types",
    ),
    (
        "/sensor/insert-sensor-type",
        {"name": "U", "measures": [{**MEASURE, "name": "{}"}]},
        ["measures", 0, "name"],
        "/sensor/list-sensor-types",
    ),
    (
        "/sensor/insert-sensor",
        {"type_name": "T", "unique_identifier": "{}"},
        ["unique_identifier"],
        "",
    ),
    ("/sensor/edit-sensor-type", {"type_name": "T", "new_name": "{}"}, ["new_name"], ""),
]


@pytest.fixture
def existing(admin: httpx.Client) -> httpx.Client:
    for path, body in [
        ("/model/insert-model", {"name": "m"}),
        ("/service/insert-service", SERVICE),
        ("/sensor/insert-sensor-type", {"name": "T", "measures": [MEASURE]}),
    ]:
        assert admin.post(path, json=body).status_code == 201
    return admin


def _filled(body: Any, name: str) -> Any:
    if isinstance(body, dict):
        return {key: _filled(value, name) for key, value in body.items()}
    if isinstance(body, list):
        return [_filled(item, name) for item in body]
    return name if body == "{}" else body


@pytest.mark.parametrize(("path", "body", "field", "listing"), CASES)
def test_a_blank_name_is_a_422_and_stores_nothing(
    existing: httpx.Client,
    path: str,
    body: dict[str, Any],
    field: list[str | int],
    listing: str,
) -> None:
    before = existing.get(listing).json() if listing else None
    for name in ("", " \t\n"):
        response = existing.post(path, json=_filled(body, name))
        assert response.status_code == 422, response.text
        problem = response.json()["detail"][0]
        assert problem["loc"] == ["body", *field]
        assert "empty or only white space" in problem["msg"]
    if listing:
        assert existing.get(listing).json() == before


def test_names_with_spaces_inside_are_names(existing: httpx.Client) -> None:
    assert existing.post("/model/insert-model", json={"name": " a b "}).status_code == 201
