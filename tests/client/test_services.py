"""The typed client's /service resource against the real backend and a real stub service."""

from __future__ import annotations

import pytest

from dtbase.client import ApiError, Client
from dtbase.client.services import ServiceRunFailed
from dtbase.devdb import free_port
from dtbase.schemas.common import Msg
from dtbase.schemas.services import (
    HttpMethod,
    ParameterSet,
    RunOutcome,
    RunStatus,
    ServiceDetails,
)
from tests.utils.stub_service import StubService


def test_services(client: Client) -> None:
    services = client.services

    assert services.insert_service("svc1", "http://localhost:1/a", "POST") == Msg(
        detail="Service created successfully."
    )
    services.insert_service("svc2", "http://localhost:1/b", HttpMethod.GET)
    assert services.list_services() == [
        ServiceDetails(name="svc1", url="http://localhost:1/a", http_method=HttpMethod.POST),
        ServiceDetails(name="svc2", url="http://localhost:1/b", http_method=HttpMethod.GET),
    ]

    assert services.edit_service("svc2", new_name="svc3", http_method="PUT").detail == (
        "Service edited successfully."
    )
    assert services.list_services()[1] == ServiceDetails(
        name="svc3", url="http://localhost:1/b", http_method=HttpMethod.PUT
    )

    assert services.delete_service("svc1").detail == "Service deleted successfully."
    assert [s.name for s in services.list_services()] == ["svc3"]


def test_service_errors(client: Client) -> None:
    client.services.insert_service("svc", "http://localhost:1/", "GET")
    client.services.insert_service("other", "http://localhost:1/", "GET")

    with pytest.raises(ApiError) as duplicate:
        client.services.insert_service("svc", "http://localhost:1/", "GET")
    with pytest.raises(ApiError) as missing:
        client.services.delete_service("nope")
    with pytest.raises(ApiError) as taken:
        client.services.edit_service("other", new_name="svc")

    assert (duplicate.value.status_code, duplicate.value.detail) == (
        409,
        "Service already exists.",
    )
    assert (missing.value.status_code, missing.value.detail) == (400, "Service does not exist.")
    assert (taken.value.status_code, taken.value.detail) == (409, "Service already exists.")


def test_parameter_sets(client: Client) -> None:
    services = client.services
    services.insert_service("svc1", "http://localhost:1/", "POST")
    services.insert_service("svc2", "http://localhost:1/", "POST")

    created = services.insert_parameter_set("svc1", "p1", {"a": 1, "b": None})
    services.insert_parameter_set("svc2", "p2", {})

    assert created.detail == "Parameter set created successfully."
    assert services.list_parameter_sets() == [
        ParameterSet(service_name="svc1", name="p1", parameters={"a": 1, "b": None}),
        ParameterSet(service_name="svc2", name="p2", parameters={}),
    ]
    assert [p.name for p in services.list_parameter_sets("svc2")] == ["p2"]

    edited = services.edit_parameter_set("svc1", "p1", {"c": [1, 2]})
    assert edited.detail == "Parameter set edited successfully."
    assert services.list_parameter_sets("svc1")[0].parameters == {"c": [1, 2]}

    deleted = services.delete_parameter_set("svc1", "p1")
    assert deleted.detail == "Parameter set deleted successfully."
    assert [p.name for p in services.list_parameter_sets()] == ["p2"]

    with pytest.raises(ApiError) as duplicate:
        services.insert_parameter_set("svc2", "p2", {})
    with pytest.raises(ApiError) as missing:
        services.edit_parameter_set("svc2", "nope", {})
    assert (duplicate.value.status_code, duplicate.value.detail) == (
        409,
        "Parameter set already exists.",
    )
    assert (missing.value.status_code, missing.value.detail) == (
        400,
        "Parameter set does not exist.",
    )


def test_runs(client: Client, stub: StubService) -> None:
    services = client.services
    services.insert_service("svc", stub.url("/json"), "PUT")
    services.insert_parameter_set("svc", "p1", {"days": 7})

    assert services.run_service("svc").detail == "Service called successfully."
    services.run_service("svc", parameter_set_name="p1")
    services.run_service("svc", parameter_set_name="p1", parameters=[1, 2])

    assert [(r.method, r.body) for r in stub.received] == [
        ("PUT", b""),
        ("PUT", b'{"days":7}'),
        ("PUT", b"[1,2]"),
    ]
    runs = services.list_runs("svc")
    assert [(r.parameter_set_name, r.parameters, r.response_status_code) for r in runs] == [
        (None, None, 200),
        ("p1", {"days": 7}, 200),
        ("p1", [1, 2], 200),
    ]
    assert all(r.response_json == {"ok": True, "got": "/json"} for r in runs)
    assert [r.timestamp.tzinfo is not None for r in runs] == [True] * 3
    assert [r.parameters for r in services.list_runs("svc", "p1")] == [{"days": 7}, [1, 2]]
    details = services.list_runs_details()
    assert [(d.id, d.error) for d in details] == [(1, None), (2, None), (3, None)]
    assert all(d.duration_seconds is not None for d in details)


def test_failed_runs_raise_and_are_logged(client: Client) -> None:
    client.services.insert_service("svc", f"http://127.0.0.1:{free_port()}/", "GET")

    with pytest.raises(ApiError) as unreachable:
        client.services.run_service("svc", parameters={"a": 1})
    with pytest.raises(ApiError) as unknown:
        client.services.run_service("svc", parameter_set_name="nope")

    assert unreachable.value.status_code == 502
    assert unknown.value.status_code == 400
    assert unknown.value.detail == "Service or parameter set does not exist."
    [run] = client.services.list_runs_details()
    assert (run.response_status_code, run.parameters) == (502, {"a": 1})
    assert run.error is not None


def test_run_service_tells_the_outcome_and_can_raise_on_failure(
    client: Client, stub: StubService
) -> None:
    """Issue 14, item 5: a run the service refused read as a success."""
    client.services.insert_service("ok", stub.url("/json"), "POST")
    client.services.insert_service("refuses", stub.url("/status/400"), "POST")

    ok = client.services.run_service("ok", check=True)
    refused = client.services.run_service("refuses")
    with pytest.raises(ServiceRunFailed) as raised:
        client.services.run_service("refuses", check=True)

    assert ok == RunOutcome(
        detail="Service called successfully.",
        run_id=1,
        response_status_code=200,
        response_json={"ok": True, "got": "/json"},
        status=RunStatus.succeeded,
    )
    assert ok.succeeded
    assert refused.detail == "Service called successfully."  # DTBase's contract
    assert (refused.run_id, refused.response_status_code) == (2, 400)
    assert (refused.status, refused.response_json) == (RunStatus.failed, {"error": 400})
    assert not refused.succeeded
    assert isinstance(raised.value, ApiError)
    assert (raised.value.status_code, raised.value.detail) == (400, {"error": 400})
    assert raised.value.outcome.run_id == 3
    assert [r.status for r in client.services.list_runs_details()] == [
        RunStatus.succeeded,
        RunStatus.failed,
        RunStatus.failed,
    ]
