from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from dtbase.backend.mqtt.tables import MqttSensorActivity
from dtbase.backend.sensors import store as sensors_store
from dtbase.backend.sensors.tables import Sensor
from dtbase.schemas.mqtt import RECENT_ERRORS, SensorActivity, SensorTraffic


def record(session: Session, *, traffic: Sequence[SensorTraffic]) -> list[str]:
    """Add the bridge's report to each sensor's activity; the names of unknown sensors."""
    names = {t.unique_identifier for t in traffic}
    query = select(Sensor.unique_identifier, Sensor.id).where(Sensor.unique_identifier.in_(names))
    ids: dict[str, int] = {name: sensor_id for name, sensor_id in session.execute(query)}
    # Rows locked in id order: two bridges reporting at once wait, never deadlock.
    rows = {
        row.sensor_id: row
        for row in session.scalars(
            select(MqttSensorActivity)
            .where(MqttSensorActivity.sensor_id.in_(ids.values()))
            .order_by(MqttSensorActivity.sensor_id)
            .with_for_update()
        )
    }
    unknown: list[str] = []
    for item in traffic:
        sensor_id = ids.get(item.unique_identifier)
        if sensor_id is None:
            unknown.append(item.unique_identifier)
            continue
        row = rows.get(sensor_id)
        if row is None:
            row = rows[sensor_id] = MqttSensorActivity(
                sensor_id=sensor_id, messages=0, errors=0, recent_errors=[]
            )
            session.add(row)
        row.messages += item.messages
        row.errors += item.errors
        if item.last_message_at is not None and (
            row.last_message_at is None or item.last_message_at > row.last_message_at
        ):
            row.last_message_at = item.last_message_at
        newest = [e.model_dump(mode="json") for e in reversed(item.recent_errors)]
        row.recent_errors = (newest + row.recent_errors)[:RECENT_ERRORS]
    session.flush()
    return sorted(set(unknown))


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
