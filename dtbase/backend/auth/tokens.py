"""JWTs as DTBase issues them: HS256 with exactly `sub`, `token_type` and `exp`."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import jwt

from dtbase.backend.errors import Unauthorized
from dtbase.schemas.auth import TokenPair

TokenType = Literal["access", "refresh"]
ALGORITHM = "HS256"


@dataclass(frozen=True)
class TokenConfig:
    secret: str
    access_seconds: int
    refresh_grace_seconds: int


def issue_pair(config: TokenConfig, *, email: str) -> TokenPair:
    now = datetime.now(UTC)
    access_expiry = now + timedelta(seconds=config.access_seconds)
    refresh_expiry = access_expiry + timedelta(seconds=config.refresh_grace_seconds)
    return TokenPair(
        access_token=_encode(config, email=email, token_type="access", expires=access_expiry),
        refresh_token=_encode(config, email=email, token_type="refresh", expires=refresh_expiry),
    )


@dataclass(frozen=True)
class Claims:
    subject: str
    token_type: str


def read_claims(config: TokenConfig, token: str) -> Claims:
    """The claims of a token signed by us and not expired; its type is checked later."""
    claims, expiry = _verified(config.secret, token)
    # A cached token may have expired since: its expiry is checked every time.
    if expiry <= time.time():
        raise Unauthorized("Token has expired")
    return claims


# A client sends the same token with every request, and checking its signature costs
# more than the rest of a small request's authentication: tokens that passed are
# remembered (failures are not, they raise).
@functools.lru_cache(maxsize=4096)
def _verified(secret: str, token: str) -> tuple[Claims, float]:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            # Extra claims (aud, iss, ...) are ignored, as DTBase does.
            options={"require": ["sub", "exp", "token_type"], "verify_aud": False},
        )
    except jwt.ExpiredSignatureError as error:
        raise Unauthorized("Token has expired") from error
    except jwt.InvalidTokenError as error:
        raise Unauthorized("Could not validate credentials") from error
    subject, token_type = claims["sub"], claims["token_type"]
    if not isinstance(subject, str) or not isinstance(token_type, str):
        raise Unauthorized("Could not validate credentials")
    return Claims(subject=subject, token_type=token_type), float(claims["exp"])


def _encode(config: TokenConfig, *, email: str, token_type: TokenType, expires: datetime) -> str:
    claims = {"sub": email, "token_type": token_type, "exp": int(expires.timestamp())}
    return jwt.encode(claims, config.secret, algorithm=ALGORITHM)
