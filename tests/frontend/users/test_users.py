"""The users area: admins manage users; everyone changes their own password."""

from __future__ import annotations

import pytest

from dtbase.client import ApiError, Client
from dtbase.core.settings import DEFAULT_USER_EMAIL
from dtbase.schemas.users import Role
from tests.utils.accounts import password_of
from tests.utils.settings import DEFAULT_PASSWORD
from tests.utils.visitors import Visitor, VisitorFactory, text_of

PAGE = "/users/index"


def _roles(client: Client) -> dict[str, Role]:
    return {user.email: user.role for user in client.users.list_users_details()}


def test_admin_sees_every_user_with_their_role(admin_visitor: Visitor, client: Client) -> None:
    client.users.create_user("viewer@example.com", "password", Role.viewer)

    page = admin_visitor.get(PAGE)

    assert page.status_code == 200
    assert 'data-testid="users-table"' in page.text
    assert 'data-email="viewer@example.com"' in page.text
    assert f'data-email="{DEFAULT_USER_EMAIL}"' in page.text
    assert "Add a user" in page.text
    assert '<option value="viewer" selected>viewer</option>' in page.text


def test_admin_creates_a_user(admin_visitor: Visitor, client: Client) -> None:
    response = admin_visitor.submit(
        PAGE,
        "/users/create",
        {"email": "new@example.com", "password": "a-password", "role": "viewer"},
    )

    assert response.request.path == PAGE
    assert "User new@example.com created (viewer)." in text_of(response)
    assert 'data-email="new@example.com"' in response.text
    assert _roles(client)["new@example.com"] == Role.viewer


def test_creating_an_existing_user_flashes_the_backend_answer(
    admin_visitor: Visitor, client: Client
) -> None:
    client.users.create_user("twice@example.com", "password")

    response = admin_visitor.submit(
        PAGE,
        "/users/create",
        {"email": "twice@example.com", "password": "password", "role": "user"},
    )

    assert (response.status_code, response.request.path) == (409, "/users/create")
    assert 'class="flash flash-error"' in response.text
    assert "already exists" in text_of(response)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "not-an-email", "password": "password", "role": "user"}, "Enter a valid email"),
        ({"email": "a@example.com", "password": "", "role": "user"}, "This field is required."),
        ({"email": "a@example.com", "password": "password", "role": "root"}, "Not a valid choice"),
    ],
)
def test_invalid_new_user_is_refused_with_a_reason(
    admin_visitor: Visitor, client: Client, data: dict[str, str], message: str
) -> None:
    response = admin_visitor.submit(PAGE, "/users/create", data)

    assert response.status_code == 422
    assert message in text_of(response)
    assert "a@example.com" not in _roles(client)


def test_create_without_csrf_token_is_refused(admin_visitor: Visitor, client: Client) -> None:
    response = admin_visitor.client.post(
        "/users/create",
        data={"email": "sneaky@example.com", "password": "password", "role": "admin"},
    )

    assert response.status_code == 400
    assert "sneaky@example.com" not in _roles(client)


def test_admin_changes_a_role(admin_visitor: Visitor, client: Client) -> None:
    client.users.create_user("promoted@example.com", "password", Role.viewer)

    response = admin_visitor.submit(
        PAGE, "/users/set-role", {"email": "promoted@example.com", "role": "admin"}
    )

    assert "promoted@example.com is now admin." in text_of(response)
    assert _roles(client)["promoted@example.com"] == Role.admin


def test_admin_cannot_demote_themself(admin_visitor: Visitor, client: Client) -> None:
    response = admin_visitor.submit(
        PAGE, "/users/set-role", {"email": DEFAULT_USER_EMAIL, "role": "viewer"}
    )

    assert response.status_code == 200
    assert "You cannot remove your own admin role" in text_of(response)
    assert _roles(client)[DEFAULT_USER_EMAIL] == Role.admin


def test_changing_the_role_of_nobody_flashes_the_backend_answer(admin_visitor: Visitor) -> None:
    response = admin_visitor.submit(
        PAGE, "/users/set-role", {"email": "ghost@example.com", "role": "user"}
    )

    assert response.status_code == 200
    assert "User doesn't exist" in text_of(response)


