"""JWTs as DTBase issues them (HS256 with `sub`, `token_type` and `exp`), plus the login
session they belong to.

`sub` stays the user's email for DTBase's sake, but the backend never trusts it: a token
names its session (`sid`, a random id that a re-created account never gets), and a refresh
token also its number in the session (`n`, see `sessions`).
"""

from __future__ import annotations

import functools
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import jwt

from dtbase.backend.errors import Unauthorized
from dtbase.schemas.auth import TokenPair

TokenType = Literal["access", "refresh"]
ALGORITHM = "HS256"
INVALID = "Could not validate credentials"
EXPIRED = "Token has expired"


@dataclass(frozen=True)
class TokenConfig:
    secret: str
    access_seconds: int
    refresh_grace_seconds: int


@dataclass(frozen=True)
class Claims:
    subject: str
    token_type: str
    session_id: uuid.UUID | None
    refresh_number: int | None


def refresh_expiry(config: TokenConfig, now: datetime) -> datetime:
    return now + timedelta(seconds=config.access_seconds + config.refresh_grace_seconds)


def issue_pair(
    config: TokenConfig, *, email: str, session_id: uuid.UUID, refresh_number: int, now: datetime
) -> TokenPair:
    access_expiry = now + timedelta(seconds=config.access_seconds)
    common: dict[str, object] = {"sub": email, "sid": str(session_id)}
    return TokenPair(
        access_token=_encode(config, common | {"token_type": "access"}, access_expiry),
        refresh_token=_encode(
            config,
            common | {"token_type": "refresh", "n": refresh_number},
            refresh_expiry(config, now),
        ),
    )


def read_claims(config: TokenConfig, token: str) -> Claims:
    """The claims of a token signed by us and not expired; its session and type are
    checked later, against the database."""
    claims, expiry = _verified(config.secret, token)
    # A cached token may have expired since: its expiry is checked every time.
    if expiry <= time.time():
        raise Unauthorized(EXPIRED)
    return claims


# A client sends the same token with every request, and checking its signature costs
# more than the rest of a small request's authentication: tokens that passed are
# remembered (failures are not, they raise). Only the signature is cached: whether the
# session still exists is asked of the database on every request, so revocation is
# immediate.
@functools.lru_cache(maxsize=4096)
def _verified(secret: str, token: str) -> tuple[Claims, float]:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            # Extra claims (aud, iss, ...) are ignored, as DTBase does. `sid` is not
            # required here: a token without one is refused later, like a deleted user's.
            options={"require": ["sub", "exp", "token_type"], "verify_aud": False},
        )
    except jwt.ExpiredSignatureError as error:
        raise Unauthorized(EXPIRED) from error
    except jwt.InvalidTokenError as error:
        raise Unauthorized(INVALID) from error
    subject, token_type = claims["sub"], claims["token_type"]
    if not isinstance(subject, str) or not isinstance(token_type, str):
        raise Unauthorized(INVALID)
    return Claims(
        subject=subject,
        token_type=token_type,
        session_id=_session_id(claims.get("sid")),
        refresh_number=_number(claims.get("n")),
    ), float(claims["exp"])


def _session_id(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _number(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _encode(config: TokenConfig, claims: dict[str, object], expires: datetime) -> str:
    return jwt.encode(
        claims | {"exp": int(expires.timestamp())}, config.secret, algorithm=ALGORITHM
    )
