"""Password hashing: argon2id for new hashes; bcrypt hashes (DTBase's) still verify."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TypeVar, TypeVarTuple

import anyio
import anyio.to_thread
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

from dtbase.backend.errors import TooBusy

T = TypeVar("T")
Args = TypeVarTuple("Args")


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


# Password hashes and checks waiting in the queue beyond which more are turned away (429).
MAX_WAITING = 32


class PasswordQueue:
    """Every password hash and check of the API, in a queue of its own: `workers` at a
    time, `max_waiting` queued, more turned away at once with `TooBusy` (429).

    argon2 is made to be slow (about 0.15 s and 64 MiB each here): run in the threads that
    serve the API, a flood of logins or password changes took them all and slowed every
    request. Here a flood waits in this queue, holding no thread (and, if the caller gives
    its connection back first, no database connection).
    """

    def __init__(self, workers: int, max_waiting: int) -> None:
        self.workers, self.max_waiting = workers, max_waiting
        self._limiter: anyio.CapacityLimiter | None = None

    async def verify(self, password: str, password_hash: str | None) -> bool:
        """Whether the password matches (see `verify_or_pretend`)."""
        return await self._run(verify_or_pretend, password, password_hash)

    async def hash(self, password: str) -> str:
        return await self._run(hash_password, password)

    async def _run(self, work: Callable[[*Args], T], *args: *Args) -> T:
        if self._limiter is None:  # made here: it belongs to the running event loop
            self._limiter = anyio.CapacityLimiter(self.workers)
        if self._limiter.statistics().tasks_waiting >= self.max_waiting:
            raise TooBusy("Too many logins and password changes at once; try again shortly")
        return await anyio.to_thread.run_sync(work, *args, limiter=self._limiter)
