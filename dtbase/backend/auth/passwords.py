"""Password hashing: argon2id for new hashes; bcrypt hashes (DTBase's) still verify."""

from __future__ import annotations

from functools import lru_cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher


@lru_cache(maxsize=1)
def _hasher() -> PasswordHash:
    return PasswordHash((Argon2Hasher(), BcryptHasher()))


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    return _hasher().verify(password, password_hash)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("not a password anyone has")


def verify_nobody(password: str) -> None:
    """Spend the time a real check takes, so an unknown email is not told apart by timing."""
    verify_password(password, _dummy_hash())
