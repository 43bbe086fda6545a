from __future__ import annotations

import httpx
import pytest

from dtbase.core.settings import DEFAULT_USER_EMAIL
from dtbase.schemas.users import Role
from tests.utils.accounts import UserFactory

NEW_USER = {"email": "test@test.com", "password": "a password"}


def _emails(admin: httpx.Client) -> list[str]:
    response = admin.get("/user/list-users")
    assert response.status_code == 200
    return list(response.json())


def test_list_users_starts_with_the_default_user(admin: httpx.Client) -> None:
    assert _emails(admin) == [DEFAULT_USER_EMAIL]


def test_create_user_then_log_in(admin: httpx.Client, anonymous: httpx.Client) -> None:
    response = admin.post("/user/create-user", json=NEW_USER)

    assert response.status_code == 201
    assert response.json() == {"detail": "User created"}
    assert _emails(admin) == [DEFAULT_USER_EMAIL, NEW_USER["email"]]
    assert anonymous.post("/auth/login", json=NEW_USER).status_code == 200


def test_new_users_get_the_user_role_unless_told(admin: httpx.Client) -> None:
    admin.post("/user/create-user", json=NEW_USER)
    admin.post(
        "/user/create-user",
        json={"email": "v@x.org", "password": "viewer-password", "role": "viewer"},
    )

    details = admin.get("/user/list-users-details").json()

    assert details == [
        {"email": DEFAULT_USER_EMAIL, "role": "admin"},
        {"email": NEW_USER["email"], "role": "user"},
        {"email": "v@x.org", "role": "viewer"},
    ]


def test_duplicate_user_is_409_and_changes_nothing(
    admin: httpx.Client, anonymous: httpx.Client
) -> None:
    admin.post("/user/create-user", json=NEW_USER)

    response = admin.post("/user/create-user", json={**NEW_USER, "password": "other-password"})

    assert response.status_code == 409
    assert response.json() == {"detail": "User already exists"}
    assert anonymous.post("/auth/login", json=NEW_USER).status_code == 200


@pytest.mark.parametrize(
    ("body", "error_type", "loc"),
    [
        ({"email": "not-an-email", "password": "password"}, "value_error", ["body", "email"]),
        ({"email": "a@b.c d", "password": "password"}, "value_error", ["body", "email"]),
        ({"email": "a@b.com"}, "missing", ["body", "password"]),
        ({"email": "a@b.com", "password": ""}, "string_too_short", ["body", "password"]),
        ({"email": "a@b.com", "password": 5}, "string_type", ["body", "password"]),
        ({"email": "a@b.com", "password": "password", "role": "boss"}, "enum", ["body", "role"]),
    ],
)
def test_create_user_rejects_bad_input(
    admin: httpx.Client, body: dict[str, object], error_type: str, loc: list[object]
) -> None:
    response = admin.post("/user/create-user", json=body)

    assert response.status_code == 422
    errors = response.json()["detail"]
    assert [(e["type"], e["loc"]) for e in errors] == [(error_type, loc)]
    assert _emails(admin) == [DEFAULT_USER_EMAIL]


def test_delete_user_revokes_their_tokens(admin: httpx.Client, user_factory: UserFactory) -> None:
    someone = user_factory(Role.user, "someone@example.com")

    response = admin.post("/user/delete-user", json={"email": "someone@example.com"})

    assert response.status_code == 200
    assert response.json() == {"detail": "User deleted"}
    assert _emails(admin) == [DEFAULT_USER_EMAIL]
    stale = someone.post(
        "/user/change-password", json={"email": "someone@example.com", "password": "x" * 8}
    )
    assert stale.status_code == 401
    assert stale.json() == {"detail": "Could not validate credentials"}


@pytest.mark.parametrize("path", ["/user/delete-user", "/user/change-password"])
def test_unknown_user_is_400(admin: httpx.Client, path: str) -> None:
    response = admin.post(path, json={"email": "nobody@example.com", "password": "p" * 8})

    assert response.status_code == 400
    assert response.json() == {"detail": "User doesn't exist"}


def test_admin_changes_someone_elses_password(admin: httpx.Client, anonymous: httpx.Client) -> None:
    admin.post("/user/create-user", json=NEW_USER)

    response = admin.post(
        "/user/change-password", json={"email": NEW_USER["email"], "password": "new password"}
    )

    assert response.status_code == 200
    assert response.json() == {"detail": "Password changed"}
    assert anonymous.post("/auth/login", json=NEW_USER).status_code == 401
    assert (
        anonymous.post("/auth/login", json={**NEW_USER, "password": "new password"}).status_code
        == 200
    )


@pytest.mark.parametrize("role", [Role.viewer, Role.user])
def test_everyone_changes_their_own_password(
    user_factory: UserFactory, anonymous: httpx.Client, role: Role
) -> None:
    me = user_factory(role, "me@example.com")

    response = me.post(
        "/user/change-password", json={"email": "me@example.com", "password": "new password"}
    )

    assert response.status_code == 200
    login = anonymous.post(
        "/auth/login", json={"email": "me@example.com", "password": "new password"}
    )
    assert login.status_code == 200


ADMIN_ACTIONS: list[tuple[str, str, dict[str, object] | None]] = [
    ("GET", "/user/list-users", None),
    ("GET", "/user/list-users-details", None),
    ("POST", "/user/create-user", {"email": "x@example.com", "password": "p" * 8}),
    ("POST", "/user/delete-user", {"email": DEFAULT_USER_EMAIL}),
    ("POST", "/user/change-password", {"email": DEFAULT_USER_EMAIL, "password": "p" * 8}),
    ("POST", "/user/set-role", {"email": DEFAULT_USER_EMAIL, "role": "viewer"}),
]


@pytest.mark.parametrize("role", [Role.viewer, Role.user])
@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ACTIONS)
def test_non_admins_get_403_on_user_management(
    user_factory: UserFactory,
    admin: httpx.Client,
    anonymous: httpx.Client,
    role: Role,
    method: str,
    path: str,
    body: dict[str, object] | None,
) -> None:
    someone = user_factory(role)

    response = someone.request(method, path, json=body)

    assert response.status_code == 403
    assert "admin" in response.json()["detail"]
    assert admin.get("/user/list-users-details").json()[0] == {
        "email": DEFAULT_USER_EMAIL,
        "role": "admin",
    }
    still = anonymous.post(
        "/auth/login", json={"email": DEFAULT_USER_EMAIL, "password": "default-password-for-tests"}
    )
    assert still.status_code == 200


def test_set_role(admin: httpx.Client, user_factory: UserFactory) -> None:
    someone = user_factory(Role.viewer, "v@example.com")
    assert someone.get("/user/list-users").status_code == 403

    response = admin.post("/user/set-role", json={"email": "v@example.com", "role": "admin"})

    assert response.status_code == 200
    assert someone.get("/user/list-users").status_code == 200


def test_admin_cannot_demote_themself(admin: httpx.Client) -> None:
    response = admin.post("/user/set-role", json={"email": DEFAULT_USER_EMAIL, "role": "user"})

    assert response.status_code == 403
    assert admin.get("/user/list-users-details").json()[0]["role"] == "admin"


@pytest.mark.parametrize("role", [Role.viewer, Role.user, Role.admin])
def test_me_tells_who_the_token_belongs_to(user_factory: UserFactory, role: Role) -> None:
    someone = user_factory(role, f"{role}@example.com")

    response = someone.get("/user/me")

    assert response.status_code == 200
    assert response.json() == {"email": f"{role}@example.com", "role": role}
