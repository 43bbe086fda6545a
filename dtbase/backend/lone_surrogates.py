"""JSON bodies with a lone UTF-16 surrogate (`"\\ud800"`) refused with a 422, in one
place for every route.

JSON allows the escape and Python's JSON readers (the standard library, pydantic-core)
turn it into a `str` that holds a surrogate, which is not a character: the first thing
that encodes it (the database driver, the password hasher, the JSON writer) fails, and the
request got a 500. Checked once here, for every route and both ways a body is read
(FastAPI's and the ingest route's), so no route needs to know.

The raw body is scanned for the escape of a surrogate first (a regular expression over the
bytes; bodies without one, almost all, are not decoded here); only a body with one is
decoded, to tell a lone surrogate from a valid pair and to name the field that holds it.
Such a body is refused when the route reads it, not before: a protected route checks the
token first, so the order of checks (401, then 422) stays the same as for any bad body.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dtbase.backend.errors import Unprocessable

# `\uD800` to `\uDFFF`, whatever the case of the hex digits.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class LoneSurrogate(Unprocessable):
    """Raised where the route reads the body: FastAPI hands it on as the cause of its
    "error parsing the body" (see `errors`), the ingest route as it is."""

    def __init__(self, where: list[str | int]) -> None:
        super().__init__(
            where,
            "Input should be a valid string: it holds a lone UTF-16 surrogate,"
            " which is not a character",
            kind="string_unicode",
        )


class RefuseLoneSurrogates:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _read_as_json(scope):
            await self.app(scope, receive, send)
            return
        messages, body = await _whole_body(receive)
        where = _lone_surrogate_at(body) if _SURROGATE_ESCAPE.search(body) else None

        async def replay() -> Message:
            if where is not None:
                raise LoneSurrogate(where)
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


def _read_as_json(scope: Scope) -> bool:
    content_type: str | None = None
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = bytes(value).decode("latin-1")
    return is_json_content_type(content_type)


def is_json_content_type(content_type: str | None) -> bool:
    """Whether FastAPI would read a body of this content type as JSON: no content type,
    or a JSON one."""
    if content_type is None:
        return True
    kind = content_type.partition(";")[0].strip().lower()
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )


async def _whole_body(receive: Receive) -> tuple[list[Message], bytes]:
    """The request's body messages, to hand on as they came, and the body they make."""
    messages: list[Message] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    if len(messages) > 1 and messages[-1]["type"] == "http.request":
        # One message instead of many: the body is in memory either way.
        messages = [{"type": "http.request", "body": body, "more_body": False}]
    return messages, body


def _lone_surrogate_at(body: bytes) -> list[str | int] | None:
    """The path to the first string (or key) that holds a lone surrogate, if any."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None  # Not JSON, or nested too deep: the route's own reading answers that.
    return _find(value)


def _find(value: Any) -> list[str | int] | None:
    """Depth first, without recursion: any nesting that parsed is searched."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if not _is_text(item):
                return list(path)
        elif isinstance(item, dict):
            for key in item:
                if not _is_text(key):
                    return [*path, _printable(key)]
            stack.extend(((*path, key), inner) for key, inner in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend(
                ((*path, index), inner) for index, inner in reversed(list(enumerate(item)))
            )
    return None


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _printable(value: str) -> str:
    return value.encode("utf-8", "backslashreplace").decode("utf-8")
