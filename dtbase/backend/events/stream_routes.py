"""`GET /events/stream`: events as server-sent events, replayed from a cursor, then live.

The stream's first record carries no data, only `id:` (the cursor it starts from) and
`retry:`: a client that loses the connection before any event still resumes from there
(`Last-Event-ID`), so "from now" means from the moment of the first connection.

The stream ends when the access token it was opened with expires: a client reconnects
with a fresh token and `Last-Event-ID`, missing nothing (an EventSource in a browser
cannot renew a token, so pages relay the stream through the frontend).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated

import jwt
from fastapi import Header, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import Field
from sqlalchemy.orm import Session
from sse_starlette import EventSourceResponse, ServerSentEvent

from dtbase.backend.db import SessionDep
from dtbase.backend.events.store import EventJson, first_id_since, newest_id
from dtbase.backend.events.stream import EventHub
from dtbase.backend.one_thread import reads_only
from dtbase.backend.routing import documented, protected_router
from dtbase.schemas.events import EventQuery

router = protected_router(prefix="/events", tags=["events"])

# How long an EventSource waits before it reconnects (ms); our client backs off itself.
RETRY_MILLISECONDS = 2_000
# A comment this often keeps an idle connection open through proxies.
KEEP_ALIVE_SECONDS = 15
# A client that accepts nothing for this long is dropped (it reconnects and resumes).
SEND_TIMEOUT_SECONDS = 60
SEPARATOR = "\n"


class StreamParameters(EventQuery):
    """The query, and where to start when no `Last-Event-ID` is sent."""

    start: str | None = Field(
        default=None,
        alias="from",
        description=(
            "An event id (the events after it, as `Last-Event-ID`; 0: every event kept) or "
            "an ISO 8601 time (the events from then on). Default: from now on. "
            "A `Last-Event-ID` header overrides it."
        ),
    )

    def query(self) -> EventQuery:
        return EventQuery.model_validate(self.model_dump(exclude={"start"}, exclude_none=True))


@router.get(
    "/stream",
    response_class=EventSourceResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "Records of `id:` (event id), `event:` (kind) and `data:` "
            "(the event as JSON), after a first record of `id:` and `retry:` only.",
        },
        **documented({422: "An unknown query field or kind, or a bad `from` or Last-Event-ID"}),
    },
)
@reads_only
def stream_events(
    request: Request,
    session: SessionDep,
    parameters: Annotated[StreamParameters, Query()],
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> EventSourceResponse:
    """The events matching the query (its fields repeated for a list), live; replayed
    first from `Last-Event-ID` or `from`."""
    # Sync, so that the user's lookup and the cursor take one hop at the requests' gate
    # (`one_thread`), as other small reads do, and give the connection back before the
    # stream begins. As an async endpoint, each stream held its connection from the
    # lookup (in a thread of its own) to its return: ten listeners connecting at once
    # held ten, the pool made new ones beyond its five and closed old ones after, and
    # the next requests paid a new PostgreSQL backend's cold caches (docs/events.md).
    cursor = _cursor(session, last_event_id, parameters.start)
    records = _records(
        event_hub_of(request), parameters.query(), cursor, expiry=_token_expiry(request)
    )
    return EventSourceResponse(
        records,
        ping=KEEP_ALIVE_SECONDS,
        sep=SEPARATOR,
        send_timeout=SEND_TIMEOUT_SECONDS,
    )


def event_hub_of(request: Request) -> EventHub:
    hub: EventHub = request.app.state.event_hub
    return hub


def _cursor(session: Session, last_event_id: str | None, start: str | None) -> int:
    """The id after which the stream starts."""
    if last_event_id is not None:
        return _event_id(last_event_id, ("header", "Last-Event-ID"))
    if start is None:
        return newest_id(session)
    if _digits(start):
        return _event_id(start, ("query", "from"))
    try:
        since = datetime.fromisoformat(start.strip().replace("Z", "+00:00"))
    except ValueError:
        raise _invalid(
            ("query", "from"), "Expected an event id or an ISO 8601 time", start
        ) from None
    if since.tzinfo is None:
        raise _invalid(("query", "from"), "The time needs a time zone (e.g. Z)", start)
    return first_id_since(session, since)


def _event_id(text: str, where: tuple[str, str]) -> int:
    # At most 18 digits: any id a bigint holds, and no more.
    if not _digits(text) or len(text.strip()) > 18:
        raise _invalid(where, "Expected an event id (a whole number, 0 or more)", text)
    return int(text)


def _digits(text: str) -> bool:
    return text.strip().isascii() and text.strip().isdigit()


def _invalid(where: tuple[str, str], message: str, value: str) -> RequestValidationError:
    return RequestValidationError(
        [{"type": "value_error", "loc": where, "msg": message, "input": value}]
    )


def _token_expiry(request: Request) -> float:
    """When the request's access token expires (Unix time). (The route's dependencies
    have checked the token; only its expiry is read here.)"""
    token = request.headers["authorization"].partition(" ")[2].strip()
    return float(jwt.decode(token, options={"verify_signature": False})["exp"])


async def _records(
    hub: EventHub, query: EventQuery, cursor: int, *, expiry: float
) -> AsyncGenerator[ServerSentEvent | bytes, None]:
    until = asyncio.get_running_loop().time() + (expiry - time.time())
    yield ServerSentEvent(id=str(cursor), retry=RETRY_MILLISECONDS, sep=SEPARATOR)
    async with contextlib.aclosing(hub.follow(query, after=cursor, until=until)) as batches:
        async for batch in batches:
            # A batch in one write: a listener catching up gets pages of a thousand.
            yield b"".join(_record(event) for event in batch)


def _record(event: EventJson) -> bytes:
    # Written out rather than through `ServerSentEvent`, whose line splitting costs more
    # than the rest of a catch-up. Nothing here can hold a line break: an id, a kind's
    # name, and JSON as PostgreSQL writes it (on one line, control characters escaped).
    return f"id: {event.id}\nevent: {event.kind}\ndata: {event.json}\n\n".encode()
