"""A form that fails (its own checks, or the backend's 4xx) shows its page again with a
4xx and every field as it was typed; passwords excepted. Other forms of the page stay
empty. Inputs carry the backend's length limits as `maxlength`."""

from __future__ import annotations

import html
import json
import re

from dtbase.client import Client
from dtbase.schemas.common import KEY_LENGTH, NAME_LENGTH, URL_LENGTH
from dtbase.schemas.locations import LocationIdentifier
from dtbase.schemas.sensors import SensorMeasure
from dtbase.schemas.users import EMAIL_LENGTH
from dtbase.schemas.values import ValueDatatype
from tests.utils.visitors import Visitor, text_of

SENSORS = "/sensors/index"
MEASURES = [
    SensorMeasure(name="temperature", units="C", datatype=ValueDatatype.float),
    SensorMeasure(name="humidity", units="%", datatype=ValueDatatype.float),
    SensorMeasure(name="door", units=None, datatype=ValueDatatype.boolean),
]


def _form(page: str, action: str) -> str:
    found = re.search(rf'<form[^>]*action="{re.escape(action)}".*?</form>', page, re.S)
    assert found, f"no form posting to {action}"
    return found.group(0)


def _checked(form: str) -> list[str]:
    """The values of the ticked checkboxes."""
    return [
        html.unescape(value)
        for value in re.findall(r'<input checked[^>]*type="checkbox" value="([^"]*)"', form)
    ]


def test_a_sensor_type_with_three_measures_comes_back_whole(
    admin_visitor: Visitor, client: Client
) -> None:
    client.sensors.insert_sensor_type("existing", MEASURES[:2])
    typed = {
        "name": "weather",
        "description": "Roof & garden",
        "existing": ['["temperature", "C"]', '["humidity", "%"]'],
        # The third measure's line is wrong: no datatype.
        "new_measures": "door, \nwind, m/s",
    }

    response = admin_visitor.submit(SENSORS, "/sensors/add-type", typed)  # type: ignore[arg-type]

    assert (response.status_code, response.request.path) == (422, "/sensors/add-type")
    assert "New measures: line 1: write name, units, datatype" in text_of(response)
    form = _form(response.text, "/sensors/add-type")
    assert 'value="weather"' in form
    assert 'value="Roof &amp; garden"' in form
    assert _checked(form) == ['["temperature", "C"]', '["humidity", "%"]']
    assert ">\ndoor, \nwind, m/s</textarea>" in form.replace("\r\n", "\n")
    # The add-sensor form of the same page is not filled with the type's values.
    assert 'value="weather"' not in _form(response.text, "/sensors/add")
    assert [t.name for t in client.sensors.list_sensor_types()] == ["existing"]


def test_a_duplicate_sensor_keeps_what_was_typed(admin_visitor: Visitor, client: Client) -> None:
    client.sensors.insert_sensor_type("thermometer", MEASURES[:1])
    client.sensors.insert_sensor("thermometer", "t-1")
    typed = {"type_name": "thermometer", "unique_identifier": "t-1", "name": "Roof", "notes": "N"}

    response = admin_visitor.submit(SENSORS, "/sensors/add", typed)

    assert response.status_code == 409
    form = _form(response.text, "/sensors/add")
    for value in ("t-1", "Roof", "N"):
        assert f'value="{value}"' in form
    assert '<option selected value="thermometer">' in form


def test_passwords_are_never_written_back(admin_visitor: Visitor, client: Client) -> None:
    client.users.create_user("twice@example.com", "password-1")
    typed = {"email": "twice@example.com", "password": "secret-password", "role": "viewer"}

    response = admin_visitor.submit("/users/index", "/users/create", typed)

    assert response.status_code == 409
    form = _form(response.text, "/users/create")
    assert 'value="twice@example.com"' in form
    assert '<option selected value="viewer">' in form
    assert "secret-password" not in response.text


def test_a_mismatched_password_change_keeps_no_password(admin_visitor: Visitor) -> None:
    typed = {"password": "fresh-secret-1", "confirm": "fresh-secret-2"}

    response = admin_visitor.submit("/users/index", "/users/change-password", typed)

    assert response.status_code == 422
    assert "The passwords differ." in text_of(response)
    assert "fresh-secret" not in response.text


def test_inputs_carry_the_backends_limits(admin_visitor: Visitor, client: Client) -> None:
    client.sensors.insert_sensor_type("thermometer", MEASURES[:1])

    sensors = admin_visitor.get(SENSORS).text
    users = admin_visitor.get("/users/index").text

    add_type = _form(sensors, "/sensors/add-type")
    assert re.search(rf'maxlength="{NAME_LENGTH}"[^>]*name="name"', add_type)
    add_sensor = _form(sensors, "/sensors/add")
    assert re.search(rf'maxlength="{NAME_LENGTH}"[^>]*name="unique_identifier"', add_sensor)
    assert re.search(rf'maxlength="{EMAIL_LENGTH}"[^>]*name="email"', users)
    services = admin_visitor.get("/services/index").text
    register = _form(services, "/services/register")
    assert re.search(rf'maxlength="{KEY_LENGTH}"[^>]*name="name"', register)
    assert re.search(rf'maxlength="{URL_LENGTH}"[^>]*name="url"', register)
    subscriptions = admin_visitor.get("/events/subscriptions").text
    subscribe = _form(subscriptions, "/events/subscriptions/create")
    assert re.search(rf'maxlength="{NAME_LENGTH}"[^>]*name="name"', subscribe)
    assert re.search(rf'maxlength="{URL_LENGTH}"[^>]*name="url"', subscribe)


def test_a_too_long_measure_line_is_refused_by_the_form(
    admin_visitor: Visitor, client: Client
) -> None:
    line = f"{'n' * (NAME_LENGTH + 1)}, C, float"

    response = admin_visitor.submit(
        SENSORS, "/sensors/add-type", {"name": "long", "new_measures": line}
    )

    assert response.status_code == 422
    assert f"at most {NAME_LENGTH} characters" in text_of(response)
    assert client.sensors.list_sensor_types() == []


def test_a_failed_location_edit_keeps_the_rows_typed_value(
    admin_visitor: Visitor, client: Client
) -> None:
    floor = [LocationIdentifier(name="floor", units=None, datatype=ValueDatatype.integer)]
    client.locations.insert_location_schema("floors", None, floor)
    for number in (1, 2):
        client.locations.insert_location_for_schema("floors", {"floor": number})
    page = "/locations/index?schema=floors"
    typed = {"schema": "floors", "coordinates": json.dumps({"floor": 2}), "value:floor": "two"}

    response = admin_visitor.submit(page, "/locations/edit", typed)

    assert response.status_code == 422
    assert "floor: 'two' is not a whole number." in text_of(response)
    values = re.findall(r'name="value:floor"\s+value="([^"]*)" class="cell-input"', response.text)
    assert values == ["1", "two"]  # only the row that was sent keeps what was typed
    assert [row["floor"] for row in client.locations.list_locations("floors")] == [1, 2]
