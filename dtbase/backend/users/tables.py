from __future__ import annotations

from sqlalchemy import Enum, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from dtbase.backend.db import Base, Timestamped
from dtbase.schemas.users import EMAIL_LENGTH, Role


class User(Timestamped, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Kept as written, but one address is one account whatever its case (the unique index
    # below): `Alice@x.org` and `alice@x.org` log in to the same user.
    email: Mapped[str] = mapped_column(String(EMAIL_LENGTH))
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[Role] = mapped_column(
        Enum(Role, name="user_role", values_callable=lambda roles: [r.value for r in roles]),
        default=Role.user,
    )

    __table_args__ = (Index("uq_users_email_lower", func.lower(email), unique=True),)
