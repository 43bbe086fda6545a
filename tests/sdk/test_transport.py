"""What the SDK sends and how it treats timeouts and network failures (a fake backend)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from dtbase.sdk import BaseService, Outcome, ServiceRunError

TOKENS = {"access_token": "access", "refresh_token": "refresh"}


class Pairs(BaseService):
    def __init__(self, pairs: list[tuple[str, Any]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pairs = pairs

    def get_service_data(self, **kwargs: Any) -> list[tuple[str, Any]]:
        return self.pairs


def _fake_backend(seen: list[httpx.Request]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        path = request.url.path
        if path == "/auth/login":
            return httpx.Response(200, json=TOKENS)
        if path == "/slow":
            raise httpx.ReadTimeout("timed out", request=request)
        if path == "/down":
            raise httpx.ConnectError("connection refused", request=request)
        if path == "/model/insert-model":
            return httpx.Response(409, json={"detail": "Model exists already"})
        if path == "/service/edit-parameter-set":
            return httpx.Response(409, json={"detail": "conflict"})
        if path == "/not-json":
            return httpx.Response(200, text="<html>")
        return httpx.Response(201, json={"detail": "done"})

    return httpx.MockTransport(answer)


def test_bodies_headers_and_outcomes() -> None:
    seen: list[httpx.Request] = []
    http = httpx.Client(base_url="http://backend", transport=_fake_backend(seen))
    pairs: list[tuple[str, Any]] = [
        ("/a", {"x": 1}),
        ("/b", {}),
        ("/c", None),
        ("/model/insert-model", {"name": "M"}),  # the name is all a model is
        ("/service/edit-parameter-set", {"name": "p"}),
        ("/slow", {"y": 2}),
        ("/down", {"z": 3}),
        ("/not-json", {}),
    ]

    with pytest.raises(ServiceRunError) as raised:
        Pairs(pairs, http=http)(dt_user_password="pw")

    login, a, b, c, *_ = seen
    assert json.loads(login.content) == {"email": "default_user@localhost", "password": "pw"}
    assert a.headers["authorization"] == "Bearer access"
    assert json.loads(a.content) == {"x": 1}
    assert a.headers["content-type"] == "application/json"
    assert b.content == b"{}"  # DTBase sent no body for {}: a 422 on list-sensors
    assert c.content == b""
    assert "content-type" not in c.headers
    outcomes = [(r.endpoint, r.outcome, r.status_code) for r in raised.value.summary.results]
    assert outcomes == [
        ("/a", Outcome.ok, None),
        ("/b", Outcome.ok, None),
        ("/c", Outcome.ok, None),
        ("/model/insert-model", Outcome.exists, 409),
        ("/service/edit-parameter-set", Outcome.failed, 409),  # only inserts are "there"
        ("/slow", Outcome.failed, None),
        ("/down", Outcome.failed, None),
        ("/not-json", Outcome.failed, None),
    ]
    details = [failure.detail for failure in raised.value.summary.failures]
    assert details[1].startswith("Timed out")
    assert "ConnectError" in details[2]
    assert "not JSON" in details[3]


def test_the_timeout_applies_to_every_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DT_DEFAULT_USER_PASS", "pw")
    monkeypatch.setenv("DT_SERVICE_REQUEST_TIMEOUT_SECONDS", "7.5")
    timeouts: list[Any] = []

    class Spy(BaseService):
        def get_service_data(self, **kwargs: Any) -> list[tuple[str, Any]]:
            timeouts.append(self.client.http.timeout)
            return []

    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=TOKENS)

    original = httpx.Client.__init__

    def with_mock(self: httpx.Client, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs, transport=httpx.MockTransport(refuse))

    monkeypatch.setattr(httpx.Client, "__init__", with_mock)
    Spy()()
    Spy(timeout=2)()

    assert timeouts == [httpx.Timeout(7.5), httpx.Timeout(2)]


def test_a_409_whose_stored_object_cannot_be_read_is_a_failure() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/login":
            return httpx.Response(200, json=TOKENS)
        if request.url.path == "/model/insert-model-run":
            return httpx.Response(409, json={"detail": "Model run exists already"})
        return httpx.Response(503, json={"detail": "down for maintenance"})

    http = httpx.Client(base_url="http://backend", transport=httpx.MockTransport(answer))
    run = {
        "model_name": "M",
        "scenario_description": "S",
        "time_created": "2024-01-01T00:00:00Z",
        "measures_and_values": [],
    }
    without_time = {key: value for key, value in run.items() if key != "time_created"}
    pairs: list[tuple[str, Any]] = [
        ("/model/insert-model-run", run),
        ("/model/insert-model-run", without_time),
    ]

    with pytest.raises(ServiceRunError) as raised:
        Pairs(pairs, http=http)(dt_user_password="pw")

    unreadable, untimed = raised.value.summary.failures
    assert (unreadable.outcome, unreadable.status_code) == (Outcome.failed, 409)
    assert "comparing with what is stored failed" in unreadable.detail
    assert "down for maintenance" in unreadable.detail
    assert "has no time_created" in untimed.detail
