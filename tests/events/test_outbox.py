"""The outbox's guarantees, against the real database: ids in commit order, NOTIFY on
commit only, and the query's two forms agreeing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from dtbase.backend.db import make_session_factory
from dtbase.backend.events import store
from dtbase.backend.events.query import matches, where
from dtbase.backend.events.record import record, record_many
from dtbase.backend.events.tables import CHANNEL, Event
from dtbase.schemas.events import EventKind, EventQuery
from tests.utils.locks import when_blocked

READINGS = EventKind.readings_stored
Sessions = sessionmaker[Session]


@pytest.fixture
def sessions(engine: Engine, clean_database: None) -> Sessions:
    return make_session_factory(engine)


def test_ids_follow_commit_order(engine: Engine, sessions: Sessions) -> None:
    """The first writer's transaction stays open; a second one records and tries to commit
    first. It must wait, and its event get the larger id, so that a reader who saw the
    second never misses the first."""
    with sessions() as first:
        record(first, READINGS, {"sensor": "first"})
        first.flush()

        def second() -> None:
            with sessions.begin() as session:
                record(session, READINGS, {"sensor": "second"})

        def reader_sees_nothing_yet() -> None:
            with sessions() as reader:
                assert store.events_after(reader, EventQuery(), after=0, limit=10) == []

        when_blocked(engine, first, second, meanwhile=reader_sees_nothing_yet)

    with sessions() as reader:
        events = store.events_after(reader, EventQuery(), after=0, limit=10)
    assert [event.meta["sensor"] for event in events] == ["first", "second"]
    assert events[0].id < events[1].id
    assert events[0].time <= events[1].time


def _listener(database_url: str) -> psycopg.Connection[Any]:
    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    connection = psycopg.connect(url, autocommit=True)
    connection.execute(f"LISTEN {CHANNEL}")
    return connection


def _notifications(connection: psycopg.Connection[Any]) -> list[str]:
    return [n.payload for n in connection.notifies(timeout=0.5, stop_after=1)]


def test_notify_arrives_on_commit_and_not_on_rollback(
    database_url: str, sessions: Sessions
) -> None:
    with _listener(database_url) as listener:
        with sessions() as session:
            record(session, READINGS, {"sensor": "a"})
            session.flush()
            assert _notifications(listener) == []  # not before the commit
            session.rollback()
        assert _notifications(listener) == []

        with sessions.begin() as session:
            record_many(session, [(READINGS, {"sensor": "a"}), (READINGS, {"sensor": "b"})])
        assert _notifications(listener) == [""]


def test_record_many_is_one_statement_and_nothing_for_none(
    engine: Engine, sessions: Sessions
) -> None:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        with sessions.begin() as session:
            record_many(session, [])
            assert statements == []
            record_many(session, [(READINGS, {"sensor": "a"}), (READINGS, {"sensor": "b"})])
    finally:
        event.remove(engine, "before_cursor_execute", count)

    assert len(statements) == 1
    with sessions() as session:
        assert len(store.events_after(session, EventQuery(), after=0, limit=10)) == 2


def test_cursors(sessions: Sessions) -> None:
    with sessions.begin() as session:
        assert store.newest_id(session) == 0
        record(session, READINGS, {"sensor": "a"})
        record(session, READINGS, {"sensor": "b"})
    with sessions() as session:
        first, second = store.events_after(session, EventQuery(), after=0, limit=10)
        assert store.newest_id(session) == second.id
        assert store.first_id_since(session, first.time) == 0
        assert store.first_id_since(session, second.time) == first.id
        assert store.first_id_since(session, second.time + timedelta(seconds=1)) == second.id
        assert store.events_after(session, EventQuery(), after=first.id, limit=10) == [second]
        assert store.events_after(session, EventQuery(), after=0, limit=1) == [first]


# (query, kind, meta, whether it matches)
CASES: list[tuple[dict[str, Any], EventKind, dict[str, Any], bool]] = [
    ({}, READINGS, {"sensor": "a"}, True),
    ({"kind": "readings.stored"}, READINGS, {"sensor": "a"}, True),
    ({"kind": ["model.created", "readings.stored"]}, READINGS, {}, True),
    ({"kind": "model.created"}, READINGS, {"sensor": "a"}, False),
    ({"sensor": "a"}, READINGS, {"sensor": "a"}, True),
    ({"sensor": "a"}, READINGS, {"sensor": "ab"}, False),
    ({"sensor": ["b", "a"]}, READINGS, {"sensor": "a"}, True),
    ({"sensor": "a"}, READINGS, {}, False),
    ({"sensor": "a"}, READINGS, {"sensor": None}, False),
    ({"sensor": "a"}, EventKind.model_run_stored, {"sensor": ["b", "a"]}, True),
    ({"sensor": ["c", "d"]}, EventKind.model_run_stored, {"sensor": ["b", "a"]}, False),
    ({"sensor": "a"}, EventKind.model_run_stored, {"sensor": []}, False),
    ({"measure": "t"}, READINGS, {"sensor": "a", "measure": ["t", "h"]}, True),
    ({"sensor": "a", "measure": "t"}, READINGS, {"sensor": "a", "measure": ["t"]}, True),
    ({"sensor": "a", "measure": "h"}, READINGS, {"sensor": "a", "measure": ["t"]}, False),
    ({"sensor": "b", "measure": "t"}, READINGS, {"sensor": "a", "measure": ["t"]}, False),
    ({"location": 3}, EventKind.location_created, {"location": "3", "schema": "s"}, True),
    ({"location": [3, "4"]}, EventKind.location_created, {"location": "4"}, True),
    ({"location": "3"}, EventKind.location_created, {"location": 3}, False),
    ({"scenario": "x"}, EventKind.model_run_stored, {"model": "m", "scenario": None}, False),
    (
        {"kind": "model_run.stored", "model": "m", "scenario": ["x", "y"]},
        EventKind.model_run_stored,
        {"model": "m", "scenario": "y"},
        True,
    ),
    (
        {"kind": "readings.stored", "model": "m"},
        EventKind.model_run_stored,
        {"model": "m"},
        False,
    ),
    ({"service": "s"}, EventKind.service_run_finished, {"service": "s", "run": 1}, True),
    ({"sensor_type": "T"}, EventKind.sensor_created, {"sensor": "a", "sensor_type": "t"}, False),
]


@pytest.mark.parametrize(("given", "kind", "meta", "expected"), CASES)
def test_matches_and_where_agree(
    sessions: Sessions, given: dict[str, Any], kind: EventKind, meta: dict[str, Any], expected: bool
) -> None:
    query = EventQuery.model_validate(given)
    with sessions() as session:
        record(session, kind, meta)
        in_sql = session.scalar(select(Event.id).where(where(query))) is not None
        session.rollback()

    assert matches(query, kind, meta) is expected
    assert in_sql is expected


def test_the_query_travels_as_parameters_and_as_json() -> None:
    query = EventQuery.from_params({"kind": ["readings.stored"], "sensor": ["a", "b"]})
    assert query == EventQuery(kind=[READINGS], sensor=["a", "b"])
    stored = query.model_dump(mode="json", exclude_none=True)
    assert stored == {"kind": ["readings.stored"], "sensor": ["a", "b"]}
    assert EventQuery.model_validate(stored) == query


@pytest.mark.parametrize(
    "params",
    [
        {"kind": ["readings.nope"]},
        {"colour": ["red"]},
        {"sensor": []},
        {"after": ["3"]},
    ],
)
def test_bad_queries_are_refused(params: dict[str, list[str]]) -> None:
    with pytest.raises(ValidationError):
        EventQuery.from_params(params)


# Few values, so that events and queries often meet: names, a number and its string.
_NAMES = st.sampled_from(["a", "b", "1"])
_META_VALUES = st.one_of(st.none(), _NAMES, st.just(1), st.booleans(), st.lists(_NAMES, max_size=3))
_FIELDS = ["sensor", "measure", "location"]


@given(
    meta=st.fixed_dictionaries({}, optional={field: _META_VALUES for field in _FIELDS}),
    given_query=st.dictionaries(
        st.sampled_from(_FIELDS),
        st.one_of(_NAMES, st.just(1), st.lists(_NAMES, min_size=1, max_size=2)),
        max_size=2,
    ),
    kind=st.sampled_from(list(EventKind)),
    kinds=st.none() | st.lists(st.sampled_from(list(EventKind)), min_size=1, max_size=2),
)
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_matches_and_where_agree_on_any_event(
    sessions: Sessions,
    meta: dict[str, Any],
    given_query: dict[str, Any],
    kind: EventKind,
    kinds: list[EventKind] | None,
) -> None:
    query = EventQuery.model_validate({**given_query, "kind": kinds})
    with sessions() as session:
        record(session, kind, meta)
        in_sql = session.scalar(select(Event.id).where(where(query))) is not None
        session.rollback()

    assert matches(query, kind, meta) is in_sql
