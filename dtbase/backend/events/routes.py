"""Events read back by cursor: `GET /events/list`, for any logged-in user."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import Field

from dtbase.backend.db import SessionDep
from dtbase.backend.events import store
from dtbase.backend.routing import protected_router
from dtbase.schemas.common import UtcDatetime
from dtbase.schemas.events import EventPage, EventQuery

router: APIRouter = protected_router(prefix="/events", tags=["events"])

MAX_PAGE = 10_000
LARGEST_ID = 2**63 - 1  # bigint


class ListEventsParams(EventQuery):
    """The query (each field repeated for a list), and where the page starts."""

    after: int = Field(
        default=0, ge=0, le=LARGEST_ID, description="Events with a greater id (a cursor)."
    )
    since: UtcDatetime | None = Field(
        default=None, description="Events from this time on (with `after`: the later of both)."
    )
    limit: int = Field(default=100, ge=1, le=MAX_PAGE)


@router.get("/list", response_model=EventPage)
def list_events(params: Annotated[ListEventsParams, Query()], session: SessionDep) -> Response:
    """Events in commit order (by id) matching the query: for every field given, the
    event's value, or an element of it when it is a list, equals one of the values given.
    Page on with `after` = the answer's `last_id`; an unknown key or kind is a 422."""
    after = params.after
    if params.since is not None:
        after = max(after, store.first_id_since(session, params.since))
    query = EventQuery.model_validate(
        params.model_dump(exclude_none=True, exclude={"after", "since", "limit"})
    )
    events = store.event_json_after(session, query, after=after, limit=params.limit)
    # An `EventPage`, written out: each event's JSON is ready-made (see `event_json_after`).
    last_id = events[-1].id if events else after
    body = f'{{"events":[{",".join(event.json for event in events)}],"last_id":{last_id}}}'
    return Response(body, media_type="application/json")
