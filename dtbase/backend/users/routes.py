from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter, Request, status
from sqlalchemy.orm import Session

from dtbase.backend.app_state import PasswordQueueDep
from dtbase.backend.auth.deps import Admin, CurrentUser, check_role, claims_of, user_of
from dtbase.backend.auth.passwords import PasswordQueue
from dtbase.backend.db import SessionDep, give_back_connection
from dtbase.backend.errors import Forbidden
from dtbase.backend.one_thread import awaits_reads
from dtbase.backend.routing import documented, protected_router
from dtbase.backend.users import store
from dtbase.backend.users.tables import User
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
NO_SUCH_USER = documented({400: store.NO_SUCH_USER})
BUSY = documented(
    {
        429: "Too many logins and password changes at once: nothing was done; try again "
        "after `Retry-After` seconds"
    }
)


@router.get("/list-users", response_model=list[str])
def list_users(session: SessionDep, _: Admin) -> list[str]:
    """Every user's email, oldest account first."""
    return [user.email for user in store.list_all(session)]


@router.get("/me", response_model=UserDetails)
@awaits_reads
async def me(user: CurrentUser) -> UserDetails:
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
    responses=documented({409: store.USER_EXISTS}) | BUSY,
)
async def create_user(
    body: CreateUserRequest,
    request: Request,
    session: SessionDep,
    queue: PasswordQueueDep,
    _: Admin,
) -> Msg:
    """Create a user with a role (default `user`)."""
    password_hash = await _hashed(body.password, queue, session)

    def create() -> None:
        check_role(_caller_again(request, session), Role.admin)
        store.create(session, email=body.email, password_hash=password_hash, role=body.role)

    await anyio.to_thread.run_sync(create)
    return Msg(detail="User created")


@router.post(
    "/delete-user",
    response_model=Msg,
    responses=NO_SUCH_USER | documented({409: store.LAST_ADMIN}),
)
def delete_user(body: DeleteUserRequest, session: SessionDep, _: Admin) -> Msg:
    """Delete a user. Their tokens stop working at once. The last admin cannot be deleted."""
    store.delete(session, email=body.email)
    return Msg(detail="User deleted")


@router.post("/change-password", response_model=Msg, responses=NO_SUCH_USER | BUSY)
async def change_password(
    body: ChangePasswordRequest,
    request: Request,
    session: SessionDep,
    queue: PasswordQueueDep,
    user: CurrentUser,
) -> Msg:
    """Set a new password: anyone for themself, admins for anyone.

    Every session of that user ends (their tokens stop working, also the caller's own when
    changing their own password): log in again with the new password.
    """
    _may_change_password(user, body.email)
    password_hash = await _hashed(body.password, queue, session)

    def change() -> None:
        _may_change_password(_caller_again(request, session), body.email)
        store.set_password(session, email=body.email, password_hash=password_hash)

    await anyio.to_thread.run_sync(change)
    return Msg(detail="Password changed")


def _may_change_password(user: User, email: str) -> None:
    if email.lower() != user.email.lower():
        check_role(user, Role.admin)


async def _hashed(password: str, queue: PasswordQueue, session: Session) -> str:
    """The password's hash, made in the password queue (`TooBusy`, 429, when it is full).

    Async, so that waiting there holds no worker thread; and the connection that
    authenticated the caller goes back to the pool first, so that it holds none either.
    """
    await give_back_connection(session)
    return await queue.hash(password)


def _caller_again(request: Request, session: Session) -> User:
    """The caller, asked again after the wait in the password queue: their session may
    have ended meanwhile (a password change, a logout, a stolen token's owner reacting)."""
    return user_of(session, claims_of(request), "access")


@router.post(
    "/set-role",
    response_model=Msg,
    responses=NO_SUCH_USER | documented({409: store.LAST_ADMIN}),
)
def set_role(body: SetRoleRequest, session: SessionDep, admin: Admin) -> Msg:
    """Give a user another role. Admins cannot demote themselves, and the last admin stays
    one."""
    if body.email.lower() == admin.email.lower() and body.role != Role.admin:
        raise Forbidden("You cannot remove your own admin role; ask another admin")
    store.set_role(session, email=body.email, role=body.role)
    return Msg(detail="Role changed")
