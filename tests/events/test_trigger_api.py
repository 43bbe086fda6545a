"""The /events/triggers endpoints against the real backend: create, list, edit, enable,
disable, delete; who may; bad input refused with a 4xx and nothing changed."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from dtbase.client import Client
from dtbase.schemas.users import Role
from tests.utils.accounts import UserFactory

TEMPLATE = {"sensors": "{sensor}", "measures": ["temperature"], "api_key": "s3cret"}
READINGS = {"kind": "readings.stored", "sensor": ["A", "B"]}
DEEP: list[object] = []
for _ in range(40):
    DEEP = [DEEP]


@pytest.fixture
def svc(client: Client) -> Client:
    """A registered service `svc` (never called here) with a parameter set `ps`."""
    client.services.insert_service("svc", "http://127.0.0.1:9/api/svc", "POST")
    client.services.insert_parameter_set("svc", "ps", {"p": 1})
    return client


def _create(http: httpx.Client, **fields: Any) -> httpx.Response:
    body = {"name": "t", "service_name": "svc", "query": READINGS, "parameters": TEMPLATE}
    return http.post("/events/triggers/create", json=body | fields)


def _listed(http: httpx.Client) -> dict[str, dict[str, Any]]:
    response = http.post("/events/triggers/list")
    assert response.status_code == 200, response.text
    return {trigger["name"]: trigger for trigger in response.json()}


def test_create_and_list(admin: httpx.Client, svc: Client) -> None:
    assert _create(admin, debounce_seconds=5).status_code == 201
    assert _create(admin, name="u", parameters=None, parameter_set_name="ps").status_code == 201

    triggers = _listed(admin)

    assert triggers["t"] == {
        "name": "t",
        "service_name": "svc",
        "query": {"kind": ["readings.stored"], "sensor": ["A", "B"]},
        "parameter_set_name": None,
        "parameters": TEMPLATE,
        "debounce_seconds": 5.0,
        "max_wait_seconds": 50.0,  # ten debounces
        "max_runs_per_hour": 60,  # DT_TRIGGER_MAX_RUNS_PER_HOUR
        "enabled": True,
        "disabled_reason": None,
        "last_event_id": triggers["t"]["last_event_id"],
        "burst_started_at": None,
        "burst_last_event_at": None,
        "pending_events": 0,
        "pending_runs": 0,
        "last_run_id": None,
        "last_run_at": None,
        "time_created": triggers["t"]["time_created"],
    }
    assert triggers["u"]["parameter_set_name"] == "ps"
    assert triggers["u"]["parameters"] is None
    assert [t.name for t in svc.triggers.list_triggers("svc")] == ["t", "u"]
    assert svc.triggers.list_triggers("other") == []


def test_a_new_trigger_starts_at_the_newest_event(admin: httpx.Client, svc: Client) -> None:
    svc.services.insert_service("another", "http://127.0.0.1:9/api/another", "POST")
    newest = admin.get("/events/list", params={"limit": 10000}).json()["last_id"]
    assert newest > 0  # the services just created made events

    _create(admin)

    assert _listed(admin)["t"]["last_event_id"] == newest


def test_a_writer_may_create_and_change_triggers_a_viewer_may_only_list(
    admin: httpx.Client, svc: Client, user_factory: UserFactory
) -> None:
    writer, viewer = user_factory(Role.user), user_factory(Role.viewer)
    assert _create(writer).status_code == 201

    for path, body in [
        ("create", {"name": "v", "service_name": "svc", "query": READINGS}),
        ("edit", {"name": "t", "debounce_seconds": 1}),
        ("disable", {"name": "t"}),
        ("enable", {"name": "t"}),
        ("delete", {"name": "t"}),
    ]:
        assert viewer.post(f"/events/triggers/{path}", json=body).status_code == 403, path
    # Secrets in templates are masked for all but admins, as in parameter sets.
    assert _listed(viewer)["t"]["parameters"]["api_key"] != "s3cret"
    assert _listed(writer)["t"]["parameters"]["sensors"] == "{sensor}"
    assert _listed(admin)["t"]["parameters"]["api_key"] == "s3cret"

    assert writer.post("/events/triggers/edit", json={"name": "t", "debounce_seconds": 2})
    assert writer.post("/events/triggers/disable", json={"name": "t"}).status_code == 200
    assert writer.post("/events/triggers/delete", json={"name": "t"}).status_code == 200
    assert _listed(admin) == {}


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        # A trigger on its own service's runs would run forever.
        ({"query": {"kind": "service_run.finished", "service": "svc"}}, "query"),
        ({"query": {"kind": "service_run.finished"}}, "query"),
        ({"query": {}}, "query"),  # every event, its own runs' among them
        ({"query": {"kind": "readings.stored", "colour": "red"}}, "colour"),
        ({"query": {"kind": "readings.arrived"}}, "kind"),
        ({"query": {"sensor": []}}, "sensor"),
        ({"parameter_set_name": "ps"}, "parameters"),  # both a set and a template
        ({"parameters": {"s": "{model}"}}, "s"),
        ({"parameters": {"s": "{sensor"}}, "s"),
        ({"parameters": {"x": float("nan")}}, "x"),
        ({"parameters": {"deep": DEEP}}, "deep"),
        ({"query": {"sensor": "nul\u0000"}}, "body"),
        ({"parameters": {"s": "{sensor}\u0000"}}, "s"),
        ({"debounce_seconds": -1}, "debounce_seconds"),
        ({"debounce_seconds": 10, "max_wait_seconds": 5}, "max_wait_seconds"),
        ({"max_runs_per_hour": 0}, "max_runs_per_hour"),
        ({"name": " "}, "name"),
    ],
)
def test_bad_triggers_are_422_naming_the_field_and_nothing_is_stored(
    admin: httpx.Client, svc: Client, fields: dict[str, Any], where: str
) -> None:
    body = {"name": "t", "service_name": "svc", "query": READINGS, "parameters": TEMPLATE}
    body |= fields
    # NaN is not JSON, but Python's json module writes it, so a careless client may send it.
    response = admin.post(
        "/events/triggers/create",
        content=json.dumps(body),
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 422, response.text
    assert where in str(response.json()["detail"][0]["loc"])
    assert _listed(admin) == {}


def test_unknown_service_or_set_is_400_a_taken_name_409(admin: httpx.Client, svc: Client) -> None:
    assert _create(admin, service_name="nope").status_code == 400
    response = _create(admin, parameters=None, parameter_set_name="nope")
    assert response.status_code == 400
    assert _create(admin).status_code == 201
    assert _create(admin).json() == {"detail": "Trigger already exists."}
    assert _create(admin).status_code == 409
    assert list(_listed(admin)) == ["t"]


def test_edit_changes_what_is_given(admin: httpx.Client, svc: Client) -> None:
    _create(admin)
    _create(admin, name="other")

    svc.triggers.edit_trigger(
        "t",
        new_name="renamed",
        query={"kind": "model_run.stored", "model": "Arima"},
        parameters={"sensors": "{sensor}", "from": "{first}"},
        debounce_seconds=30,
        max_runs_per_hour=5,
    )
    edited = _listed(admin)["renamed"]
    assert edited["query"] == {"kind": ["model_run.stored"], "model": ["Arima"]}
    assert edited["parameters"] == {"sensors": "{sensor}", "from": "{first}"}
    assert (edited["debounce_seconds"], edited["max_wait_seconds"]) == (30.0, 100.0)
    assert edited["max_runs_per_hour"] == 5
    # A debounce beyond the maximum wait lifts the wait to it.
    svc.triggers.edit_trigger("renamed", debounce_seconds=200)
    edited = _listed(admin)["renamed"]
    assert (edited["debounce_seconds"], edited["max_wait_seconds"]) == (200.0, 200.0)

    # A parameter set replaces the template, and the reverse.
    svc.triggers.edit_trigger("renamed", parameter_set_name="ps")
    edited = _listed(admin)["renamed"]
    assert (edited["parameter_set_name"], edited["parameters"]) == ("ps", None)
    svc.triggers.edit_trigger("renamed", parameters={"fixed": 1})
    edited = _listed(admin)["renamed"]
    assert (edited["parameter_set_name"], edited["parameters"]) == (None, {"fixed": 1})

    # Refused edits change nothing.
    before = _listed(admin)
    for body in [
        {"name": "renamed", "new_name": "other"},
        {"name": "renamed", "query": {"kind": "service_run.finished"}},
        {"name": "renamed", "parameters": {"m": "{location}"}},
        {"name": "renamed", "max_wait_seconds": 1},
        {"name": "renamed", "parameter_set_name": "nope"},
        {"name": "nope", "debounce_seconds": 1},
    ]:
        response = admin.post("/events/triggers/edit", json=body)
        assert response.status_code in (400, 409, 422), (body, response.text)
    assert _listed(admin) == before


def test_a_masked_secret_sent_back_keeps_its_value(
    admin: httpx.Client, svc: Client, user_factory: UserFactory
) -> None:
    _create(admin)
    writer = user_factory(Role.user)
    shown = _listed(writer)["t"]["parameters"]

    response = writer.post("/events/triggers/edit", json={"name": "t", "parameters": shown})

    assert response.status_code == 200, response.text
    assert _listed(admin)["t"]["parameters"] == TEMPLATE


def test_disable_and_enable(admin: httpx.Client, svc: Client) -> None:
    _create(admin)

    svc.triggers.disable_trigger("t")
    assert _listed(admin)["t"]["enabled"] is False
    # Events meanwhile are not run later: enabling starts at the newest event.
    svc.services.insert_service("another", "http://127.0.0.1:9/api/another", "POST")
    newest = admin.get("/events/list", params={"limit": 10000}).json()["last_id"]
    svc.triggers.enable_trigger("t")
    enabled = _listed(admin)["t"]
    assert (enabled["enabled"], enabled["last_event_id"]) == (True, newest)

    for path in ("enable", "disable", "delete"):
        response = admin.post(f"/events/triggers/{path}", json={"name": "nope"})
        assert response.json() == {"detail": "Trigger does not exist."}
        assert response.status_code == 400


def test_a_used_parameter_set_cannot_be_deleted_a_deleted_service_takes_its_triggers(
    admin: httpx.Client, svc: Client
) -> None:
    _create(admin, parameters=None, parameter_set_name="ps")

    body = {"service_name": "svc", "name": "ps"}
    response = admin.post("/service/delete-parameter-set", json=body)
    assert response.status_code == 409
    assert response.json() == {"detail": "Parameter set is used by triggers: t."}

    svc.services.delete_service("svc")
    assert _listed(admin) == {}
