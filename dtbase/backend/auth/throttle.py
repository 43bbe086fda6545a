"""Login throttling: failed logins per account and per client address, counted in the
database so that every backend process sees the same counts.

An attempt is counted before its password is checked (a burst of parallel guesses cannot
all slip in before the first failure is recorded); a successful login clears its account's
count and gives its address's attempt back. A fixed window per key: the first attempt
opens it, and it closes `window` later, which is what `Retry-After` tells.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import case, delete, extract, func, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from dtbase.backend.auth.tables import LoginAttempts


@dataclass(frozen=True)
class LoginLimits:
    per_account: int
    per_address: int
    window: timedelta


def account_key(email: str) -> str:
    # Emails are one account whatever their case; unknown emails are counted the same
    # way, so that throttling does not tell which accounts exist. Hashed: a key of any
    # length fits the index, and the table holds no addresses.
    return "account:" + hashlib.sha256(email.lower().encode("utf-8", "replace")).hexdigest()


def address_key(address: str) -> str:
    return "address:" + address


def admit(
    factory: sessionmaker[Session], limits: LoginLimits, *, email: str, address: str
) -> int | None:
    """Count a login attempt: None if it may go on, else the seconds to wait.

    The account is checked first, and an attempt it refuses is not counted against the
    address: hammering one account does not lock out the others behind the same address.
    Each count is committed at once (its own transaction), whatever the login's outcome.
    """
    for key, limit in (
        (account_key(email), limits.per_account),
        (address_key(address), limits.per_address),
    ):
        with factory.begin() as session:
            attempts, seconds_left = _count(session, key=key, window=limits.window)
        if attempts > limit:
            return max(1, math.ceil(seconds_left))
    return None


def succeeded(factory: sessionmaker[Session], *, email: str, address: str) -> None:
    """A login worked: its account starts afresh, its address gets the attempt back."""
    with factory.begin() as session:
        session.execute(delete(LoginAttempts).where(LoginAttempts.key == account_key(email)))
        _give_back(session, [address_key(address)])


def not_checked(factory: sessionmaker[Session], *, email: str, address: str) -> None:
    """A login was turned away before its password was checked: it does not count."""
    with factory.begin() as session:
        _give_back(session, [account_key(email), address_key(address)])


def _give_back(session: Session, keys: list[str]) -> None:
    session.execute(
        update(LoginAttempts)
        .where(LoginAttempts.key.in_(keys), LoginAttempts.attempts > 0)
        .values(attempts=LoginAttempts.attempts - 1)
    )


def _count(session: Session, *, key: str, window: timedelta) -> tuple[int, float]:
    """Add an attempt to `key`'s window (opening a new one if it has closed): the attempts
    in it, and the seconds until it closes."""
    closed = LoginAttempts.window_start <= func.now() - window
    upsert = (
        insert(LoginAttempts)
        .values(key=key, attempts=1, window_start=func.now())
        .on_conflict_do_update(
            index_elements=[LoginAttempts.key],
            set_={
                "attempts": case((closed, 1), else_=LoginAttempts.attempts + 1),
                "window_start": case((closed, func.now()), else_=LoginAttempts.window_start),
            },
        )
        .returning(
            LoginAttempts.attempts,
            extract("epoch", LoginAttempts.window_start + window - func.now()),
        )
    )
    attempts, seconds_left = session.execute(upsert).one()
    # Windows that have closed are only garbage: keep the table as small as the traffic
    # of one window.
    session.execute(delete(LoginAttempts).where(closed))
    return int(attempts), float(seconds_left)
