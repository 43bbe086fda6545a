"""Queries on users. Functions flush, never commit: the request's session does that."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dtbase.backend.auth.passwords import hash_password
from dtbase.backend.errors import AlreadyExists, InvalidInput
from dtbase.backend.users.tables import User
from dtbase.core.settings import DEFAULT_USER_EMAIL
from dtbase.schemas.users import Role

# Built once: every authenticated request runs it, and building a statement and its cache
# key each time costs more than running it.
_BY_EMAIL = select(User).where(User.email == bindparam("email"))


def find(session: Session, *, email: str) -> User | None:
    return session.scalars(_BY_EMAIL, {"email": email}).one_or_none()


def get(session: Session, *, email: str) -> User:
    user = find(session, email=email)
    if user is None:
        raise InvalidInput("User doesn't exist")
    return user


def list_all(session: Session) -> Sequence[User]:
    return session.scalars(select(User).order_by(User.id)).all()


def create(session: Session, *, email: str, password: str, role: Role = Role.user) -> User:
    user = User(email=email, password_hash=hash_password(password), role=role)
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError as error:
        raise AlreadyExists("User already exists") from error
    return user


def delete(session: Session, *, email: str) -> None:
    session.delete(get(session, email=email))
    session.flush()


def set_password(session: Session, *, email: str, password: str) -> None:
    get(session, email=email).password_hash = hash_password(password)
    session.flush()


def set_role(session: Session, *, email: str, role: Role) -> None:
    get(session, email=email).role = role
    session.flush()


def ensure_default_user(session: Session, *, password: str | None) -> None:
    """With a password, the default admin exists with it; without one, it is removed."""
    user = find(session, email=DEFAULT_USER_EMAIL)
    if password is None:
        if user is not None:
            session.delete(user)
            session.flush()
        return
    if user is None:
        try:
            create(session, email=DEFAULT_USER_EMAIL, password=password, role=Role.admin)
            return
        except AlreadyExists:
            # Another backend starting at the same moment created it first.
            user = get(session, email=DEFAULT_USER_EMAIL)
    user.password_hash = hash_password(password)
    user.role = Role.admin
    session.flush()
