from __future__ import annotations

from fastapi import APIRouter, Request

from dtbase.backend.auth.deps import AuthenticatedRoute, RefreshingUser
from dtbase.backend.auth.passwords import verify_nobody, verify_password
from dtbase.backend.auth.tokens import TokenConfig, issue_pair
from dtbase.backend.db import SessionDep
from dtbase.backend.errors import Unauthorized
from dtbase.backend.users import store as users_store
from dtbase.schemas.auth import LoginRequest, TokenPair
from dtbase.schemas.common import Msg

router = APIRouter(prefix="/auth", tags=["auth"])
refresh_router = APIRouter(prefix="/auth", tags=["auth"], route_class=AuthenticatedRoute)


@router.post(
    "/login",
    response_model=TokenPair,
    responses={401: {"model": Msg, "description": "Incorrect email or password"}},
)
def login(body: LoginRequest, request: Request, session: SessionDep) -> TokenPair:
    """Exchange an email and password for an access token and a refresh token."""
    user = users_store.find(session, email=body.email)
    if user is None:
        verify_nobody(body.password)
        raise Unauthorized("Incorrect email or password")
    if not verify_password(body.password, user.password_hash):
        raise Unauthorized("Incorrect email or password")
    return issue_pair(_token_config(request), email=user.email)


@refresh_router.post(
    "/refresh",
    response_model=TokenPair,
    responses={401: {"model": Msg, "description": "Missing, invalid or expired refresh token"}},
)
def refresh(request: Request, user: RefreshingUser) -> TokenPair:
    """Exchange a refresh token (in the Authorization header) for a new pair."""
    return issue_pair(_token_config(request), email=user.email)


def _token_config(request: Request) -> TokenConfig:
    config: TokenConfig = request.app.state.token_config
    return config
