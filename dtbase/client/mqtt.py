from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dtbase.client.resource import Resource, as_models
from dtbase.schemas.mqtt import (
    InsertActivityAnswer,
    InsertActivityRequest,
    SensorActivity,
    SensorTraffic,
)
from dtbase.schemas.sensors import SensorRequest


class Mqtt(Resource):
    """The /mqtt endpoints: sensors' MQTT traffic, as the bridge reports it."""

    def insert_activity(
        self, sensors: Sequence[SensorTraffic | Mapping[str, Any]]
    ) -> InsertActivityAnswer:
        body = InsertActivityRequest(sensors=as_models(SensorTraffic, sensors))
        return self._client.post(
            "/mqtt/insert-activity", body.model_dump(mode="json"), InsertActivityAnswer
        )

    def sensor_activity(self, unique_identifier: str) -> SensorActivity:
        body = SensorRequest(unique_identifier=unique_identifier)
        return self._client.post("/mqtt/sensor-activity", body.model_dump(), SensorActivity)
