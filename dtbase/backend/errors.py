"""Domain errors carry their HTTP status; one handler renders them as `{"detail": ...}`."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm.exc import ObjectDeletedError, StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

COLLIDED = (
    "This request collided with a concurrent one (a deadlock or a serialization failure)"
    " and was rolled back; nothing was stored; try again"
)


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


class TooBusy(DomainError):
    """Too much costly work of this kind is waiting already; nothing was done (429).

    Answered with `Retry-After`: a caller may simply try again that many seconds later.
    """

    status_code = 429
    retry_after_seconds = 2


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> Response:
        # FastAPI answers a body that is not even UTF-8 with a bare 400; to a client it is
        # just another body that is not JSON, so it gets the same 422 as one.
        if isinstance(error.__cause__, Unprocessable):  # e.g. `lone_surrogates`
            return _unprocessable(error.__cause__)
        if isinstance(error.__cause__, UnicodeDecodeError):
            problem = {
                "type": "json_invalid",
                "loc": ["body"],
                "msg": "JSON decode error",
                "input": {},
                "ctx": {"error": "the body is not UTF-8 text"},
            }
            return JSONResponse({"detail": [problem]}, 422)
        return await http_exception_handler(request, error)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        errors = [_echo_capped(problem) for problem in error.errors()]
        return JSONResponse({"detail": _json_safe(jsonable_encoder(errors))}, 422)

    @app.exception_handler(DataError)
    @app.exception_handler(psycopg.DataError)  # the reads awaited in the loop (`async_reads`)
    async def _unstorable(_: Request, error: Exception) -> JSONResponse:
        # Values valid as JSON that PostgreSQL cannot hold (a NUL character in a text, an
        # integer beyond 64 bits): the request's transaction is already rolled back.
        cause = error.orig if isinstance(error, DataError) else error
        reason = cause.diag.message_primary if isinstance(cause, psycopg.Error) else None
        return _refused_value(f"A value cannot be stored: {reason or cause}")

    @app.exception_handler(IntegrityError)
    @app.exception_handler(psycopg.errors.ForeignKeyViolation)
    async def _gone_meanwhile(_: Request, error: Exception) -> JSONResponse:
        # The request was checked, but a row it refers to (a sensor, a measure, a run) was
        # deleted by another request before this one's write: a race, not a bad request.
        cause = error.orig if isinstance(error, IntegrityError) else error
        if not isinstance(cause, psycopg.errors.ForeignKeyViolation):
            raise error
        return JSONResponse(
            {
                "detail": "Something this request refers to was deleted by another request "
                "meanwhile; nothing was stored"
            },
            status_code=409,
        )

    @app.exception_handler(StaleDataError)
    @app.exception_handler(ObjectDeletedError)
    async def _edited_a_row_gone(_: Request, _error: Exception) -> JSONResponse:
        # An edit read its row, then another request deleted it before the edit's UPDATE
        # (which found no row) or before a reload: the edit of something that does not
        # exist, answered as the edit endpoints answer that (400, `InvalidInput`).
        return JSONResponse(
            {
                "detail": "What this request changes does not exist: another request deleted"
                " it meanwhile; nothing was changed"
            },
            status_code=InvalidInput.status_code,
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(psycopg.OperationalError)
    async def _database_unavailable(request: Request, error: Exception) -> JSONResponse:
        cause = error.orig if isinstance(error, OperationalError) else error
        sqlstate = getattr(cause, "sqlstate", None) or ""
        if sqlstate.startswith("40"):  # class 40, transaction rollback
            # A deadlock or a serialization failure: PostgreSQL rolled this request back
            # so that a concurrent one could finish; the database itself is fine.
            logger.warning("Rolled back on %s %s: %s", request.method, request.url.path, cause)
            return JSONResponse({"detail": COLLIDED}, status_code=409)
        if isinstance(cause, psycopg.Error) and sqlstate.startswith("54"):  # program limit
            # E.g. a text too long for an index's row: the value, not the database, is
            # at fault, and the same request will fail again.
            reason = cause.diag.message_primary or str(cause)
            return _refused_value(f"A value is too large for the database: {reason}")
        # Down, restarted under us (a dead pooled connection), or out of connections:
        # nothing was stored, and the same request may work a moment later.
        logger.warning("Database unavailable on %s %s: %s", request.method, request.url.path, error)
        return JSONResponse(
            {"detail": "The database is unavailable or the connection to it was lost; try again"},
            status_code=503,
        )

    @app.exception_handler(DomainError)
    async def _domain_error(_: Request, error: DomainError) -> JSONResponse:
        if isinstance(error, Unprocessable):
            return _unprocessable(error)
        headers = None
        if isinstance(error, NotAuthenticated):
            headers = {"WWW-Authenticate": "Bearer"}
        elif isinstance(error, TooBusy):
            headers = {"Retry-After": str(error.retry_after_seconds)}
        return JSONResponse({"detail": error.detail}, error.status_code, headers=headers)

    app.add_middleware(AnswerServerFaults)


class AnswerServerFaults:
    """Unhandled errors answered with a 500 and `{"detail": ...}`, on a connection that
    stays usable.

    Starlette's own last-resort handler sends the 500 and then raises the error again, so
    the server closes the kept-alive connection without `Connection: close`: the client's
    next request on it fails, and it cannot tell whether that one was applied. Here the
    error ends with the answer. Only a response already partly sent is left to the server,
    which must then close the connection to mark it incomplete.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = {"start": False, "end": False}

        async def watched(message: Message) -> None:
            if message["type"] == "http.response.start":
                sent["start"] = True
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                sent["end"] = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception:
            logger.exception("Unhandled error on %s %s", scope["method"], scope["path"])
            if sent["start"] and not sent["end"]:
                raise
            if not sent["start"]:
                answer = JSONResponse({"detail": "Internal server error"}, status_code=500)
                await answer(scope, receive, send)


