"""The /mqtt router (additive): the bridge reports sensors' traffic, anyone signed in
reads a sensor's."""

from __future__ import annotations

from fastapi import APIRouter

from dtbase.backend.auth.deps import Writer
from dtbase.backend.db import SessionDep
from dtbase.backend.mqtt import store
from dtbase.backend.routing import documented, protected_router
from dtbase.backend.sensors import store as sensors_store
from dtbase.schemas.mqtt import InsertActivityAnswer, InsertActivityRequest, SensorActivity
from dtbase.schemas.sensors import SensorRequest

router: APIRouter = protected_router(prefix="/mqtt", tags=["mqtt"])


@router.post(
    "/insert-activity",
    response_model=InsertActivityAnswer,
    responses=documented({400: store.REPORTED_TWICE}),
)
def insert_activity(
    body: InsertActivityRequest, session: SessionDep, _: Writer
) -> InsertActivityAnswer:
    """Add what the MQTT bridge saw since its last report (messages, errors, the last
    message's time, the newest errors) to each sensor's activity. Sensors that do not
    exist are listed in the answer and not recorded."""
    unknown = store.record(session, traffic=body.sensors)
    recorded = len({s.unique_identifier for s in body.sensors}) - len(unknown)
    return InsertActivityAnswer(
        detail=f"Activity of {recorded} sensors recorded", unknown_sensors=unknown
    )


@router.post(
    "/sensor-activity",
    response_model=SensorActivity,
    responses=documented({400: sensors_store.NO_SUCH_SENSOR}),
)
def sensor_activity(body: SensorRequest, session: SessionDep) -> SensorActivity:
    """A sensor's MQTT traffic: last message time, counts, the newest errors first."""
    return store.activity(session, unique_identifier=body.unique_identifier)
