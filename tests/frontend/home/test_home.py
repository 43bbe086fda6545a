"""The home page."""

from __future__ import annotations

import re

from dtbase.client import Client
from dtbase.core.settings import DEFAULT_USER_EMAIL
from dtbase.schemas.locations import LocationIdentifier
from dtbase.schemas.sensors import SensorMeasure
from dtbase.schemas.values import ValueDatatype
from tests.frontend.conftest import Visitor


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
