"""The logged-in user's role, asked of the backend, and what each role may do.

The pages show a write control (add, edit, delete, run) only to a role the backend lets
use it: `tests/backend/test_authorization.py` pins the backend's side. The backend still
refuses (403) whatever is sent by hand.
"""

from __future__ import annotations

from dtbase.client import Client
from dtbase.schemas.users import Role, UserDetails

# Who may write data, run services and manage schedules (viewers read only).
WRITERS = frozenset({Role.admin, Role.user})


def may_write(role: Role | None) -> bool:
    """Add, edit and delete sensors, locations, parameter sets, schedules; run services."""
    return role in WRITERS


def may_administer(role: Role | None) -> bool:
    """Manage users; register, change and delete services."""
    return role == Role.admin


def role_of(client: Client) -> Role:
    """The role of the user `client` is logged in as."""
    return client.users.me().role


def users_and_role(client: Client) -> tuple[list[UserDetails] | None, Role]:
    """Every user's details (None unless an admin asks) and the caller's own role."""
    role = role_of(client)
    users = client.users.list_users_details() if may_administer(role) else None
    return users, role
