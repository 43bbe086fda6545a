from __future__ import annotations

import anyio.to_thread
from fastapi import Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session, sessionmaker

from dtbase.backend.app_state import (
    LoginLimitsDep,
    PasswordQueueDep,
    SessionFactoryDep,
    TokenConfigDep,
)
from dtbase.backend.auth import store as auth_store
from dtbase.backend.auth import throttle
from dtbase.backend.auth.deps import (
    AnyTokenUser,
    AuthenticatedRoute,
    RefreshingUser,
    claims_of,
    session_id_of,
)
from dtbase.backend.db import SessionDep
from dtbase.backend.errors import TooBusy, Unauthorized
from dtbase.backend.routing import PrefixedRouter, documented
from dtbase.backend.users import store as users_store
from dtbase.backend.users.tables import User
from dtbase.schemas.auth import LoginRequest, TokenPair
from dtbase.schemas.common import Msg

router = PrefixedRouter(prefix="/auth", tags=["auth"])
refresh_router = PrefixedRouter(prefix="/auth", tags=["auth"], route_class=AuthenticatedRoute)
WRONG_LOGIN = "Incorrect email or password"


@router.post(
    "/login",
    response_model=TokenPair,
    responses=documented(
        {
            401: WRONG_LOGIN,
            429: "Too many failed logins for this account or address, or too many logins "
            "at once; the `Retry-After` header says how many seconds to wait",
        }
    ),
)
async def login(
    body: LoginRequest,
    request: Request,
    factory: SessionFactoryDep,
    limits: LoginLimitsDep,
    queue: PasswordQueueDep,
    tokens: TokenConfigDep,
) -> Response | TokenPair:
    """Exchange an email and password for an access token and a refresh token.

    The email's case does not matter. Each login starts a session that lasts until logout,
    a password change or the refresh token's expiry.
    """
    # Async, and every step in its own short transaction: a login waiting for its password
    # check holds neither a worker thread nor a database connection.
    address = request.client.host if request.client else "unknown"
    wait = await anyio.to_thread.run_sync(
        lambda: throttle.admit(factory, limits, email=body.email, address=address)
    )
    if wait is not None:
        return _too_many("Too many failed logins; try again later", wait)
    user = await anyio.to_thread.run_sync(lambda: _find(factory, body.email))
    try:
        matches = await queue.verify(body.password, user.password_hash if user else None)
    except TooBusy:
        # Not the login's fault: it must not count towards its account's limit.
        await anyio.to_thread.run_sync(
            lambda: throttle.not_checked(factory, email=body.email, address=address)
        )
        raise
    if not matches or user is None:
        raise Unauthorized(WRONG_LOGIN)

    def start() -> TokenPair:
        throttle.succeeded(factory, email=body.email, address=address)
        with factory.begin() as session:
            # Found again: it may have been deleted or changed during the check.
            found = users_store.find(session, email=body.email)
            if found is None or found.password_hash != user.password_hash:
                raise Unauthorized(WRONG_LOGIN)
            return auth_store.start(session, user=found, config=tokens)

    return await anyio.to_thread.run_sync(start)


@refresh_router.post(
    "/refresh",
    response_model=TokenPair,
    responses=documented({401: "Missing, invalid or expired refresh token"}),
)
def refresh(
    request: Request, session: SessionDep, user: RefreshingUser, tokens: TokenConfigDep
) -> Response | TokenPair:
    """Exchange a refresh token (in the Authorization header) for a new pair.

    Each refresh token works once: the pair replaces it. A refresh token used again (it
    was stolen, or replayed) ends its session, so neither holder can go on.
    """
    claims = claims_of(request)
    pair = auth_store.rotate(
        session,
        user=user,
        session_id=session_id_of(claims),
        number=claims.refresh_number if claims.refresh_number is not None else -1,
        config=tokens,
    )
    if pair is None:
        # Answered, not raised: the session's end must be committed with this request.
        return JSONResponse(
            {"detail": "Refresh token already used; the session is ended, log in again"}, 401
        )
    return pair


@refresh_router.post(
    "/logout", response_model=Msg, responses=documented({401: "Missing, invalid or expired token"})
)
def logout(request: Request, session: SessionDep, _: AnyTokenUser) -> Msg:
    """End this login session: its access and refresh tokens stop working at once.

    Send either token of the session. Other sessions of the same user go on.
    """
    auth_store.end(session, session_id=session_id_of(claims_of(request)))
    return Msg(detail="Logged out")


def _find(factory: sessionmaker[Session], email: str) -> User | None:
    with factory.begin() as session:
        return users_store.find(session, email=email)


def _too_many(detail: str, retry_after: int) -> Response:
    return JSONResponse(
        {"detail": detail}, status_code=429, headers={"Retry-After": str(retry_after)}
    )
