"""Who is calling, and may they? Dependencies used by every protected route."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.security import HTTPBearer
from sqlalchemy.orm import Session

from dtbase.backend.app_state import async_reads_of, token_config_of
from dtbase.backend.async_reads import AsyncReads
from dtbase.backend.auth import store as auth_store
from dtbase.backend.auth.tokens import INVALID, Claims, TokenType, read_claims
from dtbase.backend.db import session_factory_of
from dtbase.backend.errors import Forbidden, NotAuthenticated, Unauthorized
from dtbase.backend.one_thread import Deferred, OneThreadRoute, defer
from dtbase.backend.users.tables import User
from dtbase.schemas.users import Role

ROLE_RANK = {Role.viewer: 0, Role.user: 1, Role.admin: 2}


def claims_of(request: Request) -> Claims:
    """Check the bearer token's signature and expiry (no database needed).

    Called by `AuthenticatedRoute` before the body is read, so that a request without a
    valid token gets 401 even when its body is not JSON (DTBase's order: 401 before 422).
    """
    cached: Claims | None = getattr(request.state, "claims", None)
    if cached is not None:
        return cached
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise NotAuthenticated()
    claims = read_claims(token_config_of(request), token.strip())
    request.state.claims = claims
    return claims


def user_of(session: Session, claims: Claims, token_type: TokenType | None) -> User:
    """The user of a token whose session has not ended, if the token is of this type
    (None: either type).

    Asked of the database on every request (one indexed join): a logout, a password change
    or a deletion ends the tokens at once, in every backend process.
    """
    user = None
    if claims.session_id is not None:
        user = auth_store.user_of(session, session_id=claims.session_id)
    return _checked(user, claims, token_type)


async def user_awaited(reads: AsyncReads, claims: Claims, token_type: TokenType | None) -> User:
    """`user_of`, awaited in the event loop (`async_reads`): for async endpoints."""
    user = None
    if claims.session_id is not None:
        user = await auth_store.user_of_awaited(reads, session_id=claims.session_id)
    return _checked(user, claims, token_type)


def _checked(user: User | None, claims: Claims, token_type: TokenType | None) -> User:
    if user is None:
        raise Unauthorized(INVALID)
    if token_type is not None and claims.token_type != token_type:
        raise Unauthorized("Token of wrong type")
    return user


def session_id_of(claims: Claims) -> uuid.UUID:
    """The session a token names (call after `user_of` found it)."""
    if claims.session_id is None:
        raise Unauthorized(INVALID)
    return claims.session_id


@dataclass(eq=False)
class PendingUser(Deferred[User]):
    """The user of a request whose endpoint runs in one thread hop (`one_thread`): looked
    up there, just before the endpoint, in the endpoint's session, rather than in a hop
    of its own."""

    claims: Claims
    token_type: TokenType | None
    factory: Callable[[], Session] | None

    def resolve(self) -> User:
        if self.session is None:
            raise RuntimeError("A pending user is looked up in the hop, which gives a session")
        return user_of(self.session, self.claims, self.token_type)


@dataclass(eq=False)
class PendingRole(Deferred[User]):
    """A pending user, checked for a role once looked up (it reads nothing itself)."""

    user: PendingUser
    minimum: Role

    def resolve(self) -> User:
        return check_role(self.user.value, self.minimum)


class BearerUser(HTTPBearer):
    """The caller, as a dependency that is also the bearer scheme OpenAPI documents.

    One dependency rather than the caller's lookup depending on FastAPI's `HTTPBearer`:
    FastAPI's work for each dependency of a request (about 0.1 million instructions,
    docs/performance.md) was more than reading the header again costs (`claims_of`
    reads it, once per request).
    """

    def __init__(self, token_type: TokenType | None) -> None:
        super().__init__(
            auto_error=False,
            scheme_name="bearer",
            description=(
                "An access token from `POST /auth/login` (a refresh token for /auth/refresh)."
            ),
        )
        self.token_type: TokenType | None = token_type

    # Async: where the endpoint runs in one thread hop, the lookup joins it (`defer`);
    # an async endpoint's is awaited in the event loop (`async_reads`), with no hop.
    async def __call__(self, request: Request) -> User | PendingUser:  # type: ignore[override]
        pending = PendingUser(claims_of(request), self.token_type, session_factory_of(request))
        if defer(pending):
            return pending
        return await user_awaited(async_reads_of(request), pending.claims, self.token_type)


current_user = BearerUser("access")
refreshing_user = BearerUser("refresh")
any_token_user = BearerUser(None)
# What an endpoint gets is a `User` (a pending one is looked up before the endpoint runs).
CurrentUser = Annotated[User, Depends(current_user, scope="function")]
RefreshingUser = Annotated[User, Depends(refreshing_user, scope="function")]
# Logging out works with either token: a client whose access token has expired may too.
AnyTokenUser = Annotated[User, Depends(any_token_user, scope="function")]


def check_role(user: User, minimum: Role) -> User:
    """The user, if of at least the given role (403 otherwise)."""
    if ROLE_RANK[user.role] < ROLE_RANK[minimum]:
        raise Forbidden(f"This action needs the role '{minimum}' (you are '{user.role}')")
    return user


@dataclass(frozen=True)
class RoleRequired:
    """A dependency that lets through users of at least the role `minimum`; it carries
    that role, so `ingest_route` can check it the same way on its short path."""

    minimum: Role

    # Async: a check this cheap isn't worth a thread hop; a pending user's role is checked
    # once the user is looked up, after every pending lookup (401 before 403).
    async def __call__(
        self, user: Annotated[User | PendingUser, Depends(current_user, scope="function")]
    ) -> User | PendingRole:
        if isinstance(user, PendingUser):
            pending = PendingRole(user, self.minimum)
            defer(pending)
            return pending
        return check_role(user, self.minimum)


Writer = Annotated[User, Depends(RoleRequired(Role.user), scope="function")]
Admin = Annotated[User, Depends(RoleRequired(Role.admin), scope="function")]


class AuthenticatedRoute(OneThreadRoute):
    """A route that checks the bearer token before FastAPI reads the request body (and
    runs a sync endpoint with its commit in one thread hop)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            claims_of(request)
            return await handler(request)

        return guarded
