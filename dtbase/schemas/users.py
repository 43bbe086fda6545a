from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, Field, field_validator

from dtbase.core.settings import MIN_PASSWORD_LENGTH

# DTBase's rule, applied to the whole string.
EMAIL_PATTERN = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+")
# The longest email address (RFC 5321's 64 + 1 + 255); the users table holds this many.
EMAIL_LENGTH = 320


class Role(StrEnum):
    """admin: everything; user: read and write data, run services; viewer: read only."""

    admin = "admin"
    user = "user"
    viewer = "viewer"


class CreateUserRequest(BaseModel):
    email: str = Field(max_length=EMAIL_LENGTH)
    password: str = Field(min_length=MIN_PASSWORD_LENGTH)
    role: Role = Role.user

    @field_validator("email")
    @classmethod
    def _email_format(cls, email: str) -> str:
        if not EMAIL_PATTERN.fullmatch(email):
            raise ValueError("not a valid email address")
        return email


class DeleteUserRequest(BaseModel):
    email: str


class ChangePasswordRequest(BaseModel):
    email: str
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, description="The new password.")


class SetRoleRequest(BaseModel):
    email: str
    role: Role


class UserDetails(BaseModel):
    email: str
    role: Role
