"""The home page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from dtbase.client import ApiError, Client
from dtbase.core.settings import DEFAULT_USER_EMAIL
from dtbase.schemas.locations import LocationIdentifier
from dtbase.schemas.models import ModelRun
from dtbase.schemas.sensors import SensorMeasure
from dtbase.schemas.values import ValueDatatype
from tests.utils.visitors import Visitor


def _count(page: str, label: str) -> int:
    found = re.search(rf'data-testid="count-{label}">\s*<div class="count-value">(\d+)</div>', page)
    assert found, f"no count of {label}"
    return int(found.group(1))


def test_root_leads_home(admin_visitor: Visitor) -> None:
    response = admin_visitor.get("/")

    assert response.status_code == 302
    assert response.headers["Location"] == "/home/index"


def test_home_says_who_you_are_and_where_to_go(admin_visitor: Visitor) -> None:
    page = admin_visitor.get("/home/index")

    assert page.status_code == 200
    assert DEFAULT_USER_EMAIL in page.text
    assert '<span class="badge badge-admin">admin</span>' in page.text
    assert 'href="/users/index"' in page.text
    assert 'aria-current="page"' in page.text  # the sidebar marks Home


def test_home_counts_what_the_twin_holds(admin_visitor: Visitor, client: Client) -> None:
    page = admin_visitor.get("/home/index").text
    assert [_count(page, label) for label in ("sensors", "locations", "models", "services")] == [
        0,
        0,
        0,
        0,
    ]

    client.sensors.insert_sensor_type(
        "thermometer", [SensorMeasure(name="temperature", units="C", datatype=ValueDatatype.float)]
    )
    client.sensors.insert_sensor("thermometer", "t-1")
    client.sensors.insert_sensor("thermometer", "t-2")
    zone = [LocationIdentifier(name="zone", units=None, datatype=ValueDatatype.string)]
    for name in ("north", "south", "east"):
        client.locations.insert_location(zone, [name])
    client.models.insert_model("forecast")
    client.services.insert_service("ingress", "http://127.0.0.1:1/ingress", "POST")

    page = admin_visitor.get("/home/index").text
    assert _count(page, "sensors") == 2
    assert _count(page, "locations") == 3
    assert _count(page, "models") == 1
    assert _count(page, "services") == 1


def test_home_shows_latest_readings_with_their_age_and_flags_stale_ones(
    admin_visitor: Visitor, client: Client
) -> None:
    now = datetime.now(UTC)
    client.sensors.insert_sensor_type(
        "station",
        [
            SensorMeasure(name="temperature", units="C", datatype=ValueDatatype.float),
            SensorMeasure(name="door", units=None, datatype=ValueDatatype.boolean),
        ],
    )
    client.sensors.insert_sensor("station", "fresh")
    client.sensors.insert_sensor("station", "old")
    client.sensors.insert_sensor_readings(
        "temperature",
        "fresh",
        [20.5, 21.25],
        [now - timedelta(minutes=30), now - timedelta(minutes=5)],
    )
    client.sensors.insert_sensor_readings("door", "fresh", [True], [now - timedelta(minutes=2)])
    client.sensors.insert_sensor_readings("temperature", "old", [9.0], [now - timedelta(days=2)])
    client.sensors.insert_sensor("station", "ancient")
    client.sensors.insert_sensor_readings(
        "temperature", "ancient", [-3.5], [now - timedelta(days=400, hours=1)]
    )

    page = admin_visitor.get("/home/index").text

    rows = {
        (sensor, measure): row
        for sensor, measure, row in re.findall(
            r'<tr data-sensor="([^"]+)" data-measure="([^"]+)"(.*?)</tr>', page, re.S
        )
    }
    fresh = rows[("fresh", "temperature (C)")]
    assert "21.25" in fresh
    assert "5 min" in fresh
    assert "stale" not in fresh
    door = rows[("fresh", "door")]
    assert "<td>true</td>" in door
    assert "stale" not in door
    old = rows[("old", "temperature (C)")]
    assert "9.0" in old
    assert "2 days" in old
    assert "data-stale" in old
    never = rows[("old", "door")]
    assert "no readings" in never
    assert "data-stale" in never
    ancient = rows[("ancient", "temperature (C)")]
    assert "-3.5" in ancient
    assert "400 days" in ancient
    assert "data-stale" in ancient


def test_home_shows_the_last_model_and_service_runs(admin_visitor: Visitor, client: Client) -> None:
    client.models.insert_model("forecast")
    for hour in range(7):
        client.models.insert_model_run(
            "forecast",
            f"scenario {hour}",
            [],
            time_created=datetime(2024, 1, 1, hour, tzinfo=UTC),
            create_scenario=True,
        )
    client.services.insert_service("ingress", "http://127.0.0.1:1/ingress", "POST")
    with pytest.raises(ApiError):
        client.services.run_service("ingress")  # nobody listens: logged as a failed run

    page = admin_visitor.get("/home/index").text

    runs = re.search(r'data-testid="model-runs">(.*?)</table>', page, re.S)
    assert runs
    # Each row links to its run's page.
    links = re.findall(
        r'<a href="/models/run/(\d+)"[^>]*>(2024-01-01 \d\d:00:00)</a>', runs.group(1)
    )
    ids = {run.time_created.hour: run.id for run in _runs(client)}
    assert links == [(str(ids[hour]), f"2024-01-01 {hour:02d}:00:00") for hour in (6, 5, 4, 3, 2)]
    service = re.search(r'data-testid="service-runs">(.*?)</table>', page, re.S)
    assert service
    assert "ingress" in service.group(1)
    assert "502 failed" in service.group(1)


def test_empty_home_says_so(admin_visitor: Visitor) -> None:
    page = admin_visitor.get("/home/index").text

    assert "No model runs yet." in page
    assert "No service runs yet." in page


def _runs(client: Client) -> list[ModelRun]:
    return client.models.list_model_runs("forecast", dt_from=datetime(2024, 1, 1, tzinfo=UTC))
