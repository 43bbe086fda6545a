"""Routers for the API's domains: authenticated unless a route opts out explicitly."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from dtbase.backend.auth.deps import AuthenticatedRoute, current_user
from dtbase.schemas.common import Msg

Responses = dict[int | str, dict[str, Any]]

AUTH_ERRORS: Responses = {
    401: {"model": Msg, "description": "Missing, invalid or expired access token"},
    403: {"model": Msg, "description": "Your role does not allow this action"},
}


def protected_router(*, prefix: str, tags: list[str]) -> APIRouter:
    return APIRouter(
        prefix=prefix,
        tags=list(tags),
        route_class=AuthenticatedRoute,
        dependencies=[Depends(current_user, scope="function")],
        responses=AUTH_ERRORS,
    )


def documented(descriptions: dict[int, str]) -> Responses:
    """OpenAPI entries for a route's `{"detail": "..."}` error answers, by status code."""
    return {code: {"model": Msg, "description": text} for code, text in descriptions.items()}
