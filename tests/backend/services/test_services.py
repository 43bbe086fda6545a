"""V1 insert-service, V2 list-services, V3 delete-service and dtbase's edit-service."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from dtbase.schemas.users import Role
from tests.utils.accounts import UserFactory

SERVICE1 = {"name": "svc1", "url": "http://localhost:7001/run", "http_method": "POST"}
SERVICE2 = {"name": "svc2", "url": "https://localhost/api?code=k", "http_method": "GET"}


def _services(client: httpx.Client) -> list[dict[str, Any]]:
    response = client.get("/service/list-services")
    assert response.status_code == 200
    return list(response.json())


def _insert(client: httpx.Client, service: dict[str, Any]) -> None:
    response = client.post("/service/insert-service", json=service)
    assert response.status_code == 201, response.text


def test_insert_then_list_services_in_insertion_order(admin: httpx.Client) -> None:
    assert _services(admin) == []

    first = admin.post("/service/insert-service", json=SERVICE1)
    second = admin.post("/service/insert-service", json=SERVICE2)

    assert first.status_code == 201
    assert first.json() == {"detail": "Service created successfully."}
    assert second.status_code == 201
    assert _services(admin) == [SERVICE1, SERVICE2]


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
def test_every_http_method_is_accepted(admin: httpx.Client, method: str) -> None:
    _insert(admin, {**SERVICE1, "http_method": method})

    assert _services(admin) == [{**SERVICE1, "http_method": method}]


def test_unknown_keys_are_ignored(admin: httpx.Client) -> None:
    _insert(admin, {**SERVICE1, "colour": "blue"})

    assert _services(admin) == [SERVICE1]


def test_duplicate_service_is_409_and_changes_nothing(admin: httpx.Client) -> None:
    _insert(admin, SERVICE1)

    response = admin.post("/service/insert-service", json={**SERVICE2, "name": SERVICE1["name"]})

    assert response.status_code == 409
    assert response.json() == {"detail": "Service already exists."}
    assert _services(admin) == [SERVICE1]


@pytest.mark.parametrize("method", ["post", "Get", "PATCH", "HEAD", "", 5, None])
def test_other_http_methods_are_422_naming_the_field(admin: httpx.Client, method: object) -> None:
    response = admin.post("/service/insert-service", json={**SERVICE1, "http_method": method})

    assert response.status_code == 422
    errors = response.json()["detail"]
    assert [e["loc"] for e in errors] == [["body", "http_method"]]
    assert _services(admin) == []


@pytest.mark.parametrize(
    ("body", "error_type", "loc"),
    [
        ({"url": "http://x", "http_method": "GET"}, "missing", ["body", "name"]),
        ({"name": "s", "http_method": "GET"}, "missing", ["body", "url"]),
        ({"name": "s", "url": "http://x"}, "missing", ["body", "http_method"]),
        ({"name": 1, "url": "http://x", "http_method": "GET"}, "string_type", ["body", "name"]),
        (
            {"name": "a\x00b", "url": "http://x", "http_method": "GET"},
            "value_error",
            ["body", "name"],
        ),
    ],
)
def test_insert_service_rejects_bad_input(
    admin: httpx.Client, body: dict[str, object], error_type: str, loc: list[object]
) -> None:
    response = admin.post("/service/insert-service", json=body)

    assert response.status_code == 422
    assert [(e["type"], e["loc"]) for e in response.json()["detail"]] == [(error_type, loc)]
    assert _services(admin) == []


def test_missing_body_is_422(admin: httpx.Client) -> None:
    response = admin.post("/service/insert-service")

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body"]


def test_delete_service(admin: httpx.Client) -> None:
    _insert(admin, SERVICE1)
    _insert(admin, SERVICE2)

    response = admin.post("/service/delete-service", json={"name": SERVICE1["name"]})

    assert response.status_code == 200
    assert response.json() == {"detail": "Service deleted successfully."}
    assert _services(admin) == [SERVICE2]


def test_delete_service_removes_its_parameter_sets(admin: httpx.Client) -> None:
    _insert(admin, SERVICE1)
    _insert(admin, SERVICE2)
    for service in (SERVICE1, SERVICE2):
        response = admin.post(
            "/service/insert-parameter-set",
            json={"service_name": service["name"], "name": "p", "parameters": {"a": 1}},
        )
        assert response.status_code == 201

    admin.post("/service/delete-service", json={"name": SERVICE1["name"]})

    sets = admin.post("/service/list-parameter-sets").json()
    assert sets == [{"service_name": "svc2", "name": "p", "parameters": {"a": 1}}]
    # The name is free again, and its old sets do not come back.
    _insert(admin, SERVICE1)
    assert admin.post("/service/list-parameter-sets", json={"service_name": "svc1"}).json() == []


def test_delete_unknown_service_is_400_and_changes_nothing(admin: httpx.Client) -> None:
    _insert(admin, SERVICE1)

    response = admin.post("/service/delete-service", json={"name": "nope"})

    assert response.status_code == 400
    assert response.json() == {"detail": "Service does not exist."}
    assert _services(admin) == [SERVICE1]


@pytest.mark.parametrize("role", [Role.viewer, Role.user])
def test_only_admins_delete_services(
    admin: httpx.Client, user_factory: UserFactory, role: Role
) -> None:
    _insert(admin, SERVICE1)
    someone = user_factory(role)

    response = someone.post("/service/delete-service", json={"name": SERVICE1["name"]})

    assert response.status_code == 403
    assert "admin" in response.json()["detail"]
    assert _services(admin) == [SERVICE1]


# --- edit-service (dtbase only) ------------------------------------------------------


def test_edit_service_changes_only_what_is_given(admin: httpx.Client) -> None:
    _insert(admin, SERVICE1)
    _insert(admin, SERVICE2)

    renamed = admin.post("/service/edit-service", json={"name": "svc1", "new_name": "renamed"})
    moved = admin.post(
        "/service/edit-service",
        json={
            "name": "svc2",
            "url": "http://localhost:9/elsewhere",
            "http_method": "DELETE",
            "new_name": None,
        },
    )

    assert renamed.status_code == 200
    assert renamed.json() == {"detail": "Service edited successfully."}
    assert moved.status_code == 200
    assert _services(admin) == [
        {**SERVICE1, "name": "renamed"},
        {"name": "svc2", "url": "http://localhost:9/elsewhere", "http_method": "DELETE"},
    ]


def test_edit_service_keeps_its_parameter_sets(admin: httpx.Client) -> None:
    _insert(admin, SERVICE1)
    admin.post(
        "/service/insert-parameter-set",
        json={"service_name": "svc1", "name": "p", "parameters": {}},
    )

    admin.post("/service/edit-service", json={"name": "svc1", "new_name": "svc9"})

    sets = admin.post("/service/list-parameter-sets", json={"service_name": "svc9"}).json()
    assert sets == [{"service_name": "svc9", "name": "p", "parameters": {}}]


def test_edit_service_to_its_own_name_is_fine(admin: httpx.Client) -> None:
    _insert(admin, SERVICE1)

    response = admin.post("/service/edit-service", json={"name": "svc1", "new_name": "svc1"})

    assert response.status_code == 200
    assert _services(admin) == [SERVICE1]


def test_edit_unknown_service_is_400(admin: httpx.Client) -> None:
    _insert(admin, SERVICE1)

    response = admin.post(
        "/service/edit-service", json={"name": "nope", "url": "http://localhost:9/x"}
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "Service does not exist."}
    assert _services(admin) == [SERVICE1]


def test_edit_service_to_a_taken_name_is_409_and_changes_nothing(admin: httpx.Client) -> None:
    _insert(admin, SERVICE1)
    _insert(admin, SERVICE2)

    response = admin.post(
        "/service/edit-service",
        json={"name": "svc1", "new_name": "svc2", "url": "http://localhost:9/changed"},
    )

    assert response.status_code == 409
    assert response.json() == {"detail": "Service already exists."}
    assert _services(admin) == [SERVICE1, SERVICE2]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"name": "svc1", "http_method": "patch"}, ["body", "http_method"]),
        ({"name": "svc1", "new_name": 3}, ["body", "new_name"]),
        ({"new_name": "x"}, ["body", "name"]),
    ],
)
def test_edit_service_rejects_bad_input(
    admin: httpx.Client, body: dict[str, object], loc: list[object]
) -> None:
    _insert(admin, SERVICE1)

    response = admin.post("/service/edit-service", json=body)

    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [loc]
    assert _services(admin) == [SERVICE1]


# --- roles and authentication --------------------------------------------------------

PARAMETER_SET = {"service_name": "svc1", "name": "p", "parameters": {"a": 1}}
WRITES: list[tuple[str, dict[str, Any]]] = [
    ("/service/insert-service", SERVICE2),
    ("/service/edit-service", {"name": "svc1", "url": "http://localhost:9/changed"}),
    ("/service/delete-service", {"name": "svc1"}),
    ("/service/insert-parameter-set", {**PARAMETER_SET, "name": "q"}),
    ("/service/edit-parameter-set", {**PARAMETER_SET, "parameters": {"b": 2}}),
    ("/service/delete-parameter-set", {"service_name": "svc1", "name": "p"}),
    ("/service/run-service", {"service_name": "svc1"}),
]


def _snapshot(admin: httpx.Client) -> tuple[Any, ...]:
    return (
        _services(admin),
        admin.post("/service/list-parameter-sets").json(),
        admin.post("/service/list-runs").json(),
    )


@pytest.mark.parametrize(("path", "body"), WRITES)
def test_viewers_cannot_write(
    admin: httpx.Client, user_factory: UserFactory, path: str, body: dict[str, Any]
) -> None:
    _insert(admin, SERVICE1)
    admin.post("/service/insert-parameter-set", json=PARAMETER_SET)
    before = _snapshot(admin)
    viewer = user_factory(Role.viewer)

    response = viewer.post(path, json=body)

    assert response.status_code == 403
    assert "you are 'viewer'" in response.json()["detail"]
    assert _snapshot(admin) == before


def test_users_write_parameter_sets_but_only_admins_register_or_change_services(
    admin: httpx.Client, user_factory: UserFactory
) -> None:
    """Issue 15, item 1: a user could repoint an admin's service (and its parameter sets,
    keys included, went to the new URL at the next scheduled run)."""
    user = user_factory(Role.user)
    _insert(admin, SERVICE1)

    assert user.post("/service/insert-service", json=SERVICE2).status_code == 403
    repoint = {"name": "svc1", "url": "http://localhost:1/attacker"}
    assert user.post("/service/edit-service", json=repoint).status_code == 403
    assert (
        user.post("/service/edit-service", json={"name": "svc1", "new_name": "x"}).status_code
        == 403
    )
    assert user.post("/service/insert-parameter-set", json=PARAMETER_SET).status_code == 201
    assert user.post("/service/edit-parameter-set", json=PARAMETER_SET).status_code == 200
    delete_set = {"service_name": "svc1", "name": "p"}
    assert user.post("/service/delete-parameter-set", json=delete_set).status_code == 200
    assert user.post("/service/delete-service", json={"name": "svc1"}).status_code == 403
    assert _services(admin) == [SERVICE1]


def test_viewers_can_read(admin: httpx.Client, user_factory: UserFactory) -> None:
    _insert(admin, SERVICE1)
    admin.post("/service/insert-parameter-set", json=PARAMETER_SET)
    viewer = user_factory(Role.viewer)

    assert viewer.get("/service/list-services").json() == [SERVICE1]
    assert viewer.post("/service/list-parameter-sets").json() == [PARAMETER_SET]
    assert viewer.post("/service/list-runs").json() == []
    assert viewer.post("/service/list-runs-details", json={}).json() == []


ALL_ROUTES = [
    ("GET", "/service/list-services"),
    ("POST", "/service/insert-service"),
    ("POST", "/service/edit-service"),
    ("POST", "/service/delete-service"),
    ("POST", "/service/insert-parameter-set"),
    ("POST", "/service/delete-parameter-set"),
    ("POST", "/service/list-parameter-sets"),
    ("POST", "/service/edit-parameter-set"),
    ("POST", "/service/run-service"),
    ("POST", "/service/list-runs"),
    ("POST", "/service/list-runs-details"),
]


@pytest.mark.parametrize(("method", "path"), ALL_ROUTES)
def test_every_route_needs_a_token_even_without_a_body(
    anonymous: httpx.Client, method: str, path: str
) -> None:
    response = anonymous.request(method, path)

    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}


def test_openapi_documents_every_service_operation(anonymous: httpx.Client) -> None:
    schema = anonymous.get("/openapi.json").json()

    operations = {
        (method.upper(), path) for path, item in schema["paths"].items() for method in item
    }
    assert set(ALL_ROUTES) <= operations
    run = schema["paths"]["/service/run-service"]["post"]["responses"]
    assert {"200", "400", "401", "403", "422", "502", "504"} <= set(run)
    assert {"201", "409", "422"} <= set(
        schema["paths"]["/service/insert-service"]["post"]["responses"]
    )
    assert {"200", "400", "409", "422"} <= set(
        schema["paths"]["/service/edit-service"]["post"]["responses"]
    )
