"""Login sessions: started at login, checked on every request, rotated at refresh, ended
at logout, password change and deletion. Functions flush, never commit."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, bindparam, case, delete, func, or_, select, update
from sqlalchemy.orm import Session

from dtbase.backend.async_reads import AsyncReads
from dtbase.backend.auth.tables import AuthSession
from dtbase.backend.auth.tokens import TokenConfig, issue_pair, refresh_expiry
from dtbase.backend.db import Precompiled
from dtbase.backend.users.tables import User
from dtbase.schemas.auth import TokenPair
from dtbase.schemas.users import Role

# A refresh token may be used again this long after it was first used, and gets the same
# new number: two requests of one client that found the access token expired at the same
# moment both refresh with it, and neither must end the session. Any later use is a
# replay, and ends the session.
REUSE_GRACE = timedelta(seconds=10)

# Every authenticated request runs it: compiled once, its row read without the ORM.
_USER_OF_SESSION = Precompiled(
    select(User.id, User.email, User.role)
    .join(AuthSession, AuthSession.user_id == User.id)
    .where(AuthSession.id == bindparam("session_id"))
)


def start(session: Session, *, user: User, config: TokenConfig) -> TokenPair:
    """A new login session for `user`, and its first token pair."""
    now = datetime.now(UTC)
    # The user's sessions whose refresh tokens have all expired are only garbage now.
    session.execute(
        delete(AuthSession).where(AuthSession.user_id == user.id, AuthSession.expires_at < now)
    )
    login = AuthSession(
        id=uuid.uuid4(), user_id=user.id, refresh_number=0, expires_at=refresh_expiry(config, now)
    )
    session.add(login)
    session.flush()
    return issue_pair(config, email=user.email, session_id=login.id, refresh_number=0, now=now)


def user_of(session: Session, *, session_id: uuid.UUID) -> User | None:
    """The user of a session that has not ended: its id, email and role, in a `User`
    that is not in the session (transient; the password's hash is not read).

    It runs on every authenticated request, and SQLAlchemy's work on each execution of
    a `select` cost more than half of what waiting for PostgreSQL's answer did
    (docs/performance.md): so it is compiled once (`db.Precompiled`). The caller of a
    request is only read, never changed, so it need not be in the session.
    """
    return _user(_USER_OF_SESSION.rows(session, session_id=session_id))


async def user_of_awaited(reads: AsyncReads, *, session_id: uuid.UUID) -> User | None:
    """`user_of`, awaited in the event loop (for async endpoints, `async_reads`)."""
    return _user(await reads.rows(_USER_OF_SESSION, session_id=session_id))


def _user(found: Sequence[tuple[int, str, str]]) -> User | None:
    if not found:
        return None
    user_id, email, role = found[0]
    return User(id=user_id, email=email, role=Role(role))


def rotate(
    session: Session, *, user: User, session_id: uuid.UUID, number: int, config: TokenConfig
) -> TokenPair | None:
    """A new pair for the session's refresh token number `number`, or None when that token
    was replaced before (a replay): then the whole session ends.

    One UPDATE decides, so two backends refreshing the same token at once cannot both
    take it as the latest.
    """
    now = datetime.now(UTC)
    latest = AuthSession.refresh_number == number
    rotated = session.execute(
        update(AuthSession)
        .where(
            AuthSession.id == session_id,
            or_(
                latest,
                and_(
                    AuthSession.refresh_number == number + 1,
                    AuthSession.rotated_at > func.now() - REUSE_GRACE,
                ),
            ),
        )
        .values(
            refresh_number=case((latest, number + 1), else_=AuthSession.refresh_number),
            rotated_at=case((latest, func.now()), else_=AuthSession.rotated_at),
            expires_at=refresh_expiry(config, now),
        )
        .returning(AuthSession.refresh_number)
    ).scalar_one_or_none()
    if rotated is None:
        end(session, session_id=session_id)
        return None
    return issue_pair(
        config, email=user.email, session_id=session_id, refresh_number=rotated, now=now
    )


def end(session: Session, *, session_id: uuid.UUID) -> None:
    session.execute(delete(AuthSession).where(AuthSession.id == session_id))


def end_all(session: Session, *, user_id: int) -> None:
    """End every session of a user: all their tokens stop working."""
    session.execute(delete(AuthSession).where(AuthSession.user_id == user_id))
