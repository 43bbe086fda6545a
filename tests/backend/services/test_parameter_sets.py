"""V4 insert-parameter-set, V5 delete-parameter-set, V6 list-parameter-sets, V7 edit."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

NAMED1 = {"service_name": "svc1", "name": "p1", "parameters": {"a": 1, "b": [1.5, "x"]}}
NAMED2 = {"service_name": "svc2", "name": "p2", "parameters": {"nested": {"c": None, "d": True}}}


@pytest.fixture
def services(admin: httpx.Client) -> httpx.Client:
    for name in ("svc1", "svc2"):
        response = admin.post(
            "/service/insert-service",
            json={"name": name, "url": f"http://localhost:9/{name}", "http_method": "POST"},
        )
        assert response.status_code == 201
    return admin


def _sets(client: httpx.Client, body: Any = None) -> list[dict[str, Any]]:
    response = client.post("/service/list-parameter-sets", json=body)
    assert response.status_code == 200, response.text
    return list(response.json())


def _insert(client: httpx.Client, parameter_set: dict[str, Any]) -> None:
    response = client.post("/service/insert-parameter-set", json=parameter_set)
    assert response.status_code == 201, response.text


def test_insert_then_list_parameter_sets(services: httpx.Client) -> None:
    assert _sets(services) == []

    response = services.post("/service/insert-parameter-set", json=NAMED1)
    _insert(services, NAMED2)

    assert response.status_code == 201
    assert response.json() == {"detail": "Parameter set created successfully."}
    assert _sets(services) == [NAMED1, NAMED2]


@pytest.mark.parametrize("body", [None, {}, {"service_name": None}, {"other": "key"}])
def test_list_parameter_sets_without_a_filter(services: httpx.Client, body: Any) -> None:
    _insert(services, NAMED1)
    _insert(services, NAMED2)

    assert _sets(services, body) == [NAMED1, NAMED2]


def test_list_parameter_sets_of_one_service(services: httpx.Client) -> None:
    _insert(services, NAMED1)
    _insert(services, NAMED2)
    _insert(services, {**NAMED1, "name": "p3"})

    assert _sets(services, {"service_name": "svc1"}) == [NAMED1, {**NAMED1, "name": "p3"}]
    assert _sets(services, {"service_name": "nope"}) == []


def test_list_parameter_sets_rejects_a_bad_filter(services: httpx.Client) -> None:
    response = services.post("/service/list-parameter-sets", json={"service_name": 3})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "service_name"]


def test_the_same_name_may_be_used_by_two_services(services: httpx.Client) -> None:
    _insert(services, NAMED1)
    _insert(services, {**NAMED1, "service_name": "svc2"})

    assert _sets(services) == [NAMED1, {**NAMED1, "service_name": "svc2"}]


def test_empty_parameters_are_fine(services: httpx.Client) -> None:
    _insert(services, {**NAMED1, "parameters": {}})

    assert _sets(services) == [{**NAMED1, "parameters": {}}]


def test_duplicate_parameter_set_is_409_and_changes_nothing(services: httpx.Client) -> None:
    _insert(services, NAMED1)

    response = services.post(
        "/service/insert-parameter-set", json={**NAMED1, "parameters": {"other": 2}}
    )

    assert response.status_code == 409
    assert response.json() == {"detail": "Parameter set already exists."}
    assert _sets(services) == [NAMED1]


def test_parameter_set_of_unknown_service_is_400(services: httpx.Client) -> None:
    response = services.post(
        "/service/insert-parameter-set", json={**NAMED1, "service_name": "nope"}
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "Service does not exist."}
    assert _sets(services) == []


@pytest.mark.parametrize("parameters", [[1, 2], "a=1", None, 3])
def test_parameters_must_be_a_json_object(services: httpx.Client, parameters: Any) -> None:
    response = services.post(
        "/service/insert-parameter-set", json={**NAMED1, "parameters": parameters}
    )

    assert response.status_code == 422
    errors = response.json()["detail"]
    assert [(e["type"], e["loc"]) for e in errors] == [("dict_type", ["body", "parameters"])]
    assert _sets(services) == []


@pytest.mark.parametrize(
    ("parameters", "loc"),
    [
        ('{"x": [1, NaN]}', ["x", 1]),
        ('{"x": Infinity}', ["x"]),
        ('{"x": {"y": -Infinity}}', ["x", "y"]),
        ('{"x": 1e400}', ["x"]),
        ('{"x": "nul\\u0000"}', ["x"]),
        ('{"nul\\u0000": 1}', ["nul\x00"]),
        ('{"x": "\\ud800"}', ["x"]),
        ('{"\\ud800": 1}', ["\\ud800"]),
    ],
)
@pytest.mark.parametrize("path", ["/service/insert-parameter-set", "/service/edit-parameter-set"])
def test_parameters_the_database_cannot_store_are_422(
    services: httpx.Client, parameters: str, loc: list[Any], path: str
) -> None:
    if path.endswith("edit-parameter-set"):
        _insert(services, NAMED1)
    before = _sets(services)
    body = '{"service_name": "svc1", "name": "p1", "parameters": ' + parameters + "}"

    response = services.post(path, content=body, headers={"content-type": "application/json"})

    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "parameters", *loc]]
    assert _sets(services) == before


def test_insert_parameter_set_needs_every_field(services: httpx.Client) -> None:
    response = services.post("/service/insert-parameter-set", json={"service_name": "svc1"})

    assert response.status_code == 422
    locs = [e["loc"] for e in response.json()["detail"]]
    assert locs == [["body", "name"], ["body", "parameters"]]


def test_delete_parameter_set(services: httpx.Client) -> None:
    _insert(services, NAMED1)
    _insert(services, NAMED2)

    response = services.post(
        "/service/delete-parameter-set", json={"service_name": "svc1", "name": "p1"}
    )

    assert response.status_code == 200
    assert response.json() == {"detail": "Parameter set deleted successfully."}
    assert _sets(services) == [NAMED2]


@pytest.mark.parametrize(
    "body",
    [
        {"service_name": "svc1", "name": "nope"},
        {"service_name": "nope", "name": "p1"},
        # The set exists, but for another service.
        {"service_name": "svc2", "name": "p1"},
    ],
)
def test_delete_unknown_parameter_set_is_400(services: httpx.Client, body: dict[str, str]) -> None:
    _insert(services, NAMED1)

    response = services.post("/service/delete-parameter-set", json=body)

    assert response.status_code == 400
    assert response.json() == {"detail": "Parameter set does not exist."}
    assert _sets(services) == [NAMED1]


def test_delete_parameter_set_needs_both_names(services: httpx.Client) -> None:
    _insert(services, NAMED1)

    response = services.post("/service/delete-parameter-set", json={"name": "p1"})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "service_name"]
    assert _sets(services) == [NAMED1]


def test_edit_parameter_set_replaces_the_parameters(services: httpx.Client) -> None:
    _insert(services, NAMED1)
    _insert(services, NAMED2)

    response = services.post(
        "/service/edit-parameter-set", json={**NAMED1, "parameters": {"z": "only"}}
    )

    assert response.status_code == 200
    assert response.json() == {"detail": "Parameter set edited successfully."}
    assert _sets(services) == [{**NAMED1, "parameters": {"z": "only"}}, NAMED2]


@pytest.mark.parametrize(
    "names",
    [
        {"service_name": "svc1", "name": "nope"},
        {"service_name": "nope", "name": "p1"},
        {"service_name": "svc2", "name": "p1"},
    ],
)
def test_edit_unknown_parameter_set_is_400(services: httpx.Client, names: dict[str, str]) -> None:
    _insert(services, NAMED1)

    response = services.post("/service/edit-parameter-set", json={**names, "parameters": {"z": 1}})

    assert response.status_code == 400
    assert response.json() == {"detail": "Parameter set does not exist."}
    assert _sets(services) == [NAMED1]


def test_edit_parameter_set_needs_an_object(services: httpx.Client) -> None:
    _insert(services, NAMED1)

    response = services.post("/service/edit-parameter-set", json={**NAMED1, "parameters": [1]})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "parameters"]
    assert _sets(services) == [NAMED1]
