"""/events/subscriptions over HTTP: who may do what, what is refused, what is never shown."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from dtbase.backend.db import make_session_factory
from dtbase.client import Client
from dtbase.client.errors import ApiError
from dtbase.core.settings import DEFAULT_USER_EMAIL
from dtbase.schemas.events import EventQuery
from dtbase.schemas.users import Role
from tests.utils.accounts import UserFactory
from tests.utils.webhooks import emit

URL = "http://127.0.0.1:9/hook"
PATH = "/events/subscriptions"


def _create(client: httpx.Client, **fields: Any) -> httpx.Response:
    return client.post(f"{PATH}/create", json={"name": "hook", "url": URL, **fields})


def _listed(client: httpx.Client) -> list[dict[str, Any]]:
    response = client.post(f"{PATH}/list")
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()
    return listed


def test_created_with_a_secret_shown_once_and_never_listed(admin: httpx.Client) -> None:
    response = _create(admin, query={"kind": "readings.stored", "sensor": ["a", "b"]})
    assert response.status_code == 201, response.text
    secret = response.json()["secret"]
    assert len(secret) >= 40

    listed = _listed(admin)
    assert secret not in str(listed)
    assert "secret" not in listed[0]
    assert listed[0]["name"] == "hook"
    assert listed[0]["query"]["kind"] == ["readings.stored"]
    assert listed[0]["query"]["sensor"] == ["a", "b"]
    assert listed[0]["enabled"] is True
    assert listed[0]["created_by"] == DEFAULT_USER_EMAIL
    assert listed[0]["consecutive_failures"] == 0

    rotated = admin.post(f"{PATH}/rotate-secret", json={"name": "hook"})
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["secret"] not in {secret, ""}
    assert rotated.json()["secret"] not in str(_listed(admin))


def test_a_new_subscription_starts_after_the_newest_event_or_where_it_is_told(
    admin: httpx.Client, engine: Engine
) -> None:
    emit(make_session_factory(engine), 3)
    assert _create(admin).status_code == 201
    assert _create(admin, name="replay", after=1).status_code == 201
    cursors = {item["name"]: item["last_event_id"] for item in _listed(admin)}
    assert cursors == {"hook": 3, "replay": 1}


@pytest.mark.parametrize(
    "call",
    [
        ("create", {"name": "other", "url": URL}),
        ("edit", {"name": "hook", "url": "http://127.0.0.1:10/"}),
        ("enable", {"name": "hook"}),
        ("disable", {"name": "hook"}),
        ("rotate-secret", {"name": "hook"}),
        ("delete", {"name": "hook"}),
    ],
)
@pytest.mark.parametrize("role", [Role.user, Role.viewer])
def test_only_admins_change_subscriptions(
    admin: httpx.Client, user_factory: UserFactory, role: Role, call: tuple[str, dict[str, Any]]
) -> None:
    assert _create(admin).status_code == 201
    before = _listed(admin)
    path, body = call
    response = user_factory(role).post(f"{PATH}/{path}", json=body)
    assert response.status_code == 403, response.text
    assert _listed(admin) == before


def test_any_user_lists_without_secrets_and_keys_in_urls_masked(
    admin: httpx.Client, user_factory: UserFactory
) -> None:
    response = _create(admin, url=f"{URL}?code=function-key")
    assert response.status_code == 201
    viewer = user_factory(Role.viewer)
    listed = _listed(viewer)
    assert [item["name"] for item in listed] == ["hook"]
    assert "function-key" not in str(listed)
    assert "function-key" in str(_listed(admin))
    log = viewer.post(f"{PATH}/delivery-log", json={"name": "hook"})
    assert log.status_code == 200, log.text
    assert log.json() == []


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://example.org/hook",
        "https://[::ffff:10.0.0.1]/",
    ],
)
def test_a_url_off_the_allow_list_is_a_400_naming_the_rule(admin: httpx.Client, url: str) -> None:
    response = _create(admin, url=url)
    assert response.status_code == 400, response.text
    assert "DT_WEBHOOK_URL_ALLOWLIST" in response.json()["detail"]
    assert _listed(admin) == []

    assert _create(admin).status_code == 201
    edited = admin.post(f"{PATH}/edit", json={"name": "hook", "url": url})
    assert edited.status_code == 400, edited.text
    assert "DT_WEBHOOK_URL_ALLOWLIST" in edited.json()["detail"]
    assert _listed(admin)[0]["url"] == URL


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/hook", "127.0.0.1/hook", "http:///hook"])
def test_a_url_that_is_not_http_is_a_400(admin: httpx.Client, url: str) -> None:
    response = _create(admin, url=url)
    assert response.status_code == 400, response.text
    assert _listed(admin) == []


@pytest.mark.parametrize(
    "fields",
    [
        {"query": {"kind": "no.such.kind"}},
        {"query": {"colour": "red"}},
        {"query": {"sensor": []}},
        {"query": "readings.stored"},
        {"querry": {"kind": "readings.stored"}},
        {"secret": "too-short"},
        {"secret": "x" * 257},
        {"after": -1},
        {"after": 1},  # no event yet
        {"name": "  "},
        {"name": "n" * 101},
        {"name": None},
        {"url": None},
        {"url": "http://127.0.0.1/\u0000"},
    ],
)
def test_bad_input_is_a_422_and_nothing_is_created(
    admin: httpx.Client, fields: dict[str, Any]
) -> None:
    response = _create(admin, **fields)
    assert response.status_code == 422, response.text
    assert _listed(admin) == []


def test_names_are_unique_and_unknown_names_are_a_400(admin: httpx.Client) -> None:
    assert _create(admin).status_code == 201
    assert _create(admin, name="other").status_code == 201
    assert _create(admin).status_code == 409
    renamed = admin.post(f"{PATH}/edit", json={"name": "other", "new_name": "hook"})
    assert renamed.status_code == 409, renamed.text
    for path in ("edit", "enable", "disable", "rotate-secret", "delete", "delivery-log"):
        response = admin.post(f"{PATH}/{path}", json={"name": "nothing"})
        assert response.status_code == 400, (path, response.text)
        assert response.json()["detail"] == "Subscription does not exist."
    assert sorted(item["name"] for item in _listed(admin)) == ["hook", "other"]


def test_disable_enable_edit_and_delete(admin: httpx.Client) -> None:
    assert _create(admin).status_code == 201
    assert admin.post(f"{PATH}/disable", json={"name": "hook"}).status_code == 200
    (item,) = _listed(admin)
    assert item["enabled"] is False
    assert item["disabled_reason"] == f"Disabled by {DEFAULT_USER_EMAIL}."

    assert admin.post(f"{PATH}/enable", json={"name": "hook"}).status_code == 200
    (item,) = _listed(admin)
    assert (item["enabled"], item["disabled_reason"]) == (True, None)

    edit = {"name": "hook", "new_name": "renamed", "query": {"model": "m"}}
    assert admin.post(f"{PATH}/edit", json=edit).status_code == 200
    (item,) = _listed(admin)
    assert item["name"] == "renamed"
    assert {k: v for k, v in item["query"].items() if v is not None} == {"model": ["m"]}

    assert admin.post(f"{PATH}/delete", json={"name": "renamed"}).status_code == 200
    assert _listed(admin) == []


def test_the_client_covers_the_endpoints(client: Client) -> None:
    created = client.subscriptions.create_subscription(
        "hook", URL, {"kind": "sensor.created"}, secret="s" * 32
    )
    assert created.secret == "s" * 32
    (listed,) = client.subscriptions.list_subscriptions()
    assert listed.query == EventQuery(kind=["sensor.created"])
    client.subscriptions.edit_subscription("hook", query=EventQuery(sensor="a"))
    client.subscriptions.disable_subscription("hook")
    client.subscriptions.enable_subscription("hook")
    assert client.subscriptions.rotate_secret("hook").secret != created.secret
    assert client.subscriptions.delivery_log("hook") == []
    client.subscriptions.delete_subscription("hook")
    assert client.subscriptions.list_subscriptions() == []
    with pytest.raises(ApiError) as refused:
        client.subscriptions.create_subscription("hook", "http://10.1.2.3/")
    assert refused.value.status_code == 400


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("edit", {"name": "hook", "query": {"kind": "nothing.happened"}}),
        ("edit", {"name": "hook", "new_name": ""}),
        ("edit", {"name": "hook", "url": "http://127.0.0.1/" + "x" * 3000}),
        ("edit", {"name": "hook", "secret": "s" * 32}),  # rotate-secret changes it
        ("rotate-secret", {"name": "hook", "secret": "short"}),
        ("delivery-log", {"name": "hook", "limit": 0}),
        ("delivery-log", {"name": "hook", "limit": 201}),
        ("enable", {"name": "hook", "extra": True}),
        ("delete", {}),
        ("delete", []),
    ],
)
def test_bad_input_to_the_other_endpoints_is_a_422_and_changes_nothing(
    admin: httpx.Client, path: str, body: Any
) -> None:
    assert _create(admin).status_code == 201
    before = _listed(admin)
    response = admin.post(f"{PATH}/{path}", json=body)
    assert response.status_code == 422, response.text
    assert _listed(admin) == before


def test_a_body_that_is_not_json_is_a_422(admin: httpx.Client) -> None:
    response = admin.post(
        f"{PATH}/create", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert _listed(admin) == []
