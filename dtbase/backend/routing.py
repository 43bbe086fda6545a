"""Routers for the API's domains: authenticated unless a route opts out explicitly."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from dtbase.backend.auth.deps import AuthenticatedRoute, current_user
from dtbase.schemas.common import Msg

Responses = dict[int | str, dict[str, Any]]


def protected_router(*, prefix: str, tags: list[str]) -> APIRouter:
    return APIRouter(
        prefix=prefix,
        tags=list(tags),
        route_class=AuthenticatedRoute,
        dependencies=[Depends(current_user, scope="function")],
        responses=documented(
            {
                401: "Missing, invalid or expired access token",
                403: "Your role does not allow this action",
            }
        ),
    )


# FastAPI drops its own 422 schema when a route declares 422, so point at it explicitly
# (the component exists because most routes keep the default).
VALIDATION_ERROR = {
    "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}
}


def documented(answers: dict[int, str | tuple[type[BaseModel], str]]) -> Responses:
    """OpenAPI entries for a route's other answers, by status code: a description alone
    is a `{"detail": "..."}` error (422: the validation error's list); with a model first,
    that model's body."""
    responses: Responses = {}
    for code, answer in answers.items():
        model, text = answer if isinstance(answer, tuple) else (Msg, answer)
        if code == 422 and model is Msg:
            responses[code] = {"description": text, "content": VALIDATION_ERROR}
        else:
            responses[code] = {"model": model, "description": text}
    return responses
