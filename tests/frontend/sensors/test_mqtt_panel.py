"""The sensor page's MQTT panel: topic, a mosquitto_pub line, a SenML example, the last
message and recent errors as the bridge reported them."""

from __future__ import annotations

import html
from datetime import UTC, datetime

from dtbase.client import Client
from tests.utils.visitors import Visitor

MEASURES = [{"name": "temperature", "units": "degC", "datatype": "float"}]


def test_panel_shows_how_to_publish_and_what_arrived(
    admin_visitor: Visitor, client: Client
) -> None:
    client.sensors.insert_sensor_type("thermometer", MEASURES)
    client.sensors.insert_sensor("thermometer", "T-1")
    at = datetime(2026, 12, 5, 1, 2, 3, tzinfo=UTC)
    client.mqtt.insert_activity(
        [
            {
                "unique_identifier": "T-1",
                "last_message_at": at,
                "messages": 7,
                "errors": 1,
                "recent_errors": [
                    {"cause": "not_json", "reason": "not JSON: <script>", "received_at": at}
                ],
            }
        ]
    )

    page = admin_visitor.get("/sensors/sensor/T-1")

    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "dtbase/T-1/readings" in text
    assert (
        "mosquitto_pub -h 127.0.0.1 -p 1883 -q 1 -u T-1 -P '<password>' -t dtbase/T-1/readings"
        in text
    )
    assert '[{"n": "temperature", "v": 21.5, "u": "degC"}]' in text
    assert "Last message:\n    2026-12-05 01:02:03 UTC\n    (7 stored, 1 refused)" in text
    assert "not JSON: &lt;script&gt;" in page.text  # escaped


def test_panel_of_a_silent_sensor(admin_visitor: Visitor, client: Client) -> None:
    client.sensors.insert_sensor_type("thermometer", MEASURES)
    client.sensors.insert_sensor("thermometer", "T-2")

    page = admin_visitor.get("/sensors/sensor/T-2")

    assert page.status_code == 200
    assert "none yet" in page.text
    assert 'data-testid="mqtt-errors"' not in page.text
