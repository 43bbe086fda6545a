"""Foreign keys checked once per bulk write (`timeseries.foreign_keys`): the write skips the
per-row checks only with every parent locked, switches them back on after itself, keeps
refusing rows of missing parents, and steps aside for a table with a plain trigger."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, make_url
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from dtbase.backend.app import create_app
from dtbase.backend.db import make_session_factory
from dtbase.backend.timeseries import foreign_keys, ingest
from dtbase.backend.timeseries.ingest import driver_connection
from dtbase.core.settings import BackendSettings
from dtbase.schemas.values import ValueDatatype
from tests.utils.locks import when_blocked
from tests.utils.sensors import add_sensors, iso

MEASURES = [{"name": "temperature", "units": "K", "datatype": "float"}]
T0 = datetime(2024, 1, 1, tzinfo=UTC)
MANY = foreign_keys.FEWEST_ROWS
KEYS = ("sensor_id", "measure_id")


@pytest.fixture
def site(admin: httpx.Client) -> httpx.Client:
    return add_sensors(admin, "Probe", MEASURES, ["A", "B"])


@pytest.fixture
def session(site: httpx.Client, engine: Engine) -> Iterator[Session]:
    with make_session_factory(engine)() as session:
        yield session


def _ids(session: Session, uid: str) -> tuple[int, int]:
    sensor_id, measure_id = session.execute(
        sql_text(
            "SELECT s.id, m.id FROM sensor s, sensor_measure m"
            " WHERE s.unique_identifier = :uid AND m.name = 'temperature'"
        ),
        {"uid": uid},
    ).one()
    return sensor_id, measure_id


def _rows(prefix: tuple[int, int], count: int) -> ingest.Rows:
    stamps = [T0 + timedelta(seconds=index) for index in range(count)]
    return ingest.Rows(prefix, stamps, [0.5] * count)


def _store(session: Session, *series: ingest.Rows) -> None:
    ingest.insert_series(
        session,
        table="sensor_reading",
        prefix_keys=KEYS,
        datatype=ValueDatatype.float,
        series=series,
    )


def _role(session: Session) -> str:
    return str(session.scalar(sql_text("SELECT current_setting('session_replication_role')")))


def _count(engine: Engine, uid: str) -> int:
    with engine.connect() as connection:
        return int(
            connection.scalar(
                sql_text(
                    "SELECT count(*) FROM sensor_reading r JOIN sensor s ON s.id = r.sensor_id"
                    " WHERE s.unique_identifier = :uid"
                ),
                {"uid": uid},
            )
        )


def test_a_large_write_locks_its_parents_once_and_switches_the_checks_back_on(
    session: Session, engine: Engine
) -> None:
    prefixes = [_ids(session, "A"), _ids(session, "B")]
    with driver_connection(session).cursor() as cursor:
        with foreign_keys.checked_once(
            session, cursor, "sensor_reading", KEYS, prefixes, MANY
        ) as once:
            assert once
            assert _role(session) == "replica"
        assert _role(session) == "origin"
    # Both sensors and the measure stay locked as a per-row check would lock them: a
    # delete elsewhere cannot take them before this transaction ends.
    with engine.connect() as other:
        for table, row_id in [
            ("sensor", prefixes[0][0]),
            ("sensor", prefixes[1][0]),
            ("sensor_measure", prefixes[0][1]),
        ]:
            with pytest.raises(Exception, match="could not obtain lock"):
                other.execute(
                    sql_text(f"SELECT FROM {table} WHERE id = :id FOR UPDATE NOWAIT"),
                    {"id": row_id},
                )
            other.rollback()


def test_small_writes_keep_the_per_row_checks(session: Session) -> None:
    with driver_connection(session).cursor() as cursor:
        prefixes = [_ids(session, "A")]
        with foreign_keys.checked_once(
            session, cursor, "sensor_reading", KEYS, prefixes, MANY - 1
        ) as once:
            assert not once
            assert _role(session) == "origin"


def test_rows_of_a_missing_sensor_are_refused_and_nothing_is_stored(
    session: Session, engine: Engine
) -> None:
    sensor_id, measure_id = _ids(session, "A")
    missing = sensor_id + 1_000
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        _store(session, _rows((sensor_id, measure_id), MANY), _rows((missing, measure_id), MANY))
    session.rollback()
    assert _count(engine, "A") == 0
    assert _role(session) == "origin"


def test_a_sensor_deleted_while_its_readings_are_written_takes_them_along(
    session: Session, engine: Engine
) -> None:
    """The delete waits for the writer's lock on the sensor, then cascades to its rows
    (and only then: no reading is left without its sensor)."""
    prefix = _ids(session, "A")
    _store(session, _rows(prefix, MANY))
    with make_session_factory(engine)() as deleter:
        deleter_pid = deleter.scalar(sql_text("SELECT pg_backend_pid()"))

        def delete() -> None:
            deleter.execute(sql_text("DELETE FROM sensor WHERE id = :id"), {"id": prefix[0]})
            deleter.commit()

        def not_committed_yet() -> None:
            assert _count(engine, "A") == 0

        when_blocked(engine, session, delete, deleter_pid, meanwhile=not_committed_yet)
    with engine.connect() as connection:
        assert connection.scalar(sql_text("SELECT count(*) FROM sensor_reading")) == 0


@pytest.mark.parametrize("count", [1, MANY])
def test_a_sensor_deleted_under_a_request_gets_a_409_and_nothing_is_stored(
    site: httpx.Client, engine: Engine, count: int
) -> None:
    """The request finds the sensor, then waits for its lock while another transaction
    deletes it: its write fails on the missing sensor, a conflict, not a server error."""
    body = {
        "unique_identifier": "A",
        "measure_name": "temperature",
        "readings": [0.5] * count,
        "timestamps": [iso(T0 + timedelta(seconds=index)) for index in range(count)],
    }
    with make_session_factory(engine)() as deleter:
        sensor_id = deleter.scalar(
            sql_text("SELECT id FROM sensor WHERE unique_identifier = 'A' FOR UPDATE")
        )
        response = when_blocked(
            engine,
            deleter,
            lambda: site.post("/sensor/insert-sensor-readings", json=body),
            meanwhile=lambda: deleter.execute(
                sql_text("DELETE FROM sensor WHERE id = :id"), {"id": sensor_id}
            ),
        )
    assert response.status_code == 409, response.text
    assert "deleted by another request" in response.json()["detail"]
    with engine.connect() as connection:
        assert connection.scalar(sql_text("SELECT count(*) FROM sensor_reading")) == 0


@pytest.fixture
def plain_trigger(site: httpx.Client, engine: Engine) -> Iterator[str]:
    """A plain (not ALWAYS) row trigger on sensor_reading that counts the rows it sees,
    created while the backend runs: its pooled connections have already learned the
    table without it."""
    with engine.begin() as connection:
        connection.execute(sql_text("CREATE TABLE seen_by_trigger (n int)"))
        connection.execute(
            sql_text(
                "CREATE FUNCTION count_seen() RETURNS trigger LANGUAGE plpgsql AS"
                " $$ BEGIN INSERT INTO seen_by_trigger VALUES (1); RETURN NULL; END $$"
            )
        )
    try:
        yield (
            "CREATE TRIGGER seen AFTER INSERT ON sensor_reading"
            " FOR EACH ROW EXECUTE FUNCTION count_seen()"
        )
    finally:
        with engine.begin() as connection:
            connection.execute(sql_text("DROP TRIGGER IF EXISTS seen ON sensor_reading"))
            connection.execute(sql_text("DROP FUNCTION count_seen() CASCADE"))
            connection.execute(sql_text("DROP TABLE seen_by_trigger"))


def test_a_plain_trigger_added_while_running_sees_every_row(
    site: httpx.Client, engine: Engine, plain_trigger: str
) -> None:
    def insert(start: int) -> None:
        stamps = [iso(T0 + timedelta(seconds=start + index)) for index in range(MANY)]
        body = {
            "unique_identifier": "A",
            "measure_name": "temperature",
            "readings": [0.5] * MANY,
            "timestamps": stamps,
        }
        response = site.post("/sensor/insert-sensor-readings", json=body)
        assert response.status_code == 201, response.text

    # Warm every pooled connection of the backend with the plan learned before.
    threads = [threading.Thread(target=insert, args=(n * MANY,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    with engine.begin() as connection:
        connection.execute(sql_text(plain_trigger))
    for round_ in range(4, 8):
        insert(round_ * MANY)

    with engine.connect() as connection:
        seen = connection.scalar(sql_text("SELECT count(*) FROM seen_by_trigger"))
    assert seen == 4 * MANY
    assert _count(engine, "A") == 8 * MANY


@pytest.fixture
def plain_role(site: httpx.Client, engine: Engine, database_url: str) -> Iterator[Engine]:
    """An engine whose role may write the tables but not set session_replication_role
    (as a cloud database's admin, which is not a superuser)."""
    with engine.begin() as connection:
        connection.execute(sql_text("CREATE ROLE dtbase_plain LOGIN"))
        connection.execute(
            sql_text("GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO dtbase_plain")
        )
        connection.execute(
            sql_text("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO dtbase_plain")
        )
    plain = create_engine(make_url(database_url).set(username="dtbase_plain", password=None))
    try:
        yield plain
    finally:
        plain.dispose()
        with engine.begin() as connection:
            connection.execute(sql_text("DROP OWNED BY dtbase_plain"))
            connection.execute(sql_text("DROP ROLE dtbase_plain"))


def test_a_role_that_may_not_switch_keeps_the_per_row_checks(
    plain_role: Engine, engine: Engine
) -> None:
    with make_session_factory(plain_role)() as session:
        prefix = _ids(session, "A")
        with (
            driver_connection(session).cursor() as cursor,
            foreign_keys.checked_once(
                session, cursor, "sensor_reading", KEYS, [prefix], MANY
            ) as once,
        ):
            assert not once
        _store(session, _rows(prefix, MANY))
        session.commit()
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            _store(session, _rows((prefix[0] + 1_000, prefix[1]), MANY))
    assert _count(engine, "A") == MANY


def test_the_setting_turns_the_shortcut_off(
    site: httpx.Client,
    settings: BackendSettings,
    database_url: str,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DT_INGEST_FK_SHORTCUT", "false")
    from_environment = BackendSettings(**settings.model_dump(exclude={"ingest_fk_shortcut"}))
    assert from_environment.ingest_fk_shortcut is False
    app = create_app(from_environment, database_url=database_url)
    # The app's sessions (the tests' role is a superuser, which may switch) check per row.
    with app.state.session_factory() as session:
        prefix = _ids(session, "A")
        with (
            driver_connection(session).cursor() as cursor,
            foreign_keys.checked_once(
                session, cursor, "sensor_reading", KEYS, [prefix], MANY
            ) as once,
        ):
            assert not once
            assert _role(session) == "origin"
    # And its ingest stores as ever.
    with TestClient(app) as client:
        token = site.headers["Authorization"]
        stamps = [iso(T0 + timedelta(seconds=index)) for index in range(MANY)]
        body = {
            "unique_identifier": "A",
            "measure_name": "temperature",
            "readings": [0.5] * MANY,
            "timestamps": stamps,
        }
        response = client.post(
            "/sensor/insert-sensor-readings", json=body, headers={"Authorization": token}
        )
        assert response.status_code == 201, response.text
    assert _count(engine, "A") == MANY
