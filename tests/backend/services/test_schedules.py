"""The schedule endpoints, and run-service with "wait": false, against a real backend."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from dtbase.schemas.users import Role
from tests.utils.accounts import UserFactory
from tests.utils.stub_service import StubService

FAR = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)


def _post(client: httpx.Client, path: str, body: Any = None) -> httpx.Response:
    return client.post(f"/service/{path}", json=body)


def _register(admin: httpx.Client, name: str = "svc", url: str = "http://127.0.0.1:9/x") -> None:
    body = {"name": name, "url": url, "http_method": "POST"}
    assert _post(admin, "insert-service", body).status_code == 201


def _schedules(client: httpx.Client, body: Any = None) -> list[dict[str, Any]]:
    response = _post(client, "list-schedules", body)
    assert response.status_code == 200, response.text
    return list(response.json())


def _insert(admin: httpx.Client, **fields: Any) -> httpx.Response:
    return _post(admin, "insert-schedule", {"service_name": "svc", "name": "hourly", **fields})


def _loc(response: httpx.Response) -> list[Any]:
    assert response.status_code == 422, response.text
    return list(response.json()["detail"][0]["loc"])


def test_insert_and_list_an_interval_schedule(admin: httpx.Client) -> None:
    _register(admin)
    response = _insert(
        admin, interval_seconds=3600, start_at=FAR.isoformat(), parameters={"a": [1, 2]}
    )
    assert response.status_code == 201, response.text
    assert response.json() == {"detail": "Schedule created successfully."}

    assert _schedules(admin) == [
        {
            "service_name": "svc",
            "name": "hourly",
            "cron": None,
            "interval_seconds": 3600,
            "time_zone": "UTC",
            "parameter_set_name": None,
            "parameters": {"a": [1, 2]},
            "enabled": True,
            "next_run_at": FAR.isoformat().replace("+00:00", "Z"),
            "last_run_at": None,
        }
    ]


def test_interval_without_start_runs_one_interval_from_now(admin: httpx.Client) -> None:
    _register(admin)
    before = datetime.now(UTC)
    assert _insert(admin, interval_seconds=600).status_code == 201
    after = datetime.now(UTC)

    [schedule] = _schedules(admin)
    next_run = datetime.fromisoformat(schedule["next_run_at"])
    assert before + timedelta(seconds=600) <= next_run <= after + timedelta(seconds=600)


def test_cron_schedule_is_read_in_its_time_zone(admin: httpx.Client) -> None:
    _register(admin)
    assert (
        _insert(admin, cron="30 2 * * *", time_zone="Asia/Kolkata", parameters=None).status_code
        == 201
    )

    [schedule] = _schedules(admin)
    next_run = datetime.fromisoformat(schedule["next_run_at"])
    # 02:30 in India (UTC+05:30, no daylight saving) is 21:00 UTC, within the next day.
    assert (next_run.hour, next_run.minute) == (21, 0)
    assert timedelta(0) < next_run - datetime.now(UTC) <= timedelta(days=1)
    assert (schedule["cron"], schedule["interval_seconds"]) == ("30 2 * * *", None)


def test_schedule_with_a_parameter_set(admin: httpx.Client) -> None:
    _register(admin)
    body = {"service_name": "svc", "name": "london", "parameters": {"x": 1}}
    assert _post(admin, "insert-parameter-set", body).status_code == 201

    assert _insert(admin, cron="0 * * * *", parameter_set_name="london").status_code == 201

    [schedule] = _schedules(admin)
    assert (schedule["parameter_set_name"], schedule["parameters"]) == ("london", None)


def test_list_schedules_of_one_service(admin: httpx.Client) -> None:
    _register(admin, "a")
    _register(admin, "b")
    for service in ("a", "b"):
        body = {"service_name": service, "name": "s", "interval_seconds": 60}
        assert _post(admin, "insert-schedule", body).status_code == 201

    assert [s["service_name"] for s in _schedules(admin)] == ["a", "b"]
    assert [s["service_name"] for s in _schedules(admin, {"service_name": "b"})] == ["b"]
    assert _schedules(admin, {"service_name": "c"}) == []


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        ({"cron": "61 * * * *"}, ["body", "cron"]),
        ({"cron": "* * * *"}, ["body", "cron"]),
        ({"cron": "@daily"}, ["body", "cron"]),
        ({"cron": "0 0 30 2 *"}, ["body", "cron"]),
        ({"cron": "0 * * * *", "interval_seconds": 60}, ["body", "cron"]),
        ({}, ["body", "cron"]),
        ({"interval_seconds": 0}, ["body", "interval_seconds"]),
        ({"interval_seconds": "often"}, ["body", "interval_seconds"]),
        ({"cron": "0 * * * *", "time_zone": "Mars/Olympus"}, ["body", "time_zone"]),
        ({"cron": "0 * * * *", "time_zone": "../../etc/passwd"}, ["body", "time_zone"]),
        ({"cron": "0 * * * *", "time_zone": "x" * 300}, ["body", "time_zone"]),
        ({"cron": "0 * * * *", "time_zone": "Europe"}, ["body", "time_zone"]),
        ({"cron": "0 * * * *", "start_at": "2030-01-01T00:00:00Z"}, ["body", "start_at"]),
        ({"interval_seconds": 60, "start_at": "soon"}, ["body", "start_at"]),
        (
            {"interval_seconds": 60, "parameter_set_name": "p", "parameters": {}},
            ["body", "parameters"],
        ),
        ({"interval_seconds": 60, "parameters": {"x": "\u0000"}}, ["body", "parameters", "x"]),
    ],
)
def test_invalid_schedules_are_422_naming_the_field(
    admin: httpx.Client, fields: dict[str, Any], loc: list[Any]
) -> None:
    _register(admin)

    assert _loc(_insert(admin, **fields))[: len(loc)] == loc
    assert _schedules(admin) == []


def test_unknown_service_or_parameter_set_is_400(admin: httpx.Client) -> None:
    response = _insert(admin, interval_seconds=60)
    assert response.status_code == 400
    assert response.json() == {"detail": "Service does not exist."}

    _register(admin)
    response = _insert(admin, interval_seconds=60, parameter_set_name="nope")
    assert response.status_code == 400
    assert response.json() == {"detail": "Parameter set does not exist."}
    assert _schedules(admin) == []


def test_duplicate_schedule_is_409(admin: httpx.Client) -> None:
    _register(admin)
    assert _insert(admin, interval_seconds=60).status_code == 201

    response = _insert(admin, cron="0 * * * *")
    assert response.status_code == 409
    assert response.json() == {"detail": "Schedule already exists."}
    assert [s["interval_seconds"] for s in _schedules(admin)] == [60]


def _edit(admin: httpx.Client, **fields: Any) -> httpx.Response:
    return _post(admin, "edit-schedule", {"service_name": "svc", "name": "hourly", **fields})


def test_disable_and_enable(admin: httpx.Client) -> None:
    _register(admin)
    assert _insert(admin, interval_seconds=3600, start_at=FAR.isoformat()).status_code == 201

    response = _edit(admin, enabled=False)
    assert response.status_code == 200, response.text
    assert response.json() == {"detail": "Schedule edited successfully."}
    [schedule] = _schedules(admin)
    assert (schedule["enabled"], schedule["next_run_at"]) == (False, None)

    assert _edit(admin, enabled=True).status_code == 200
    [schedule] = _schedules(admin)
    # The next run was still ahead: re-enabling keeps it.
    assert schedule["enabled"] is True
    assert datetime.fromisoformat(schedule["next_run_at"]) == FAR


def test_edit_switches_cron_and_interval_and_parameters(admin: httpx.Client) -> None:
    _register(admin)
    body = {"service_name": "svc", "name": "set", "parameters": {"x": 1}}
    assert _post(admin, "insert-parameter-set", body).status_code == 201
    assert _insert(admin, interval_seconds=60, parameters={"a": 1}).status_code == 201

    assert _edit(admin, cron="15 4 * * 1", time_zone="Europe/London").status_code == 200
    assert _edit(admin, parameter_set_name="set").status_code == 200
    [schedule] = _schedules(admin)
    assert schedule["cron"] == "15 4 * * 1"
    assert schedule["interval_seconds"] is None
    assert schedule["time_zone"] == "Europe/London"
    assert (schedule["parameter_set_name"], schedule["parameters"]) == ("set", None)
    assert datetime.fromisoformat(schedule["next_run_at"]).weekday() == 0

    assert _edit(admin, interval_seconds=120, parameters=[1, 2], new_name="fast").status_code == 200
    [schedule] = _schedules(admin)
    assert (schedule["name"], schedule["cron"], schedule["interval_seconds"]) == ("fast", None, 120)
    assert (schedule["parameter_set_name"], schedule["parameters"]) == (None, [1, 2])


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        ({"interval_seconds": None}, ["body", "cron"]),
        ({"cron": "0 0 * *"}, ["body", "cron"]),
        ({"cron": "0 * * * *", "interval_seconds": 5}, ["body", "cron"]),
        ({"time_zone": "Nowhere"}, ["body", "time_zone"]),
        ({"cron": "0 * * * *", "start_at": "2030-01-01T00:00:00Z"}, ["body", "start_at"]),
        ({"parameter_set_name": "set", "parameters": {"a": 1}}, ["body", "parameters"]),
    ],
)
def test_invalid_edits_are_422_and_change_nothing(
    admin: httpx.Client, fields: dict[str, Any], loc: list[Any]
) -> None:
    _register(admin)
    body = {"service_name": "svc", "name": "set", "parameters": {"x": 1}}
    assert _post(admin, "insert-parameter-set", body).status_code == 201
    assert _insert(admin, interval_seconds=60, start_at=FAR.isoformat()).status_code == 201
    before = _schedules(admin)

    assert _loc(_edit(admin, **fields))[: len(loc)] == loc
    assert _schedules(admin) == before


def test_edit_errors(admin: httpx.Client) -> None:
    _register(admin)
    assert _insert(admin, interval_seconds=60).status_code == 201
    assert (
        _post(
            admin,
            "insert-schedule",
            {"service_name": "svc", "name": "other", "interval_seconds": 9},
        ).status_code
        == 201
    )
    before = _schedules(admin)

    missing = _post(admin, "edit-schedule", {"service_name": "svc", "name": "nope"})
    assert (missing.status_code, missing.json()) == (400, {"detail": "Schedule does not exist."})
    taken = _edit(admin, new_name="other")
    assert (taken.status_code, taken.json()) == (409, {"detail": "Schedule already exists."})
    no_set = _edit(admin, parameter_set_name="nope")
    assert (no_set.status_code, no_set.json()) == (400, {"detail": "Parameter set does not exist."})
    assert _schedules(admin) == before


def test_delete_schedule(admin: httpx.Client) -> None:
    _register(admin)
    assert _insert(admin, interval_seconds=60).status_code == 201

    body = {"service_name": "svc", "name": "hourly"}
    response = _post(admin, "delete-schedule", body)
    assert (response.status_code, response.json()) == (
        200,
        {"detail": "Schedule deleted successfully."},
    )
    assert _schedules(admin) == []
    again = _post(admin, "delete-schedule", body)
    assert (again.status_code, again.json()) == (400, {"detail": "Schedule does not exist."})


def test_a_used_parameter_set_cannot_be_deleted(admin: httpx.Client) -> None:
    _register(admin)
    body = {"service_name": "svc", "name": "set", "parameters": {"x": 1}}
    assert _post(admin, "insert-parameter-set", body).status_code == 201
    assert _insert(admin, interval_seconds=60, parameter_set_name="set").status_code == 201

    response = _post(admin, "delete-parameter-set", {"service_name": "svc", "name": "set"})

    assert response.status_code == 409
    assert response.json() == {"detail": "Parameter set is used by schedules: hourly."}
    assert len(_post(admin, "list-parameter-sets").json()) == 1


def test_deleting_the_service_deletes_its_schedules(admin: httpx.Client) -> None:
    _register(admin)
    assert _insert(admin, interval_seconds=60).status_code == 201

    assert _post(admin, "delete-service", {"name": "svc"}).status_code == 200
    assert _schedules(admin) == []


def test_viewers_read_but_cannot_write_schedules(
    admin: httpx.Client, user_factory: UserFactory
) -> None:
    _register(admin)
    assert _insert(admin, interval_seconds=60).status_code == 201
    before = _schedules(admin)
    viewer = user_factory(Role.viewer)

    writes = [
        ("insert-schedule", {"service_name": "svc", "name": "v", "interval_seconds": 5}),
        ("edit-schedule", {"service_name": "svc", "name": "hourly", "enabled": False}),
        ("delete-schedule", {"service_name": "svc", "name": "hourly"}),
    ]
    for path, body in writes:
        assert _post(viewer, path, body).status_code == 403, path
    assert _schedules(viewer) == before
    user = user_factory(Role.user)
    assert _post(user, "edit-schedule", writes[1][1]).status_code == 200


# --- run-service with "wait": false --------------------------------------------------


def _details(client: httpx.Client) -> list[dict[str, Any]]:
    response = _post(client, "list-runs-details")
    assert response.status_code == 200, response.text
    return list(response.json())


def test_run_without_waiting_answers_202_and_completes_the_log(
    admin: httpx.Client,
    stub: StubService,
) -> None:
    _register(admin, url=stub.url("/slow"))

    started = time.monotonic()
    body = {"service_name": "svc", "parameters": {"a": 1}, "wait": False}
    response = _post(admin, "run-service", body)
    answered = time.monotonic() - started

    assert response.status_code == 202, response.text
    run_id = response.json()["run_id"]
    assert response.json() == {"detail": "Service run started.", "run_id": run_id}
    [pending] = _details(admin)
    if answered < 2:  # the slow service takes 3 s: the run is still under way
        assert pending["status"] == "pending"
        assert (pending["response_status_code"], pending["duration_seconds"]) == (None, None)
    assert pending["id"] == run_id
    deadline = time.monotonic() + 20
    while (run := _details(admin)[0])["status"] == "pending":
        assert time.monotonic() < deadline, "the run never completed"
        time.sleep(0.1)
    assert run["status"] == "succeeded"
    assert run["response_status_code"] == 200
    assert run["response_json"] == {"ok": True, "got": "/slow"}
    assert run["parameters"] == {"a": 1}
    assert run["schedule_name"] is None
    assert [r.json for r in stub.received] == [{"a": 1}]
    # list-runs (DTBase's view) shows the same run
    [plain] = _post(admin, "list-runs").json()
    assert plain["response_status_code"] == 200


def test_run_without_waiting_logs_a_failure(admin: httpx.Client) -> None:
    _register(admin, url="http://127.0.0.1:9/unreachable")

    response = _post(admin, "run-service", {"service_name": "svc", "wait": False})

    assert response.status_code == 202
    deadline = time.monotonic() + 20
    while (run := _details(admin)[0])["status"] == "pending":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert (run["status"], run["response_status_code"]) == ("failed", 502)
    assert run["error"]


def test_run_without_waiting_checks_its_input_first(admin: httpx.Client) -> None:
    response = _post(admin, "run-service", {"service_name": "nope", "wait": False})
    assert response.status_code == 400
    assert _details(admin) == []
    response = _post(admin, "run-service", {"service_name": "nope", "wait": "later"})
    assert _loc(response) == ["body", "wait"]


def test_waiting_runs_report_their_status(
    admin: httpx.Client,
    stub: StubService,
) -> None:
    _register(admin, "ok", stub.url("/json"))
    _register(admin, "bad", stub.url("/status/500"))

    assert _post(admin, "run-service", {"service_name": "ok", "wait": True}).status_code == 200
    assert _post(admin, "run-service", {"service_name": "bad"}).status_code == 200

    assert [(r["service_name"], r["status"]) for r in _details(admin)] == [
        ("ok", "succeeded"),
        ("bad", "failed"),
    ]