def test_admin_deletes_a_user(admin_visitor: Visitor, client: Client) -> None:
    client.users.create_user("gone@example.com", "password")

    response = admin_visitor.submit(PAGE, "/users/delete", {"email": "gone@example.com"})

    assert "User gone@example.com deleted." in text_of(response)
    assert "gone@example.com" not in _roles(client)


def test_deleting_nobody_flashes_the_backend_answer(admin_visitor: Visitor) -> None:
    response = admin_visitor.submit(PAGE, "/users/delete", {"email": "ghost@example.com"})

    assert response.status_code == 200
    assert "User doesn't exist" in text_of(response)


@pytest.mark.parametrize("role", [Role.user, Role.viewer])
def test_non_admin_sees_only_their_own_account(visitor_factory: VisitorFactory, role: Role) -> None:
    member = visitor_factory(role, "member@example.com")

    page = member.get(PAGE)

    assert page.status_code == 200
    assert "users-table" not in page.text
    assert "Add a user" not in page.text
    assert "member@example.com" in page.text
    assert f'<span class="badge badge-{role}">{role}</span>' in page.text
    assert "Only admins can see and manage other users." in page.text


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("/users/create", {"email": "x@example.com", "password": "password", "role": "admin"}),
        ("/users/delete", {"email": DEFAULT_USER_EMAIL}),
        ("/users/set-role", {"email": DEFAULT_USER_EMAIL, "role": "viewer"}),
    ],
)
def test_admin_actions_of_a_non_admin_are_refused_by_the_backend(
    visitor_factory: VisitorFactory, client: Client, action: str, data: dict[str, str]
) -> None:
    member = visitor_factory(Role.user)

    response = member.submit(PAGE, action, data)

    # A failed form comes back at its own address; a failed button goes back to the page.
    kept = action == "/users/create"
    assert (response.status_code, response.request.path) == ((403, action) if kept else (200, PAGE))
    assert "This action needs the role 'admin'" in text_of(response)
    assert _roles(client)[DEFAULT_USER_EMAIL] == Role.admin


def test_user_made_admin_sees_the_admin_tools_without_logging_in_again(
    visitor_factory: VisitorFactory, client: Client
) -> None:
    member = visitor_factory(Role.user, "rising@example.com")
    client.users.set_role("rising@example.com", Role.admin)

    page = member.get(PAGE)

    assert 'data-testid="users-table"' in page.text
    assert '<span class="badge badge-admin">admin</span>' in page.text


@pytest.mark.parametrize("role", [Role.user, Role.viewer, Role.admin])
def test_everyone_changes_their_own_password(
    visitor_factory: VisitorFactory, live_backend: str, role: Role
) -> None:
    email = f"{role}@example.com"
    member = visitor_factory(role, email)

    response = member.submit(
        PAGE, "/users/change-password", {"password": "new-secret", "confirm": "new-secret"}
    )

    assert "Your password is changed." in text_of(response)
    with Client(live_backend) as api:
        with pytest.raises(ApiError):
            api.login(email, password_of(email))
        api.login(email, "new-secret")
    # The backend ended the old session; the site logged in again with the new password.
    assert member.get(PAGE).status_code == 200


def test_a_short_password_is_refused_by_the_form(admin_visitor: Visitor, live_backend: str) -> None:
    response = admin_visitor.submit(
        PAGE, "/users/change-password", {"password": "1", "confirm": "1"}
    )

    assert "A password needs at least 8 characters." in text_of(response)
    with Client(live_backend) as api:
        api.login(DEFAULT_USER_EMAIL, DEFAULT_PASSWORD)  # unchanged
        with pytest.raises(ApiError):
            api.login(DEFAULT_USER_EMAIL, "1")


def test_a_new_user_with_a_short_password_is_refused(
    admin_visitor: Visitor, client: Client
) -> None:
    response = admin_visitor.submit(
        PAGE, "/users/create", {"email": "short@example.com", "password": "1", "role": "user"}
    )

    assert "A password needs at least 8 characters." in text_of(response)
    assert client.users.list_users() == [DEFAULT_USER_EMAIL]


def test_password_confirmation_must_match(admin_visitor: Visitor, live_backend: str) -> None:
    response = admin_visitor.submit(
        PAGE, "/users/change-password", {"password": "password one", "confirm": "password two"}
    )

    assert "The passwords differ." in text_of(response)
    with Client(live_backend) as api, pytest.raises(ApiError):
        api.login(DEFAULT_USER_EMAIL, "password one")
