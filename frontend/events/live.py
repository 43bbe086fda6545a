"""What a live page needs to follow the events (frontend/static/js/live.js): the query of
the events it shows, and the cursor to start from, so that nothing stored after the page
was made is missed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from dtbase.client import Client
from frontend.events.stream import slots


@dataclass(frozen=True)
class LivePage:
    query: dict[str, list[str]]
    cursor: int  # the newest event id when the page was made


def live_page(client: Client, **query: list[str]) -> LivePage | None:
    """The page's live settings (None when live pages are turned off: DT_FRONTEND_STREAMS=0).
    `query`: the event query's fields (`kind`, `sensor`, ...), empty ones left out."""
    if slots().limit == 0:
        return None
    return LivePage({field: values for field, values in query.items() if values}, newest_id(client))


def newest_id(client: Client) -> int:
    """The id of the newest event: the page of events since now is empty, and its cursor
    is the greatest id before now."""
    return client.events.history(since=datetime.now(UTC), limit=1).last_id
