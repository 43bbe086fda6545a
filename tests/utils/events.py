"""Events read back over the API, for tests of what writes record."""

from __future__ import annotations

from typing import Any

import httpx


def events_since(client: httpx.Client, after: int = 0, **query: Any) -> list[dict[str, Any]]:
    """Every event with an id above `after` matching `query` (GET /events/list, paged)."""
    events: list[dict[str, Any]] = []
    while True:
        params = {**query, "after": after, "limit": 1000}
        response = client.get("/events/list", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        events.extend(page["events"])
        if not page["events"]:
            return events
        after = page["last_id"]


def last_id(client: httpx.Client) -> int:
    """The newest event's id (0 if none): `events_since(client, last_id(client))` then
    holds only what happened after this call."""
    events = events_since(client)
    return events[-1]["id"] if events else 0


def kinds_and_meta(events: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(event["kind"], event["meta"]) for event in events]
