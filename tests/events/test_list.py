"""GET /events/list: the query as parameters, paging by cursor, and 422 for bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from dtbase.backend.db import make_session_factory
from dtbase.backend.events.record import record_many
from dtbase.schemas.events import EventKind
from dtbase.schemas.users import Role
from tests.utils.accounts import UserFactory

READINGS = EventKind.readings_stored


def _record(engine: Engine, events: list[tuple[EventKind, dict[str, Any]]]) -> None:
    with make_session_factory(engine).begin() as session:
        record_many(session, events)


def _page(client: httpx.Client, params: Any, status: int = 200) -> Any:
    response = client.get("/events/list", params=params)
    assert response.status_code == status, response.text
    return response.json()


def test_paging_through_a_thousand_events(admin: httpx.Client, engine: Engine) -> None:
    for start in range(0, 1000, 250):  # several transactions
        _record(engine, [(READINGS, {"sensor": f"s{n}"}) for n in range(start, start + 250)])

    seen: list[int] = []
    names: list[str] = []
    after = 0
    while True:
        page = _page(admin, {"after": after, "limit": 97})
        if not page["events"]:
            assert page["last_id"] == after
            break
        assert len(page["events"]) <= 97
        seen.extend(event["id"] for event in page["events"])
        names.extend(event["meta"]["sensor"] for event in page["events"])
        assert page["last_id"] == seen[-1]
        after = page["last_id"]

    assert seen == sorted(set(seen))
    assert names == [f"s{n}" for n in range(1000)]
    assert len(_page(admin, {})["events"]) == 100  # the default limit
    assert len(_page(admin, {"limit": 10_000})["events"]) == 1000


def test_filters(admin: httpx.Client, engine: Engine) -> None:
    _record(
        engine,
        [
            (READINGS, {"sensor": "a", "sensor_type": "t", "measure": ["x", "y"], "count": 1}),
            (READINGS, {"sensor": "b", "sensor_type": "t", "measure": ["y"], "count": 1}),
            (EventKind.sensor_created, {"sensor": "c", "sensor_type": "u"}),
            (EventKind.location_created, {"location": "7", "schema": "grid"}),
            (EventKind.model_run_stored, {"model": "m", "scenario": "s", "sensor": ["a"]}),
        ],
    )

    def sensors(params: Any) -> list[Any]:
        events = _page(admin, params)["events"]
        return [event["meta"].get("sensor", event["meta"].get("location")) for event in events]

    assert sensors({"kind": "readings.stored"}) == ["a", "b"]
    assert sensors({"kind": ["sensor.created", "location.created"]}) == ["c", "7"]
    assert sensors({"sensor": ["a", "c"]}) == ["a", "c", ["a"]]
    assert sensors({"sensor": "a", "kind": "model_run.stored"}) == [["a"]]
    assert sensors({"measure": "x"}) == ["a"]
    assert sensors({"measure": "y", "sensor": "b"}) == ["b"]
    assert sensors({"sensor_type": "t"}) == ["a", "b"]
    assert sensors({"location": 7}) == ["7"]
    assert sensors({"model": "m", "scenario": ["s", "z"]}) == [["a"]]
    assert sensors({"service": "nope"}) == []
    assert sensors({"sensor": ""}) == []


def test_since_starts_at_a_time(admin: httpx.Client, engine: Engine) -> None:
    _record(engine, [(READINGS, {"sensor": "old"})])
    with engine.begin() as connection:
        connection.execute(text("UPDATE event SET time = time - interval '1 hour'"))
    _record(engine, [(READINGS, {"sensor": "new"})])
    now = datetime.now(UTC)

    since = (now - timedelta(minutes=30)).isoformat()
    page = _page(admin, {"since": since})
    assert [event["meta"]["sensor"] for event in page["events"]] == ["new"]
    assert page["events"][0]["time"].endswith("Z")
    assert _page(admin, {"since": (now - timedelta(hours=2)).isoformat()})["events"][0]["meta"] == {
        "sensor": "old"
    }
    later = _page(admin, {"since": (now + timedelta(minutes=1)).isoformat()})
    assert later["events"] == []
    assert later["last_id"] == page["events"][0]["id"]  # the cursor for what comes next
    # With both, the later start wins.
    assert _page(admin, {"since": since, "after": 0})["events"] == page["events"]
    assert _page(admin, {"since": since, "after": page["last_id"]})["events"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"kind": "readings.nope"},
        {"kind": ["readings.stored", ""]},
        {"colour": "red"},
        {"sensor": "a\x00b"},
        {"sensor": ["a", "b"], "measure": "\x00"},
        {"after": -1},
        {"after": "abc"},
        {"after": "1.5"},
        {"after": str(2**70)},
        {"since": "yesterday"},
        {"since": "2030-13-01T00:00:00Z"},
        {"limit": 0},
        {"limit": 10_001},
        {"limit": "many"},
    ],
)
def test_bad_parameters_are_422_and_name_the_problem(
    admin: httpx.Client, params: dict[str, Any]
) -> None:
    answer = _page(admin, params, 422)
    assert answer["detail"][0]["loc"][0] == "query"


def test_any_logged_in_user_may_read_and_no_one_else(
    anonymous: httpx.Client, user_factory: UserFactory, engine: Engine
) -> None:
    _record(engine, [(READINGS, {"sensor": "a"})])
    viewer = user_factory(Role.viewer)

    assert [event["meta"] for event in _page(viewer, {})["events"]] == [{"sensor": "a"}]
    assert anonymous.get("/events/list").status_code == 401
