"""What the backend remembers about tokens: one row per login session, and login attempts."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from dtbase.backend.db import Base, cascading


class AuthSession(Base):
    """A login: its tokens carry the id (`sid`), and they work while the row exists.

    Deleting the row ends the session's access and refresh tokens at once (logout, password
    change; a deleted user's rows go with it). Refresh tokens are numbered: only the latest
    number is accepted, so a refresh token used twice is detected.
    """

    __tablename__ = "auth_sessions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(cascading("users.id"))
    # The number of the latest refresh token issued, and when it was issued.
    refresh_number: Mapped[int] = mapped_column(Integer, default=0)
    rotated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # When the latest refresh token expires: after that the row is only garbage.
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index(None, "user_id"),)


class LoginAttempts(Base):
    """Login attempts per key (an account or a client address) in the current window.

    In the database, so that every backend process counts the same attempts.
    """

    __tablename__ = "login_attempts"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index(None, "window_start"),)
