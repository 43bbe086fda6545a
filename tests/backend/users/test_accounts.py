"""Account rules the audit broke (issue 15): the last admin stays (item 9, 12), passwords
have 8 characters at least and one email is one account whatever its case (item 11)."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from dtbase.backend.app import create_app
from dtbase.backend.db import make_session_factory
from dtbase.backend.errors import Conflict
from dtbase.backend.users import store
from dtbase.core.settings import DEFAULT_USER_EMAIL, BackendSettings
from dtbase.schemas.users import Role
from tests.utils.accounts import UserFactory
from tests.utils.locks import when_blocked
from tests.utils.settings import DEFAULT_PASSWORD


def _details(admin: httpx.Client) -> list[dict[str, str]]:
    return list(admin.get("/user/list-users-details").json())


def test_the_last_admin_cannot_delete_itself(admin: httpx.Client) -> None:
    response = admin.post("/user/delete-user", json={"email": DEFAULT_USER_EMAIL})

    assert response.status_code == 409
    assert "last admin" in response.json()["detail"]
    assert _details(admin) == [{"email": DEFAULT_USER_EMAIL, "role": "admin"}]


def test_an_admin_may_go_while_another_remains(
    admin: httpx.Client, user_factory: UserFactory
) -> None:
    other = user_factory(Role.admin, "other-admin@example.com")

    assert other.post("/user/delete-user", json={"email": DEFAULT_USER_EMAIL}).status_code == 200
    assert _details(other) == [{"email": "other-admin@example.com", "role": "admin"}]


@pytest.mark.parametrize("action", ["delete", "set_role"])
def test_two_admins_removing_each_other_at_once_leave_one(
    admin: httpx.Client, user_factory: UserFactory, engine: Engine, action: str
) -> None:
    # Two requests' transactions on the real database: the first has removed the other
    # admin but not committed yet when the second, which checked its caller before, tries
    # to remove the first. Without the admins' rows locked, both commit and none is left.
    user_factory(Role.admin, "other-admin@example.com")

    def remove(session: Session, email: str) -> None:
        if action == "delete":
            store.delete(session, email=email)
        else:
            store.set_role(session, email=email, role=Role.user)

    factory = make_session_factory(engine)
    with factory() as first, factory() as second:
        remove(first, "other-admin@example.com")
        second_pid = second.scalar(text("SELECT pg_backend_pid()"))
        with pytest.raises(Conflict, match="last admin"):
            when_blocked(engine, first, lambda: remove(second, DEFAULT_USER_EMAIL), second_pid)

    admins = [user["email"] for user in _details(admin) if user["role"] == "admin"]
    assert admins == [DEFAULT_USER_EMAIL]


def _lock_waiters(engine: Engine, count: int) -> None:
    query = text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
    deadline = time.monotonic() + 30
    with engine.connect() as connection:
        while connection.execute(query).scalar_one() < count:
            # pg_stat_activity is a snapshot per transaction: end it to look again.
            connection.rollback()
            assert time.monotonic() < deadline, f"{count} requests never waited for a lock"
            time.sleep(0.02)


def test_two_admins_deleting_each_other_over_http_leave_one(
    admin: httpx.Client, user_factory: UserFactory, engine: Engine
) -> None:
    other = user_factory(Role.admin, "other-admin@example.com")
    # Both requests are held at the same point (the users' rows locked here), then
    # released together: each has checked its caller before the other's change.
    holder = make_session_factory(engine)()
    holder.execute(text("SELECT id FROM users FOR UPDATE"))
    try:
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(
                admin.post, "/user/delete-user", json={"email": "other-admin@example.com"}
            )
            second = pool.submit(
                other.post, "/user/delete-user", json={"email": DEFAULT_USER_EMAIL}
            )
            _lock_waiters(engine, 2)
            holder.commit()
            codes = sorted([first.result(30).status_code, second.result(30).status_code])
    finally:
        holder.close()

    assert codes == [200, 409]
    with engine.connect() as connection:  # either may have won: ask the database
        admins = connection.execute(text("SELECT count(*) FROM users WHERE role = 'admin'"))
        assert admins.scalar_one() == 1


@pytest.mark.parametrize("password", ["1", "seven77"])
def test_short_passwords_are_refused(
    admin: httpx.Client, anonymous: httpx.Client, password: str
) -> None:
    created = admin.post("/user/create-user", json={"email": "a@b.org", "password": password})
    changed = admin.post(
        "/user/change-password", json={"email": DEFAULT_USER_EMAIL, "password": password}
    )

    assert (created.status_code, changed.status_code) == (422, 422)
    assert created.json()["detail"][0]["loc"] == ["body", "password"]
    assert [user["email"] for user in _details(admin)] == [DEFAULT_USER_EMAIL]
    login = {"email": DEFAULT_USER_EMAIL, "password": DEFAULT_PASSWORD}
    assert anonymous.post("/auth/login", json=login).status_code == 200


def test_eight_characters_are_enough(admin: httpx.Client) -> None:
    # DTBase's own tests create users with 8-character passwords.
    body = {"email": "a@b.org", "password": "password"}
    assert admin.post("/user/create-user", json=body).status_code == 201


def test_one_email_is_one_account_whatever_its_case(
    admin: httpx.Client, anonymous: httpx.Client
) -> None:
    body = {"email": "Alice@Example.org", "password": "alice's password"}
    assert admin.post("/user/create-user", json=body).status_code == 201

    twice = admin.post("/user/create-user", json={**body, "email": "alice@example.org"})
    login = anonymous.post("/auth/login", json={**body, "email": "ALICE@example.ORG"})

    assert twice.status_code == 409
    assert login.status_code == 200
    me = anonymous.get(
        "/user/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"}
    )
    assert me.json() == {"email": "Alice@Example.org", "role": "user"}
    assert [user["email"] for user in _details(admin)] == [DEFAULT_USER_EMAIL, "Alice@Example.org"]


def test_a_user_changes_their_own_password_in_another_case(
    user_factory: UserFactory, anonymous: httpx.Client
) -> None:
    me = user_factory(Role.viewer, "me@example.com")

    response = me.post(
        "/user/change-password", json={"email": "ME@example.com", "password": "my new password"}
    )

    assert response.status_code == 200
    login = {"email": "me@example.com", "password": "my new password"}
    assert anonymous.post("/auth/login", json=login).status_code == 200


def _start_backend(settings: BackendSettings, database_url: str) -> None:
    """Start (and stop) a backend without DT_DEFAULT_USER_PASS, as production may."""
    app = create_app(
        settings.model_copy(update={"default_user_pass": None}), database_url=database_url
    )
    with TestClient(app):
        pass


def test_a_backend_without_default_password_keeps_the_only_admin(
    admin: httpx.Client,
    settings: BackendSettings,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="dtbase.backend.users.store"):
        _start_backend(settings, database_url)

    assert _details(admin) == [{"email": DEFAULT_USER_EMAIL, "role": "admin"}]
    assert "only admin: it is kept" in caplog.text


def test_a_backend_without_default_password_removes_it_when_another_admin_exists(
    admin: httpx.Client,
    user_factory: UserFactory,
    settings: BackendSettings,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    other = user_factory(Role.admin, "other-admin@example.com")
    with caplog.at_level(logging.INFO, logger="dtbase.backend.users.store"):
        _start_backend(settings, database_url)

    assert _details(other) == [{"email": "other-admin@example.com", "role": "admin"}]
    assert "removed the default user" in caplog.text
    assert admin.get("/user/me").status_code == 401  # its tokens went with it
