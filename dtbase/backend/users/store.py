"""Queries on users. Functions flush, never commit: the request's session does that."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dtbase.backend.auth import store as auth_store
from dtbase.backend.auth.passwords import hash_password, verify_password
from dtbase.backend.errors import AlreadyExists, Conflict, InvalidInput
from dtbase.backend.users.tables import User
from dtbase.core.settings import DEFAULT_USER_EMAIL
from dtbase.schemas.users import Role

logger = logging.getLogger(__name__)

# Built once. One address is one account whatever its case (the index on lower(email)).
_BY_EMAIL = select(User).where(func.lower(User.email) == func.lower(bindparam("email")))

NO_SUCH_USER = "User doesn't exist"
USER_EXISTS = "User already exists"
LAST_ADMIN = "This is the last admin: make another user admin first"


def find(session: Session, *, email: str) -> User | None:
    return session.scalars(_BY_EMAIL, {"email": email}).one_or_none()


def get(session: Session, *, email: str) -> User:
    user = find(session, email=email)
    if user is None:
        raise InvalidInput(NO_SUCH_USER)
    return user


def list_all(session: Session) -> Sequence[User]:
    return session.scalars(select(User).order_by(User.id)).all()


def create(session: Session, *, email: str, password_hash: str, role: Role = Role.user) -> User:
    """Create a user with a password hashed already (`auth.passwords`: hashing is slow, and
    the API does it in a queue of its own, outside any transaction)."""
    user = User(email=email, password_hash=password_hash, role=role)
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError as error:
        raise AlreadyExists(USER_EXISTS) from error
    return user


def delete(session: Session, *, email: str) -> None:
    """Delete a user (their login sessions, hence tokens, go with them); never the last
    admin."""
    user = get(session, email=email)
    if user.role == Role.admin:
        _keep_an_admin(session, leaving=user)
    session.delete(user)
    session.flush()


def set_password(session: Session, *, email: str, password_hash: str) -> None:
    """Set a password (hashed already, see `create`) and end every login session of the
    user: whoever had their tokens must log in with the new password."""
    user = get(session, email=email)
    user.password_hash = password_hash
    auth_store.end_all(session, user_id=user.id)
    session.flush()


def set_role(session: Session, *, email: str, role: Role) -> None:
    user = get(session, email=email)
    if user.role == Role.admin and role != Role.admin:
        _keep_an_admin(session, leaving=user)
    user.role = role
    session.flush()


def _keep_an_admin(session: Session, *, leaving: User) -> None:
    """Refuse to let `leaving` stop being an admin if no other admin would remain.

    The admins' rows are locked (in id order, so two such requests cannot deadlock) until
    the transaction ends: of two admins removing each other at once, the second waits, then
    sees that it is the last one left.
    """
    admins = session.scalars(
        select(User.id).where(User.role == Role.admin).order_by(User.id).with_for_update()
    ).all()
    if not set(admins) - {leaving.id}:
        raise Conflict(LAST_ADMIN)


def ensure_default_user(session: Session, *, password: str | None) -> None:
    """With a password, the default admin exists with it; without one, it is removed,
    unless it is the last admin (an installation without any admin could not be managed)."""
    user = find(session, email=DEFAULT_USER_EMAIL)
    if password is None:
        if user is not None:
            _remove_default_user(session, user)
        return
    if user is None:
        try:
            create(
                session,
                email=DEFAULT_USER_EMAIL,
                password_hash=hash_password(password),
                role=Role.admin,
            )
            logger.info("Created the default user %s (an admin)", DEFAULT_USER_EMAIL)
            return
        except AlreadyExists:
            # Another backend starting at the same moment created it first.
            user = get(session, email=DEFAULT_USER_EMAIL)
    if user.role != Role.admin or not verify_password(password, user.password_hash):
        user.password_hash = hash_password(password)
        user.role = Role.admin
        # A changed password ends the old one's sessions, like any password change.
        auth_store.end_all(session, user_id=user.id)
        logger.info("Set the default user's password and role from DT_DEFAULT_USER_PASS")
    session.flush()


def _remove_default_user(session: Session, user: User) -> None:
    try:
        if user.role == Role.admin:
            _keep_an_admin(session, leaving=user)
    except Conflict:
        logger.warning(
            "DT_DEFAULT_USER_PASS is unset, but %s is the only admin: it is kept (with its "
            "old password). Make another user admin (`dtbase user create --role admin`), "
            "and it will be removed at the next start.",
            DEFAULT_USER_EMAIL,
        )
        return
    session.delete(user)
    session.flush()
    logger.info("DT_DEFAULT_USER_PASS is unset: removed the default user %s", DEFAULT_USER_EMAIL)
