from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from dtbase.backend.auth.deps import Admin, CurrentUser, check_role
from dtbase.backend.db import SessionDep
from dtbase.backend.errors import Forbidden
from dtbase.backend.routing import documented, protected_router
from dtbase.backend.users import store
from dtbase.schemas.common import Msg
from dtbase.schemas.users import (
    ChangePasswordRequest,
    CreateUserRequest,
    DeleteUserRequest,
    Role,
    SetRoleRequest,
    UserDetails,
)

router: APIRouter = protected_router(prefix="/user", tags=["user"])
NO_SUCH_USER: dict[int | str, dict[str, Any]] = {
    400: {"model": Msg, "description": "User doesn't exist"}
}


@router.get("/list-users", response_model=list[str])
def list_users(session: SessionDep, _: Admin) -> list[str]:
    """Every user's email, oldest account first."""
    return [user.email for user in store.list_all(session)]


@router.get("/me", response_model=UserDetails)
def me(user: CurrentUser) -> UserDetails:
    """Who the token belongs to: email and role."""
    return UserDetails(email=user.email, role=user.role)


@router.get("/list-users-details", response_model=list[UserDetails])
def list_users_details(session: SessionDep, _: Admin) -> list[UserDetails]:
    """Every user's email and role, oldest account first."""
    return [UserDetails(email=u.email, role=u.role) for u in store.list_all(session)]


@router.post(
    "/create-user",
    status_code=status.HTTP_201_CREATED,
    response_model=Msg,
    responses={409: {"model": Msg, "description": "User already exists"}},
)
def create_user(body: CreateUserRequest, session: SessionDep, _: Admin) -> Msg:
    """Create a user with a role (default `user`)."""
    store.create(session, email=body.email, password=body.password, role=body.role)
    return Msg(detail="User created")


@router.post(
    "/delete-user",
    response_model=Msg,
    responses=NO_SUCH_USER | documented({409: "The user is the last admin"}),
)
def delete_user(body: DeleteUserRequest, session: SessionDep, _: Admin) -> Msg:
    """Delete a user. Their tokens stop working at once. The last admin cannot be deleted."""
    store.delete(session, email=body.email)
    return Msg(detail="User deleted")


@router.post("/change-password", response_model=Msg, responses=NO_SUCH_USER)
def change_password(body: ChangePasswordRequest, session: SessionDep, user: CurrentUser) -> Msg:
    """Set a new password: anyone for themself, admins for anyone.

    Every session of that user ends (their tokens stop working, also the caller's own when
    changing their own password): log in again with the new password.
    """
    if body.email.lower() != user.email.lower():
        check_role(user, Role.admin)
    store.set_password(session, email=body.email, password=body.password)
    return Msg(detail="Password changed")


@router.post(
    "/set-role",
    response_model=Msg,
    responses=NO_SUCH_USER | documented({409: "The user is the last admin"}),
)
def set_role(body: SetRoleRequest, session: SessionDep, admin: Admin) -> Msg:
    """Give a user another role. Admins cannot demote themselves, and the last admin stays
    one."""
    if body.email.lower() == admin.email.lower() and body.role != Role.admin:
        raise Forbidden("You cannot remove your own admin role; ask another admin")
    store.set_role(session, email=body.email, role=body.role)
    return Msg(detail="Role changed")
