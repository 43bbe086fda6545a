"""Every domain's tables, imported so that `Base.metadata` describes the whole schema."""

from dtbase.backend.auth.tables import AuthSession, LoginAttempts
from dtbase.backend.db import Base
from dtbase.backend.events.subscriptions_tables import EventDelivery, EventSubscription
from dtbase.backend.events.tables import Event
from dtbase.backend.fdb_codes.tables import FdbMeasureCode, FdbModelCode, FdbScenarioCode
from dtbase.backend.locations.tables import (
    Location,
    LocationIdentifier,
    LocationSchema,
    LocationSchemaIdentifier,
    LocationValue,
)
from dtbase.backend.models.tables import (
    Model,
    ModelMeasure,
    ModelProduct,
    ModelRun,
    ModelScenario,
    ModelValue,
)
from dtbase.backend.mqtt.tables import MqttSensorActivity
from dtbase.backend.sensors.tables import (
    Sensor,
    SensorLocation,
    SensorMeasure,
    SensorReading,
    SensorType,
    SensorTypeMeasure,
)
from dtbase.backend.services.tables import (
    Service,
    ServiceParameterSet,
    ServiceRunLog,
    ServiceSchedule,
)
from dtbase.backend.users.tables import User

__all__ = [
    "AuthSession",
    "Base",
    "Event",
    "EventDelivery",
    "EventSubscription",
    "FdbMeasureCode",
    "FdbModelCode",
    "FdbScenarioCode",
    "Location",
    "LocationIdentifier",
    "LocationSchema",
    "LocationSchemaIdentifier",
    "LocationValue",
    "LoginAttempts",
    "Model",
    "ModelMeasure",
    "ModelProduct",
    "ModelRun",
    "ModelScenario",
    "ModelValue",
    "MqttSensorActivity",
    "Sensor",
    "SensorLocation",
    "SensorMeasure",
    "SensorReading",
    "SensorType",
    "SensorTypeMeasure",
    "Service",
    "ServiceParameterSet",
    "ServiceRunLog",
    "ServiceSchedule",
    "User",
]
