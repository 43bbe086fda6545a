"""Password hashing: argon2id for new hashes; bcrypt hashes (DTBase's) still verify."""

from __future__ import annotations

from functools import lru_cache

import anyio
import anyio.to_thread
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


def verify_or_pretend(password: str, password_hash: str | None) -> bool:
    """Check a password; without a hash (no such user), spend the time a check takes, so
    that an unknown email is not told apart by timing."""
    if password_hash is None:
        verify_password(password, _dummy_hash())
        return False
    return verify_password(password, password_hash)


# Logins queued for a password check beyond which more are turned away (429) at once.
MAX_WAITING_LOGINS = 32


class PasswordChecks:
    """Password checks in a queue of their own: `workers` at a time, `max_waiting` queued.

    argon2 is made to be slow (about 0.15 s and 64 MiB each here): run in the threads that
    serve the API, a flood of logins took them all and slowed every request. Here a flood
    waits in this queue, holding no thread and no database connection, and beyond
    `max_waiting` it is turned away at once.
    """

    def __init__(self, workers: int, max_waiting: int) -> None:
        self.workers, self.max_waiting = workers, max_waiting
        self._limiter: anyio.CapacityLimiter | None = None

    async def verify(self, password: str, password_hash: str | None) -> bool | None:
        """Whether the password matches; None when too many checks are waiting already."""
        if self._limiter is None:  # made here: it belongs to the running event loop
            self._limiter = anyio.CapacityLimiter(self.workers)
        if self._limiter.statistics().tasks_waiting >= self.max_waiting:
            return None
        return await anyio.to_thread.run_sync(
            verify_or_pretend, password, password_hash, limiter=self._limiter
        )
