"""Ingest routes take a shorter way than FastAPI's when the body validates
(`dtbase.backend.ingest_route`): on that way too, the token, the user and the role are
checked before anything is stored, with the same answers."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import APIRouter

from dtbase.backend import ingest_route
from dtbase.backend.auth.deps import Admin, Writer
from dtbase.backend.db import SessionDep
from dtbase.backend.ingest_route import _call_of, post_ingest
from dtbase.backend.sensors.routes import insert_sensor_readings
from dtbase.core.settings import DEFAULT_USER_EMAIL
from dtbase.schemas.common import Msg
from dtbase.schemas.sensors import InsertSensorReadingsRequest
from dtbase.schemas.users import Role
from tests.utils.accounts import UserFactory
from tests.utils.settings import DEFAULT_PASSWORD

STAMPS = ["2024-01-01T00:00:00Z", "2024-01-01T00:01:00Z"]
READINGS = {"unique_identifier": "S", "measure_name": "m", "readings": [1.0, 2.0]}
# Bodies that validate: anyone allowed to get past the checks would store something.
BODIES: dict[str, dict[str, Any]] = {
    "/sensor/insert-sensor-readings": {**READINGS, "timestamps": STAMPS},
    "/sensor/insert-readings-bulk": {"series": [{**READINGS, "timestamps": STAMPS}]},
    "/model/insert-model-run": {
        "model_name": "M",
        "scenario_description": "s",
        "measures_and_values": [{"measure_name": "m", "values": [1.0], "timestamps": STAMPS[:1]}],
    },
}


@pytest.fixture
def live_backend(backend_of_each_role: str) -> str:
    """Ingest runs as a superuser (foreign keys checked once) and as a plain role (per
    row, as on a managed database): the same answers either way."""
    return backend_of_each_role


@pytest.fixture
def stocked(admin: httpx.Client) -> httpx.Client:
    """Sensor S of a type with measure m, model M with scenario s and measure m."""
    measures = [{"name": "m", "units": "u", "datatype": "float"}]
    for path, body in (
        ("/sensor/insert-sensor-type", {"name": "T", "measures": measures}),
        ("/sensor/insert-sensor", {"type_name": "T", "unique_identifier": "S"}),
        ("/model/insert-model", {"name": "M"}),
        ("/model/insert-model-scenario", {"model_name": "M", "description": "s"}),
        ("/model/insert-model-measure", {"name": "m", "units": "u", "datatype": "float"}),
    ):
        response = admin.post(path, json=body)
        assert response.status_code == 201, (path, response.text)
    return admin


def _stored(admin: httpx.Client) -> tuple[int, int]:
    readings = admin.post(
        "/sensor/sensor-readings",
        json={
            "unique_identifier": "S",
            "measure_name": "m",
            "dt_from": "2000-01-01",
            "dt_to": "2100-01-01",
        },
    ).json()
    runs = admin.post("/model/list-model-runs", json={"model_name": "M", "dt_from": "2000-01-01"})
    return len(readings), len(runs.json())


@pytest.mark.parametrize("path", BODIES)
def test_viewers_get_403_and_store_nothing(
    stocked: httpx.Client, user_factory: UserFactory, path: str
) -> None:
    response = user_factory(Role.viewer).post(path, json=BODIES[path])

    assert response.status_code == 403, response.text
    assert response.json() == {"detail": "This action needs the role 'user' (you are 'viewer')"}
    assert _stored(stocked) == (0, 0)


@pytest.mark.parametrize("path", BODIES)
def test_writers_store_and_get_fastapis_answer(
    stocked: httpx.Client, user_factory: UserFactory, path: str
) -> None:
    response = user_factory(Role.user).post(path, json=BODIES[path])

    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()) == {"detail"}
    assert _stored(stocked) != (0, 0)


@pytest.mark.parametrize("path", BODIES)
def test_deleted_users_and_refresh_tokens_get_401(
    stocked: httpx.Client, user_factory: UserFactory, path: str
) -> None:
    gone = user_factory(Role.admin, email="gone@example.com")
    assert stocked.post("/user/delete-user", json={"email": "gone@example.com"}).status_code == 200
    login = stocked.post(
        "/auth/login", json={"email": DEFAULT_USER_EMAIL, "password": DEFAULT_PASSWORD}
    ).json()
    refresh = {"Authorization": f"Bearer {login['refresh_token']}"}

    deleted = gone.post(path, json=BODIES[path])
    wrong_type = stocked.post(path, json=BODIES[path], headers=refresh)

    assert (deleted.status_code, deleted.json()) == (
        401,
        {"detail": "Could not validate credentials"},
    )
    assert (wrong_type.status_code, wrong_type.json()) == (401, {"detail": "Token of wrong type"})
    assert _stored(stocked) == (0, 0)


def test_valid_bodies_take_the_short_way_and_the_rest_fastapis(
    stocked: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The live backend runs in this process: count the passes through the short way.
    calls: list[str] = []
    short_way = ingest_route._run

    def counted(*args: Any) -> Any:
        calls.append(type(args[-1]).__name__)
        return short_way(*args)

    monkeypatch.setattr(ingest_route, "_run", counted)
    path = "/sensor/insert-sensor-readings"
    valid = stocked.post(path, json=BODIES[path])
    invalid = stocked.post(path, json={**BODIES[path], "readings": "not a list"})

    assert (valid.status_code, invalid.status_code) == (201, 422)
    assert invalid.json()["detail"][0]["loc"] == ["body", "readings"]
    assert calls == ["InsertSensorReadingsRequest"]


def test_the_role_comes_from_the_endpoints_declared_dependency() -> None:
    assert _call_of(insert_sensor_readings, InsertSensorReadingsRequest).minimum == Role.user

    def no_role(body: object, session: object, user: object) -> None:
        raise AssertionError("never called")

    with pytest.raises(TypeError, match="needs a role dependency"):
        _call_of(no_role, InsertSensorReadingsRequest)


def test_the_endpoint_is_called_by_parameter_name() -> None:
    def reordered(
        user: Admin, *, session: SessionDep, readings: InsertSensorReadingsRequest
    ) -> Msg:
        raise AssertionError("never called")

    call = _call_of(reordered, InsertSensorReadingsRequest)

    assert (call.body, call.session, call.user, call.minimum) == (
        "readings",
        "session",
        "user",
        Role.admin,
    )


def _registered(endpoint: Any) -> None:
    post_ingest(APIRouter(), "/x", InsertSensorReadingsRequest)(endpoint)


def test_an_endpoint_the_short_way_cannot_call_fails_at_registration() -> None:
    # Each would get a 500 or a wrong call on the short way only, at its first request.
    def extra(
        body: InsertSensorReadingsRequest, session: SessionDep, _: Writer, dry_run: bool = False
    ) -> Msg:
        raise AssertionError("never called")

    def other_body(body: Msg, session: SessionDep, _: Writer) -> Msg:
        raise AssertionError("never called")

    def no_session(body: InsertSensorReadingsRequest, _: Writer) -> Msg:
        raise AssertionError("never called")

    def two_bodies(
        body: InsertSensorReadingsRequest,
        again: InsertSensorReadingsRequest,
        session: SessionDep,
        _: Writer,
    ) -> Msg:
        raise AssertionError("never called")

    def positional_only(
        body: InsertSensorReadingsRequest, session: SessionDep, _: Writer, /
    ) -> Msg:
        raise AssertionError("never called")

    with pytest.raises(TypeError, match="cannot give its parameter 'dry_run'"):
        _registered(extra)
    with pytest.raises(TypeError, match="cannot give its parameter 'body'"):
        _registered(other_body)
    with pytest.raises(TypeError, match="takes a InsertSensorReadingsRequest body and a Sess"):
        _registered(no_session)
    with pytest.raises(TypeError, match="cannot give its parameter 'again'"):
        _registered(two_bodies)
    with pytest.raises(TypeError, match="cannot give its parameter 'body'"):
        _registered(positional_only)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_bodies_not_sent_as_json_get_fastapis_422(stocked: httpx.Client, content_type: str) -> None:
    path = "/sensor/insert-sensor-readings"
    body = json.dumps(BODIES[path]).encode()
    response = stocked.post(path, content=body, headers={"Content-Type": content_type})
    ordinary = stocked.post(
        "/sensor/insert-sensor",
        content=json.dumps({"type_name": "T", "unique_identifier": "S2"}).encode(),
        headers={"Content-Type": content_type},
    )

    assert (response.status_code, ordinary.status_code) == (ordinary.status_code, 422)
    assert _stored(stocked) == (0, 0)
