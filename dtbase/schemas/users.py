from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, field_validator

from dtbase.core.settings import MIN_PASSWORD_LENGTH

# DTBase's rule, applied to the whole string.
EMAIL_PATTERN = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+")
# The longest email address (RFC 5321's 64 + 1 + 255); the users table holds this many.
EMAIL_LENGTH = 320
# The longest password: longer ones are no safer, and each costs its hash's time.
PASSWORD_LENGTH = 1024
Email = Annotated[str, Field(max_length=EMAIL_LENGTH)]
Password = Annotated[str, Field(min_length=MIN_PASSWORD_LENGTH, max_length=PASSWORD_LENGTH)]


class Role(StrEnum):
    """admin: everything; user: read and write data, run services; viewer: read only."""

    admin = "admin"
    user = "user"
    viewer = "viewer"


class CreateUserRequest(BaseModel):
    email: Email
    password: Password
    role: Role = Role.user

    @field_validator("email")
    @classmethod
    def _email_format(cls, email: str) -> str:
        if not EMAIL_PATTERN.fullmatch(email):
            raise ValueError("not a valid email address")
        return email


class DeleteUserRequest(BaseModel):
    email: Email


class ChangePasswordRequest(BaseModel):
    email: Email
    password: Password = Field(description="The new password.")


class SetRoleRequest(BaseModel):
    email: Email
    role: Role


class UserDetails(BaseModel):
    email: str
    role: Role
