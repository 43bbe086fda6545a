"""/mqtt/insert-activity and /mqtt/sensor-activity against the real backend."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, event

from dtbase.client import ApiError, Client
from dtbase.schemas.users import Role
from tests.mqtt.helpers import add_sensors
from tests.utils.accounts import UserFactory

AT = datetime(2026, 12, 5, tzinfo=UTC)


def error(number: int) -> dict[str, object]:
    return {"cause": "not_json", "reason": f"error {number}", "received_at": AT}


def test_reports_add_up_and_keep_the_newest_errors(client: Client) -> None:
    add_sensors(client, "S1")
    answer = client.mqtt.insert_activity(
        [
            {
                "unique_identifier": "S1",
                "last_message_at": AT,
                "messages": 3,
                "errors": 6,
                "recent_errors": [error(n) for n in range(6)],
            },
            {"unique_identifier": "GONE", "messages": 1},
        ]
    )
    assert answer.unknown_sensors == ["GONE"]
    client.mqtt.insert_activity(
        [
            {
                "unique_identifier": "S1",
                "last_message_at": AT - timedelta(hours=1),
                "messages": 2,
                "errors": 6,
                "recent_errors": [error(n) for n in range(6, 12)],
            },
        ]
    )

    activity = client.mqtt.sensor_activity("S1")
    assert activity.messages == 5
    assert activity.errors == 12
    assert activity.last_message_at == AT  # an older report does not move it back
    assert [e.reason for e in activity.recent_errors] == [f"error {n}" for n in range(11, 1, -1)]


def test_a_sensor_without_traffic(client: Client) -> None:
    add_sensors(client, "S1")
    activity = client.mqtt.sensor_activity("S1")
    assert (activity.messages, activity.errors, activity.recent_errors) == (0, 0, [])
    assert activity.last_message_at is None


def test_an_unknown_sensor_is_a_400(client: Client) -> None:
    with pytest.raises(ApiError) as raised:
        client.mqtt.sensor_activity("nope")
    assert raised.value.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"sensors": [{"unique_identifier": "S1", "messages": -1}]},
        {"sensors": [{"unique_identifier": "S1", "recent_errors": [{"cause": "x"}]}]},
        {"sensors": [{"unique_identifier": "S1", "recent_errors": [error(n) for n in range(11)]}]},
    ],
)
def test_a_bad_report_is_a_422_and_changes_nothing(
    client: Client, admin: httpx.Client, body: dict[str, object]
) -> None:
    add_sensors(client, "S1")
    response = admin.post(
        "/mqtt/insert-activity",
        content=json.dumps(body, default=str),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert client.mqtt.sensor_activity("S1").messages == 0


def test_viewers_may_read_but_not_report(client: Client, user_factory: UserFactory) -> None:
    add_sensors(client, "S1")
    viewer = user_factory(Role.viewer)
    assert viewer.post("/mqtt/sensor-activity", json={"unique_identifier": "S1"}).status_code == 200
    refused = viewer.post("/mqtt/insert-activity", json={"sensors": []})
    assert refused.status_code == 403


def test_a_sensor_reported_twice_in_one_report_is_a_400(client: Client) -> None:
    add_sensors(client, "S1")
    with pytest.raises(ApiError) as raised:
        client.mqtt.insert_activity(
            [{"unique_identifier": "S1", "messages": 1}, {"unique_identifier": "S1"}]
        )
    assert raised.value.status_code == 400
    assert "S1" in raised.value.description
    assert client.mqtt.sensor_activity("S1").messages == 0


def test_a_report_of_a_thousand_sensors_is_one_fixed_statement(client: Client) -> None:
    """The upsert's SQL is the same for 2 sensors and for 1,000 (a VALUES row per sensor
    was a new statement of 5,000 parameters to compile for every report, 0.3 s in the
    backend's one request thread), and every sensor's report lands."""
    names = [f"S{n:04d}" for n in range(1000)]
    client.sensors.insert_sensor_type(
        "station", [{"name": "t", "units": None, "datatype": "float"}]
    )
    for name in names:
        client.sensors.insert_sensor("station", name)
    upserts: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("INSERT INTO mqtt_sensor_activity"):
            upserts.append(statement)

    event.listen(Engine, "before_cursor_execute", note)
    try:
        client.mqtt.insert_activity([{"unique_identifier": n, "messages": 1} for n in names[:2]])
        client.mqtt.insert_activity(
            [
                {"unique_identifier": n, "messages": 2, "errors": 1, "recent_errors": [error(i)]}
                for i, n in enumerate(names)
            ]
        )
    finally:
        event.remove(Engine, "before_cursor_execute", note)

    assert len(upserts) == 2
    assert upserts[0] == upserts[1]
    first, last = client.mqtt.sensor_activity(names[0]), client.mqtt.sensor_activity(names[-1])
    assert (first.messages, first.errors, first.last_message_at) == (3, 1, None)
    assert (last.messages, [e.reason for e in last.recent_errors]) == (2, ["error 999"])
