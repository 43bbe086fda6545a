"""Walk every route of the running app: tokens and roles are enforced everywhere.

Routes are classified by the verb their path starts with (`/<domain>/<verb>-<noun>`), so a
new route with a new verb fails here until someone decides whether it reads or writes.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from dtbase.core.settings import DEFAULT_USER_EMAIL
from dtbase.schemas.users import Role
from tests.utils.accounts import UserFactory

# Logout ends the walker's own session, so it is left out (tests/backend/auth covers it).
PUBLIC = {("POST", "/auth/login"), ("GET", "/health"), ("POST", "/auth/logout")}
WRITE_VERBS = {
    "insert",
    "create",
    "delete",
    "edit",
    "change",
    "set",
    "run",
    "assign",
    "enable",
    "disable",
    "rotate",
}
READ_VERBS = {"list", "get", "sensor", "refresh", "me", "export", "delivery", "stream"}
ADMIN_ONLY = {
    "/user/list-users",
    "/user/list-users-details",
    "/user/create-user",
    "/user/delete-user",
    "/user/set-role",
    "/service/delete-service",
    # A service's URL receives its parameter sets, keys included (issue 15, item 1).
    "/service/insert-service",
    "/service/edit-service",
    # Changing a code changes what data already in the FDB means.
    "/fdb/edit-model-code",
    "/fdb/edit-scenario-code",
    "/fdb/edit-measure-code",
    # A webhook's URL is where the backend sends requests (SSRF), signed with its secret.
    "/events/subscriptions/create",
    "/events/subscriptions/edit",
    "/events/subscriptions/enable",
    "/events/subscriptions/disable",
    "/events/subscriptions/rotate-secret",
    "/events/subscriptions/delete",
}
# Everyone may change their own password (admins anyone's): checked in the users tests.
SELF_SERVICE = {"/user/change-password"}


def _operations(client: httpx.Client) -> list[tuple[str, str]]:
    schema = client.get("/openapi.json").json()
    return sorted(
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if (method.upper(), path) not in PUBLIC
    )


def _status(client: httpx.Client, method: str, path: str, **options: Any) -> int:
    """The answer's status only: the body is not read, as an event stream never ends."""
    with client.stream(method, path, **options) as answer:
        return answer.status_code


def _verb(path: str) -> str:
    return path.rsplit("/", 1)[-1].split("-", 1)[0]


def test_every_route_is_classified(anonymous: httpx.Client) -> None:
    verbs = {_verb(path) for _, path in _operations(anonymous)}

    assert verbs <= WRITE_VERBS | READ_VERBS, verbs - WRITE_VERBS - READ_VERBS
    assert len(_operations(anonymous)) >= 49


def test_no_token_gives_401_everywhere(anonymous: httpx.Client) -> None:
    answers = {
        (method, path): _status(anonymous, method, path) for method, path in _operations(anonymous)
    }

    assert {op: code for op, code in answers.items() if code != 401} == {}


def test_viewers_get_403_on_every_write_and_may_read(
    anonymous: httpx.Client, user_factory: UserFactory
) -> None:
    viewer = user_factory(Role.viewer)
    wrong = {}
    for method, path in _operations(anonymous):
        if path in SELF_SERVICE:
            continue
        code = _status(viewer, method, path, json={})
        must_refuse = _verb(path) in WRITE_VERBS or path in ADMIN_ONLY
        if must_refuse != (code == 403):
            wrong[(method, path)] = code

    assert wrong == {}


def test_users_get_403_on_admin_actions_only(
    anonymous: httpx.Client, user_factory: UserFactory
) -> None:
    user = user_factory(Role.user)
    wrong = {}
    for method, path in _operations(anonymous):
        body = {"email": DEFAULT_USER_EMAIL, "password": "x" * 12} if path in SELF_SERVICE else {}
        code = _status(user, method, path, json=body)
        must_refuse = path in ADMIN_ONLY or path in SELF_SERVICE
        if must_refuse != (code == 403):
            wrong[(method, path)] = code

    assert wrong == {}


@pytest.mark.parametrize("role", [Role.viewer, Role.user])
def test_refused_writes_change_nothing(
    admin: httpx.Client, user_factory: UserFactory, role: Role
) -> None:
    someone = user_factory(role)
    admin.post(
        "/service/insert-service",
        json={"name": "s", "url": "http://localhost:1/x", "http_method": "GET"},
    )

    someone.post("/service/delete-service", json={"name": "s"})
    someone.post("/user/delete-user", json={"email": DEFAULT_USER_EMAIL})

    assert [s["name"] for s in admin.get("/service/list-services").json()] == ["s"]
    assert DEFAULT_USER_EMAIL in admin.get("/user/list-users").json()
