"""Domain errors carry their HTTP status; one handler renders them as `{"detail": ...}`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

logger = logging.getLogger(__name__)


class DomainError(Exception):
    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(DomainError):
    """The request names something that does not exist or cannot be used (400)."""

    status_code = 400


class Unauthorized(DomainError):
    status_code = 401


class NotAuthenticated(Unauthorized):
    """No bearer token at all: the one 401 that names the scheme to use (RFC 6750)."""

    def __init__(self) -> None:
        super().__init__("Not authenticated")


class Forbidden(DomainError):
    status_code = 403


class NotFound(DomainError):
    """The object named by the path itself does not exist (404)."""

    status_code = 404


class AlreadyExists(DomainError):
    status_code = 409


class Conflict(DomainError):
    """The change clashes with other data, e.g. a delete blocked by dependants (409)."""

    status_code = 409


class Unprocessable(DomainError):
    """A value's type or shape is wrong in a way the request schema cannot express (422).

    Rendered like FastAPI's own validation errors, so clients handle one 422 shape:
    `{"detail": [{"type", "loc", "msg", "input"}]}`.
    """

    status_code = 422

    def __init__(
        self, loc: Sequence[str | int], msg: str, value: Any = None, kind: str = "value_error"
    ) -> None:
        super().__init__(msg)
        self.errors = [{"type": kind, "loc": ["body", *loc], "msg": msg, "input": value}]


class UpstreamFailed(DomainError):
    status_code = 502


class UpstreamTimeout(DomainError):
    status_code = 504


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain_error(_: Request, error: DomainError) -> JSONResponse:
        if isinstance(error, Unprocessable):
            return JSONResponse({"detail": error.errors}, error.status_code)
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(error, NotAuthenticated) else None
        return JSONResponse({"detail": error.detail}, error.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def _server_fault(request: Request, _error: Exception) -> JSONResponse:
        logger.exception("Unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "Internal server error"}, status_code=500)
