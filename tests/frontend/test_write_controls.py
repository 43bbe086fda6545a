"""Pages show write controls only to the roles the backend lets use them: a viewer gets
no form but logging out (and their password), a user no admin-only form."""

from __future__ import annotations

import re

import pytest

from dtbase.client import Client
from dtbase.schemas.locations import LocationIdentifier
from dtbase.schemas.sensors import SensorMeasure
from dtbase.schemas.users import Role
from dtbase.schemas.values import ValueDatatype
from frontend.auth.roles import may_administer, may_write
from tests.utils.visitors import VisitorFactory

PAGES = [
    "/home/index",
    "/sensors/index",
    "/sensors/sensor/t-1",
    "/sensors/type/thermometer",
    "/uploads/index",
    "/uploads/sensor/t-1",
    "/locations/index?schema=rooms",
    "/models/index",
    "/services/index",
    "/services/service/echo",
    "/users/index",
]
POST_FORM = re.compile(r'<form method="post" action="([^"]+)"')


@pytest.fixture
def twin(client: Client) -> Client:
    measure = SensorMeasure(name="temperature", units="C", datatype=ValueDatatype.float)
    client.sensors.insert_sensor_type("thermometer", [measure])
    client.sensors.insert_sensor("thermometer", "t-1")
    room = [LocationIdentifier(name="room", units=None, datatype=ValueDatatype.string)]
    client.locations.insert_location_schema("rooms", None, room)
    client.locations.insert_location_for_schema("rooms", {"room": "A"})
    client.services.insert_service("echo", "http://127.0.0.1:9/api/echo", "POST")
    client.services.insert_parameter_set("echo", "daily", {})
    client.services.insert_schedule("echo", "morning", cron="0 6 * * *")
    return client


def _forms(visitor_factory: VisitorFactory, role: Role) -> dict[str, set[str]]:
    visitor = visitor_factory(role)
    forms = {}
    for url in PAGES:
        response = visitor.get(url)
        assert response.status_code == 200, url
        forms[url] = set(POST_FORM.findall(response.text))
    return forms


def test_roles_match_the_backends_matrix() -> None:
    assert [may_write(role) for role in Role] == [True, True, False]
    assert [may_administer(role) for role in Role] == [True, False, False]
    assert not may_write(None)


def test_a_viewer_gets_no_write_form(visitor_factory: VisitorFactory, twin: Client) -> None:
    forms = _forms(visitor_factory, Role.viewer)

    extra = {url: found - {"/logout"} for url, found in forms.items()}
    assert extra == {url: set() for url in PAGES} | {"/users/index": {"/users/change-password"}}


def test_a_user_gets_the_data_forms_but_not_the_admins(
    visitor_factory: VisitorFactory, twin: Client
) -> None:
    forms = _forms(visitor_factory, Role.user)

    assert {"/sensors/add-type", "/sensors/add"} <= forms["/sensors/index"]
    assert {"/locations/create", "/locations/edit"} <= forms["/locations/index?schema=rooms"]
    assert {"/services/run", "/services/schedules/create"} <= forms["/services/service/echo"]
    assert forms["/services/index"] == {"/logout"}  # registering and deleting: admins only
    assert forms["/users/index"] == {"/logout", "/users/change-password"}
