"""Who may use the /model endpoints: anyone logged in reads, users and admins write."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from dtbase.schemas.users import Role
from tests.utils.accounts import UserFactory
from tests.utils.models import a_run, setup_models

WRITES: list[tuple[str, dict[str, Any]]] = [
    ("/model/insert-model", {"name": "M3"}),
    ("/model/delete-model", {"name": "M2"}),
    ("/model/edit-model", {"name": "M2", "new_name": "M3"}),
    ("/model/insert-model-scenario", {"model_name": "M1", "description": "Hot"}),
    ("/model/delete-model-scenario", {"model_name": "M1", "description": "BAU"}),
    (
        "/model/edit-model-scenario",
        {"model_name": "M1", "description": "BAU", "new_description": "Hot"},
    ),
    ("/model/insert-model-measure", {"name": "x", "units": "m", "datatype": "float"}),
    ("/model/delete-model-measure", {"name": "label"}),
    ("/model/edit-model-measure", {"name": "label", "units": "-", "new_name": "tag"}),
    ("/model/insert-model-run", a_run(time_created="2024-01-02T00:00:00Z")),
    ("/model/delete-model-run", {"run_id": 1}),
]
READS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/model/list-models", None),
    ("GET", "/model/list-model-scenarios", None),
    ("GET", "/model/list-model-measures", None),
    ("POST", "/model/list-model-runs", {"model_name": "M1", "dt_from": "2000-01-01"}),
    ("POST", "/model/get-model-run", {"run_id": 1}),
    ("POST", "/model/get-model-run-sensor-measure", {"run_id": 1}),
]


def _everything(admin: httpx.Client) -> list[Any]:
    return [admin.request(method, path, json=body).json() for method, path, body in READS]


@pytest.fixture
def world(admin: httpx.Client) -> httpx.Client:
    setup_models(admin)
    response = admin.post("/model/insert-model-run", json=a_run())
    assert response.status_code == 201
    return admin


@pytest.mark.parametrize(("path", "body"), WRITES)
def test_viewers_cannot_write(
    world: httpx.Client, user_factory: UserFactory, path: str, body: dict[str, Any]
) -> None:
    viewer = user_factory(Role.viewer)
    before = _everything(world)

    response = viewer.post(path, json=body)

    assert response.status_code == 403
    assert "user" in response.json()["detail"]
    assert _everything(world) == before


@pytest.mark.parametrize(("path", "body"), WRITES)
def test_users_can_write(
    world: httpx.Client, user_factory: UserFactory, path: str, body: dict[str, Any]
) -> None:
    if path in {
        "/model/delete-model",
        "/model/delete-model-scenario",
        "/model/delete-model-measure",
    }:
        world.post("/model/delete-model-run", json={"run_id": 1})  # It would block them.

    response = user_factory(Role.user).post(path, json=body)

    assert response.status_code in {200, 201}, response.text


@pytest.mark.parametrize(("method", "path", "body"), READS)
def test_viewers_can_read(
    world: httpx.Client,
    user_factory: UserFactory,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    response = user_factory(Role.viewer).request(method, path, json=body)

    assert response.status_code == 200
    assert response.json() == world.request(method, path, json=body).json()


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", path) for path, _ in WRITES] + [(method, path) for method, path, _ in READS],
)
def test_anonymous_gets_401_even_without_a_body(
    anonymous: httpx.Client, method: str, path: str
) -> None:
    response = anonymous.request(method, path)

    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}


def test_openapi_documents_every_model_operation(anonymous: httpx.Client) -> None:
    paths = anonymous.get("/openapi.json").json()["paths"]

    for path, _ in WRITES:
        responses = set(paths[path]["post"]["responses"])
        assert {"401", "403", "422"} <= responses, path
        assert responses & {"400", "409"}, path
    for method, path, _ in READS:
        assert {"200", "401"} <= set(paths[path][method.lower()]["responses"]), path
    insert_run = paths["/model/insert-model-run"]["post"]["responses"]
    assert {"201", "400", "409", "422"} <= set(insert_run)
