"""V8 run-service, V9 list-runs and dtbase's list-runs-details, against a real HTTP service."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from dtbase.backend.app import create_app
from dtbase.core.settings import DEFAULT_USER_EMAIL, BackendSettings
from dtbase.devdb import free_port
from dtbase.schemas.users import Role
from tests.utils.accounts import UserFactory
from tests.utils.settings import DEFAULT_PASSWORD
from tests.utils.stub_service import SLOW_SECONDS, StubService


def _register(client: httpx.Client | TestClient, name: str, url: str, method: str = "POST") -> None:
    response = client.post(
        "/service/insert-service", json={"name": name, "url": url, "http_method": method}
    )
    assert response.status_code == 201, response.text


def _parameter_set(client: httpx.Client, service: str, name: str, parameters: Any) -> None:
    body = {"service_name": service, "name": name, "parameters": parameters}
    response = client.post("/service/insert-parameter-set", json=body)
    assert response.status_code == 201, response.text


def _runs(client: httpx.Client | TestClient, body: Any = None) -> list[dict[str, Any]]:
    response = client.post("/service/list-runs", json=body)
    assert response.status_code == 200, response.text
    return list(response.json())


def _details(client: httpx.Client | TestClient, body: Any = None) -> list[dict[str, Any]]:
    response = client.post("/service/list-runs-details", json=body)
    assert response.status_code == 200, response.text
    return list(response.json())


def _without_timestamps(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in run.items() if k != "timestamp"} for run in runs]


def _run(client: httpx.Client | TestClient, body: dict[str, Any]) -> httpx.Response:
    return client.post("/service/run-service", json=body)


# --- what is sent --------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
@pytest.mark.parametrize("parameters", [{"a": 3, "b": [1, "x"]}, [1, 2], {}, [], None])
def test_run_sends_one_request_with_the_parameters_as_body(
    admin: httpx.Client, stub: StubService, method: str, parameters: Any
) -> None:
    _register(admin, "svc", stub.url("/json?code=key"), method)
    body: dict[str, Any] = {"service_name": "svc"}
    if parameters is not None:
        body["parameters"] = parameters

    response = _run(admin, body)

    assert response.status_code == 200
    assert response.json() == {
        "detail": "Service called successfully.",
        "run_id": 1,
        "response_status_code": 200,
        "response_json": {"ok": True, "got": "/json"},
        "status": "succeeded",
        "error": None,
    }
    [received] = stub.received
    assert (received.method, received.path) == (method, "/json?code=key")
    assert "authorization" not in received.headers
    if parameters is None:
        assert received.body == b""
        assert "content-type" not in received.headers
    else:
        assert received.headers["content-type"] == "application/json"
        assert received.json == parameters
    assert _without_timestamps(_runs(admin)) == [
        {
            "service_name": "svc",
            "parameter_set_name": None,
            "parameters": parameters,
            "response_json": {"ok": True, "got": "/json"},
            "response_status_code": 200,
        }
    ]


def test_run_with_a_parameter_set_sends_its_parameters(
    admin: httpx.Client, stub: StubService
) -> None:
    _register(admin, "svc", stub.url("/json"))
    _parameter_set(admin, "svc", "p1", {"days": 7})

    response = _run(admin, {"service_name": "svc", "parameter_set_name": "p1"})

    assert response.status_code == 200
    assert [r.json for r in stub.received] == [{"days": 7}]
    assert _without_timestamps(_runs(admin)) == [
        {
            "service_name": "svc",
            "parameter_set_name": "p1",
            "parameters": {"days": 7},
            "response_json": {"ok": True, "got": "/json"},
            "response_status_code": 200,
        }
    ]


@pytest.mark.parametrize("explicit", [{"days": 1}, [1], {}])
def test_explicit_parameters_win_over_the_set_which_still_gets_the_run(
    admin: httpx.Client, stub: StubService, explicit: Any
) -> None:
    _register(admin, "svc", stub.url("/json"))
    _parameter_set(admin, "svc", "p1", {"days": 7})

    body = {"service_name": "svc", "parameter_set_name": "p1", "parameters": explicit}
    response = _run(admin, body)

    assert response.status_code == 200
    assert [r.json for r in stub.received] == [explicit]
    [run] = _runs(admin)
    assert (run["parameter_set_name"], run["parameters"]) == ("p1", explicit)


def test_null_parameters_mean_none(admin: httpx.Client, stub: StubService) -> None:
    _register(admin, "svc", stub.url("/json"))
    _parameter_set(admin, "svc", "p1", {"days": 7})

    _run(admin, {"service_name": "svc", "parameters": None})
    _run(admin, {"service_name": "svc", "parameter_set_name": "p1", "parameters": None})

    assert [r.body for r in stub.received] == [b"", b'{"days":7}']


def test_run_timestamp_and_details(admin: httpx.Client, stub: StubService) -> None:
    _register(admin, "svc", stub.url("/json"))
    before = datetime.now().astimezone()

    _run(admin, {"service_name": "svc", "parameters": {"a": 1}})

    after = datetime.now().astimezone()
    [run] = _runs(admin)
    assert run["timestamp"].endswith("Z")
    assert before <= datetime.fromisoformat(run["timestamp"]) <= after
    [details] = _details(admin)
    assert set(details) == {
        *run,
        *("id", "error", "duration_seconds", "status", "schedule_name"),
        *("trigger_name", "trigger_event_ids"),
    }
    assert {k: details[k] for k in run} == run
    assert (details["id"], details["error"]) == (1, None)
    assert 0 <= details["duration_seconds"] < (after - before).total_seconds()


# --- what is logged of the reply -----------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "reply"),
    [
        ("/array", 200, [1, 2, 3]),
        ("/text", 200, None),
        ("/empty", 204, None),
        ("/nan", 200, None),
        ("/status/404", 404, {"error": 404}),
        ("/status/500", 500, {"error": 500}),
        ("/status-text/503", 503, None),
        ("/elsewhere", 404, None),
    ],
)
def test_run_answers_200_whatever_the_service_replied(
    admin: httpx.Client, stub: StubService, path: str, status: int, reply: Any
) -> None:
    _register(admin, "svc", stub.url(path))

    response = _run(admin, {"service_name": "svc"})

    assert response.status_code == 200
    answer = response.json()
    assert answer["detail"] == "Service called successfully."
    assert len(stub.received) == 1
    [run] = _details(admin)
    assert (run["response_status_code"], run["response_json"], run["error"]) == (
        status,
        reply,
        None,
    )
    # dtbase tells what the service answered (issue 14, item 5).
    assert answer["run_id"] == run["id"]
    assert (answer["response_status_code"], answer["response_json"]) == (status, reply)
    assert answer["status"] == run["status"] == ("succeeded" if status < 300 else "failed")


def test_stored_arrays_do_not_break_list_runs(admin: httpx.Client, stub: StubService) -> None:
    _register(admin, "svc", stub.url("/array"))

    _run(admin, {"service_name": "svc", "parameters": [{"a": 1}, 2]})

    assert _without_timestamps(_runs(admin)) == [
        {
            "service_name": "svc",
            "parameter_set_name": None,
            "parameters": [{"a": 1}, 2],
            "response_json": [1, 2, 3],
            "response_status_code": 200,
        }
    ]


# --- failures ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"service_name": "nope"},
        {"service_name": "svc", "parameter_set_name": "nope"},
        {"service_name": "svc", "parameter_set_name": "other-services-set"},
        {"service_name": "nope", "parameter_set_name": "p1", "parameters": {"a": 1}},
    ],
)
def test_unknown_service_or_set_is_400_and_calls_nothing(
    admin: httpx.Client, stub: StubService, body: dict[str, Any]
) -> None:
    _register(admin, "svc", stub.url("/json"))
    _register(admin, "other", stub.url("/json"))
    _parameter_set(admin, "other", "other-services-set", {})

    response = _run(admin, body)

    assert response.status_code == 400
    assert response.json() == {"detail": "Service or parameter set does not exist."}
    assert stub.received == []
    assert _runs(admin) == []


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({}, ["body", "service_name"]),
        ({"service_name": "svc", "parameters": "a=1"}, ["body", "parameters"]),
        ({"service_name": "svc", "parameters": 3}, ["body", "parameters"]),
        ({"service_name": "svc", "parameter_set_name": 3}, ["body", "parameter_set_name"]),
    ],
)
def test_run_rejects_bad_input(
    admin: httpx.Client, stub: StubService, body: dict[str, Any], loc: list[Any]
) -> None:
    _register(admin, "svc", stub.url("/json"))

    response = _run(admin, body)

    assert response.status_code == 422
    # A union's errors name each member after the field: ["body", "parameters", "list[any]"].
    assert {tuple(e["loc"][: len(loc)]) for e in response.json()["detail"]} == {tuple(loc)}
    assert stub.received == []
    assert _runs(admin) == []


def test_run_rejects_parameters_the_database_cannot_store(
    admin: httpx.Client, stub: StubService
) -> None:
    _register(admin, "svc", stub.url("/json"))

    response = admin.post(
        "/service/run-service",
        content='{"service_name": "svc", "parameters": [1, NaN]}',
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "parameters", 1]]
    assert stub.received == []
    assert _runs(admin) == []


def test_unreachable_service_is_502_and_logged(admin: httpx.Client) -> None:
    _register(admin, "svc", f"http://127.0.0.1:{free_port()}/run")

    response = _run(admin, {"service_name": "svc", "parameters": {"a": 1}})

    assert response.status_code == 502
    assert response.json()["detail"] == "Service could not be reached."
    assert (response.json()["run_id"], response.json()["status"]) == (1, "failed")
    [run] = _details(admin)
    assert run["response_status_code"] == 502
    assert run["response_json"] is None
    assert run["parameters"] == {"a": 1}
    assert run["error"] == "Service could not be reached."
    assert run["duration_seconds"] >= 0


def test_slow_service_is_504_and_logged(
    settings: BackendSettings, database_url: str, clean_database: None, stub: StubService
) -> None:
    impatient = settings.model_copy(update={"service_timeout_seconds": 0.5})
    with TestClient(create_app(impatient, database_url=database_url)) as client:
        login = {"email": DEFAULT_USER_EMAIL, "password": DEFAULT_PASSWORD}
        token = client.post("/auth/login", json=login).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        _register(client, "svc", stub.url("/slow"), "PUT")

        started = time.monotonic()
        response = _run(client, {"service_name": "svc", "parameters": [1]})
        elapsed = time.monotonic() - started

        assert response.status_code == 504
        assert response.json()["detail"] == "Service did not answer within 0.5 seconds."
        assert elapsed < SLOW_SECONDS
        [received] = stub.received
        assert (received.method, received.json) == ("PUT", [1])
        [run] = _details(client)
        assert (run["response_status_code"], run["response_json"]) == (504, None)
        assert run["parameters"] == [1]
        assert run["error"] == "Service did not answer within 0.5 seconds."
        assert 0.5 <= run["duration_seconds"] < SLOW_SECONDS


def test_viewers_cannot_run_services(
    admin: httpx.Client, user_factory: UserFactory, stub: StubService
) -> None:
    _register(admin, "svc", stub.url("/json"))

    response = _run(user_factory(Role.viewer), {"service_name": "svc"})

    assert response.status_code == 403
    assert stub.received == []
    assert _runs(admin) == []


def test_users_can_run_services(
    admin: httpx.Client, user_factory: UserFactory, stub: StubService
) -> None:
    _register(admin, "svc", stub.url("/json"))

    response = _run(user_factory(Role.user), {"service_name": "svc"})

    assert response.status_code == 200
    assert len(_runs(admin)) == 1


# --- list-runs -----------------------------------------------------------------------


@pytest.fixture
def history(admin: httpx.Client, stub: StubService) -> httpx.Client:
    """Runs: svc1 plain, svc1 with p1, svc2 with p1 (another set), svc1 with p2."""
    _register(admin, "svc1", stub.url("/json"))
    _register(admin, "svc2", stub.url("/array"))
    _parameter_set(admin, "svc1", "p1", {"n": 1})
    _parameter_set(admin, "svc2", "p1", {"n": 2})
    _parameter_set(admin, "svc1", "p2", {"n": 3})
    for body in (
        {"service_name": "svc1"},
        {"service_name": "svc1", "parameter_set_name": "p1"},
        {"service_name": "svc2", "parameter_set_name": "p1"},
        {"service_name": "svc1", "parameter_set_name": "p2"},
    ):
        assert _run(admin, body).status_code == 200
    return admin


def _summary(runs: list[dict[str, Any]]) -> list[tuple[str, str | None, Any]]:
    return [(r["service_name"], r["parameter_set_name"], r["parameters"]) for r in runs]


@pytest.mark.parametrize(
    "body", [None, {}, {"service_name": None}, {"service_name": None, "parameter_set_name": None}]
)
def test_list_runs_without_filters_lists_all_in_time_order(
    history: httpx.Client, body: Any
) -> None:
    runs = _runs(history, body)

    assert _summary(runs) == [
        ("svc1", None, None),
        ("svc1", "p1", {"n": 1}),
        ("svc2", "p1", {"n": 2}),
        ("svc1", "p2", {"n": 3}),
    ]
    assert [list(r) for r in runs] == [
        [
            "service_name",
            "parameter_set_name",
            "parameters",
            "response_json",
            "response_status_code",
            "timestamp",
        ]
    ] * 4
    timestamps = [datetime.fromisoformat(r["timestamp"]) for r in runs]
    assert timestamps == sorted(timestamps)


def test_list_runs_filters(history: httpx.Client) -> None:
    assert _summary(_runs(history, {"service_name": "svc1"})) == [
        ("svc1", None, None),
        ("svc1", "p1", {"n": 1}),
        ("svc1", "p2", {"n": 3}),
    ]
    assert _summary(_runs(history, {"service_name": "svc2", "parameter_set_name": "p1"})) == [
        ("svc2", "p1", {"n": 2})
    ]
    assert _runs(history, {"service_name": "nope"}) == []
    assert _runs(history, {"service_name": "svc2", "parameter_set_name": "p2"}) == []


def test_list_runs_details_has_the_same_filters(history: httpx.Client) -> None:
    details = _details(history, {"service_name": "svc1", "parameter_set_name": "p1"})

    assert [(d["id"], d["parameters"], d["error"]) for d in details] == [(2, {"n": 1}, None)]
    assert [d["id"] for d in _details(history)] == [1, 2, 3, 4]


@pytest.mark.parametrize("path", ["/service/list-runs", "/service/list-runs-details"])
def test_list_runs_needs_the_service_to_filter_by_set(history: httpx.Client, path: str) -> None:
    response = history.post(path, json={"parameter_set_name": "p1"})

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "parameter_set_name"]
    assert "service_name" in error["msg"]


def test_deleting_a_parameter_set_deletes_its_runs(history: httpx.Client) -> None:
    response = history.post(
        "/service/delete-parameter-set", json={"service_name": "svc1", "name": "p1"}
    )

    assert response.status_code == 200
    assert _summary(_runs(history)) == [
        ("svc1", None, None),
        ("svc2", "p1", {"n": 2}),
        ("svc1", "p2", {"n": 3}),
    ]


def test_deleting_a_service_deletes_its_runs(history: httpx.Client) -> None:
    response = history.post("/service/delete-service", json={"name": "svc1"})

    assert response.status_code == 200
    assert _summary(_runs(history)) == [("svc2", "p1", {"n": 2})]
    assert history.post("/service/list-parameter-sets").json() == [
        {"service_name": "svc2", "name": "p1", "parameters": {"n": 2}}
    ]
