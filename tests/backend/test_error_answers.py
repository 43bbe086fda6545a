"""What a client gets when a request fails: a JSON answer on a connection it can keep
using, a 422 (never a 500) for text that is not text, and an error that does not echo a
huge input back."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import APIRouter

from dtbase.backend.app import create_app
from dtbase.backend.db import SessionDep
from dtbase.backend.users import store
from dtbase.core.settings import BackendSettings
from tests.utils.servers import served

JSON = {"content-type": "application/json"}


@pytest.fixture
def crashing_backend(
    settings: BackendSettings, database_url: str, clean_database: None
) -> Iterator[str]:
    router = APIRouter()

    @router.post("/probe/write-then-crash")
    def write_then_crash(session: SessionDep) -> None:
        store.create(session, email="crash@example.com", password_hash="not a hash")
        raise RuntimeError("a real server fault")

    app = create_app(settings, database_url=database_url)
    app.include_router(router)
    with served(app) as url:
        yield url


def test_a_500_answers_json_and_keeps_the_connection_usable(crashing_backend: str) -> None:
    address = urlsplit(crashing_backend)
    connection = http.client.HTTPConnection(address.hostname or "", address.port)
    try:
        connection.request("POST", "/probe/write-then-crash", body=b"")
        crashed = connection.getresponse()
        body = json.loads(crashed.read())
        socket = connection.sock
        assert (crashed.status, body) == (500, {"detail": "Internal server error"})
        assert crashed.getheader("connection") != "close"

        # The same connection answers the next request: the client knows the first failed.
        connection.request("GET", "/health")
        health = connection.getresponse()
        assert (health.status, json.loads(health.read())) == (200, {"status": "ok"})
        assert connection.sock is socket
    finally:
        connection.close()


LONE = "\ud800"  # json.dumps writes it as the escape `"\\ud800"`, as an attacker would.
READINGS = {"unique_identifier": "a", "measure_name": "m", "timestamps": ["2024-01-01"]}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/auth/login", {"email": LONE, "password": "p"}, ["email"]),
        ("/auth/login", {"email": "a@example.com", "password": LONE}, ["password"]),
        ("/user/create-user", {"email": "a@example.com", "password": LONE}, ["password"]),
        ("/sensor/insert-sensor-type", {"name": "\udc00", "measures": []}, ["name"]),
        (
            "/sensor/insert-sensor-type",
            {"name": "T", "measures": [{"name": LONE, "units": None, "datatype": "float"}]},
            ["measures", 0, "name"],
        ),
        (
            "/sensor/insert-sensor",
            {"type_name": "T", "unique_identifier": LONE},
            ["unique_identifier"],
        ),
        # The ingest route's own short way (`ingest_route`).
        ("/sensor/insert-sensor-readings", {**READINGS, "readings": [LONE]}, ["readings", 0]),
        (
            "/location/insert-location-schema",
            {"name": LONE, "description": None, "identifiers": []},
            ["name"],
        ),
        ("/model/insert-model", {"name": "a\ud83d"}, ["name"]),
        ("/service/insert-service", {"name": LONE, "url": "http://localhost/x"}, ["name"]),
        # In a key of a free-form object.
        ("/model/insert-model", {"name": "m", "\udfff": 1}, ["\\udfff"]),
    ],
)
def test_a_lone_surrogate_is_a_422_naming_the_field(
    admin: httpx.Client, path: str, body: dict[str, Any], field: list[str | int]
) -> None:
    headers = dict(JSON)
    if path == "/auth/login":
        headers["Authorization"] = ""
    response = admin.post(path, content=json.dumps(body), headers=headers)
    assert response.status_code == 422, response.text
    problem = response.json()["detail"][0]
    assert (problem["type"], problem["loc"]) == ("string_unicode", ["body", *field])


def test_a_lone_surrogate_without_a_token_is_still_a_401(anonymous: httpx.Client) -> None:
    body = json.dumps({"name": LONE})
    response = anonymous.post("/model/insert-model", content=body, headers=JSON)
    assert response.status_code == 401, response.text


def test_a_valid_surrogate_pair_is_text(admin: httpx.Client) -> None:
    # What Python's json.dumps writes for an emoji by default.
    body = '{"name": "\\ud83d\\ude00 model"}'
    response = admin.post("/model/insert-model", content=body, headers=JSON)
    assert response.status_code == 201, response.text
    assert admin.get("/model/list-models").json()[0]["name"] == "\U0001f600 model"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x" * 10_000_000},  # too long: the error names the string
        ["x" * 1000] * 10_000,  # not an object: the error names the whole body
        {"name": {"nested": list(range(1_000_000))}},  # not a string
    ],
    ids=["long string", "long list", "deep object"],
)
def test_a_422_does_not_echo_a_huge_input_back(admin: httpx.Client, body: Any) -> None:
    response = admin.post("/model/insert-model", json=body)
    assert response.status_code == 422, response.text[:300]
    assert len(response.content) < 5000
    echoed = response.json()["detail"][0]["input"]
    assert isinstance(echoed, str)
    assert "characters in all" in echoed or "too large to echo" in echoed


def test_a_422_still_echoes_a_small_input(admin: httpx.Client) -> None:
    response = admin.post("/model/insert-model", json={"name": ["a", 1]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["input"] == ["a", 1]


def test_a_lone_surrogate_deep_down_is_found(admin: httpx.Client) -> None:
    body = {"name": "m", "deep": [[[[[{"x": ["ok", LONE]}]]]]]}
    response = admin.post("/model/insert-model", content=json.dumps(body), headers=JSON)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "deep", 0, 0, 0, 0, 0, "x", 1]


def test_a_body_nested_too_deep_for_python_is_a_4xx(admin: httpx.Client) -> None:
    depth = 100_000
    body = "[" * depth + json.dumps(LONE) + "]" * depth
    response = admin.post("/model/insert-model", content=body, headers=JSON)
    assert 400 <= response.status_code < 500, response.text[:300]