def _refused_value(message: str) -> JSONResponse:
    """A 422 in FastAPI's validation shape for a body PostgreSQL would not store."""
    problem = {"type": "value_error", "loc": ["body"], "msg": message, "input": None}
    return JSONResponse({"detail": [problem]}, 422)


def _unprocessable(error: Unprocessable) -> JSONResponse:
    errors = [_echo_capped(problem) for problem in error.errors]
    return JSONResponse({"detail": _json_safe(errors)}, error.status_code)


# How much of the input a 422 echoes back (about, in characters of JSON): a 10 MB body
# must not come back as a 10 MB error.
ECHO_LIMIT = 1000


def _echo_capped(problem: Mapping[str, Any]) -> dict[str, Any]:
    """A validation error with its `input` echoed in full if small, else cut short: a
    string to its first `ECHO_LIMIT` characters, a list or object to a description."""
    value = problem.get("input")
    if isinstance(value, str) and len(value) > ECHO_LIMIT:
        value = f"{value[:ECHO_LIMIT]}... ({len(value)} characters in all)"
    elif isinstance(value, list | tuple | dict) and _rough_size(value) > ECHO_LIMIT:
        kind = "an object" if isinstance(value, dict) else "a list"
        value = f"({kind} of {len(value)} items, too large to echo)"
    return {**problem, "input": value} if "input" in problem else dict(problem)


def _rough_size(value: Any, limit: int = ECHO_LIMIT) -> int:
    """About how many characters `value` takes as JSON; stops counting past `limit`."""
    if isinstance(value, str):
        return len(value) + 2
    items: Iterable[Any]
    if isinstance(value, dict):
        items = (part for key, item in value.items() for part in (key, item))
    elif isinstance(value, list | tuple):
        items = value
    else:
        return 8
    total = 2
    for item in items:
        total += _rough_size(item, limit - total) + 1
        if total > limit:
            break
    return total


def _json_safe(value: Any) -> Any:
    """Echoed input made writable as strict JSON: NaN, infinities and lone surrogates, which
    Python's JSON reader accepts but no JSON writer may produce, become strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {_json_safe(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value
