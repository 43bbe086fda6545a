from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import cast, func, select
from sqlalchemy.dialects.postgresql import JSONPATH, insert
from sqlalchemy.orm import Session

from dtbase.backend.errors import InvalidInput
from dtbase.backend.mqtt.tables import MqttSensorActivity
from dtbase.backend.sensors import store as sensors_store
from dtbase.backend.sensors.tables import Sensor
from dtbase.schemas.mqtt import RECENT_ERRORS, SensorActivity, SensorTraffic


def record(session: Session, *, traffic: Sequence[SensorTraffic]) -> list[str]:
    """Add the bridge's report to each sensor's activity, in one statement; the names of
    unknown sensors (not recorded)."""
    names = [t.unique_identifier for t in traffic]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InvalidInput(f"Sensors reported more than once: {', '.join(repeated)}")
    query = select(Sensor.unique_identifier, Sensor.id).where(Sensor.unique_identifier.in_(names))
    ids: dict[str, int] = {name: sensor_id for name, sensor_id in session.execute(query)}
    rows: list[dict[str, Any]] = [
        {
            "sensor_id": ids[t.unique_identifier],
            "last_message_at": t.last_message_at,
            "messages": t.messages,
            "errors": t.errors,
            "recent_errors": [e.model_dump(mode="json") for e in reversed(t.recent_errors)],
        }
        for t in traffic
        if t.unique_identifier in ids
    ]
    if rows:
        # In sensor order: two reports at once wait for each other, never deadlock.
        rows.sort(key=lambda row: int(row["sensor_id"]))
        table = MqttSensorActivity
        statement = insert(table).values(rows)
        new = statement.excluded
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[table.sensor_id],
                set_={
                    "messages": table.messages + new.messages,
                    "errors": table.errors + new.errors,
                    # greatest() skips NULLs: a report without messages keeps the time.
                    "last_message_at": func.greatest(table.last_message_at, new.last_message_at),
                    "recent_errors": func.jsonb_path_query_array(
                        new.recent_errors.op("||")(table.recent_errors),
                        cast(f"$[0 to {RECENT_ERRORS - 1}]", JSONPATH),
                    ),
                    "time_updated": func.now(),
                },
            )
        )
    return sorted(set(names) - set(ids))


def activity(session: Session, *, unique_identifier: str) -> SensorActivity:
    """The sensor's activity (NotFound-style InvalidInput for an unknown sensor)."""
    sensor = sensors_store.get_sensor(session, unique_identifier=unique_identifier)
    row = session.get(MqttSensorActivity, sensor.id)
    if row is None:
        return SensorActivity(
            unique_identifier=unique_identifier,
            last_message_at=None,
            messages=0,
            errors=0,
            recent_errors=[],
        )
    return SensorActivity.model_validate(
        {
            "unique_identifier": unique_identifier,
            "last_message_at": row.last_message_at,
            "messages": row.messages,
            "errors": row.errors,
            "recent_errors": row.recent_errors,
        }
    )
