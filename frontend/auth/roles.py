"""The logged-in user's role, asked of the backend."""

from __future__ import annotations

from dtbase.client import Client
from dtbase.schemas.users import Role, UserDetails


def role_of(client: Client) -> Role:
    """The role of the user `client` is logged in as."""
    return client.users.me().role


def users_and_role(client: Client) -> tuple[list[UserDetails] | None, Role]:
    """Every user's details (None unless an admin asks) and the caller's own role."""
    role = role_of(client)
    users = client.users.list_users_details() if role == Role.admin else None
    return users, role
