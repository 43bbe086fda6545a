"""The sensors area: types, sensors (filtered, with type and location), one sensor's page."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from dtbase.client import Client
from dtbase.schemas.locations import LocationIdentifier
from dtbase.schemas.sensors import SensorMeasure
from dtbase.schemas.users import Role
from dtbase.schemas.values import ValueDatatype
from tests.utils.visitors import Visitor, VisitorFactory, text_of

PAGE = "/sensors/index"
TEMPERATURE = SensorMeasure(name="temperature", units="C", datatype=ValueDatatype.float)


def _thermometers(client: Client, *identifiers: str) -> None:
    client.sensors.insert_sensor_type("thermometer", [TEMPERATURE])
    for identifier in identifiers:
        client.sensors.insert_sensor("thermometer", identifier)


def _sensors_on(page: str) -> list[str]:
    return re.findall(r'<tr data-sensor="([^"]+)">', page)


def test_empty_page_says_what_to_do(admin_visitor: Visitor) -> None:
    page = admin_visitor.get(PAGE)

    assert page.status_code == 200
    assert "No sensors yet." in page.text
    assert "No sensor types yet" in page.text
    assert "Add a sensor<" not in page.text  # needs a type first


def test_add_type_with_new_and_existing_measures(admin_visitor: Visitor, client: Client) -> None:
    client.sensors.insert_sensor_type("thermometer", [TEMPERATURE])
    existing = '["temperature", "C"]'

    response = admin_visitor.submit(
        PAGE,
        "/sensors/add-type",
        {
            "name": "weather",
            "description": "A weather station",
            "existing": existing,
            "new_measures": "humidity, %, float\n\nraining, , boolean\nsky, , string",
        },
    )

    assert response.request.path == PAGE
    assert "Sensor type weather added." in text_of(response)
    weather = {t.name: t for t in client.sensors.list_sensor_types()}["weather"]
    assert weather.description == "A weather station"
    assert [(m.name, m.units, m.datatype) for m in weather.measures] == [
        ("temperature", "C", ValueDatatype.float),
        ("humidity", "%", ValueDatatype.float),
        ("raining", None, ValueDatatype.boolean),
        ("sky", None, ValueDatatype.string),
    ]


@pytest.mark.parametrize(
    ("measures", "message"),
    [
        ("humidity, %", "line 1: write name, units, datatype"),
        ("humidity, %, double", "the datatype must be one of string, float, integer, boolean"),
        ("", "Choose or add at least one measure."),
    ],
)
def test_bad_measures_are_refused_with_a_reason(
    admin_visitor: Visitor, client: Client, measures: str, message: str
) -> None:
    response = admin_visitor.submit(
        PAGE, "/sensors/add-type", {"name": "weather", "new_measures": measures}
    )

    assert message in text_of(response)
    assert client.sensors.list_sensor_types() == []


def test_existing_type_flashes_the_backend_answer(admin_visitor: Visitor, client: Client) -> None:
    _thermometers(client)

    response = admin_visitor.submit(
        PAGE, "/sensors/add-type", {"name": "thermometer", "new_measures": "t, C, float"}
    )

    assert response.status_code == 409
    assert 'class="flash flash-error"' in response.text
    assert [t.name for t in client.sensors.list_sensor_types()] == ["thermometer"]


def test_add_sensor_goes_to_its_page(admin_visitor: Visitor, client: Client) -> None:
    _thermometers(client)

    response = admin_visitor.submit(
        PAGE,
        "/sensors/add",
        {"type_name": "thermometer", "unique_identifier": "t-1", "name": "Roof", "notes": "north"},
    )

    assert response.request.path == "/sensors/sensor/t-1"
    assert "Sensor t-1 added." in text_of(response)
    assert "Not installed anywhere yet." in response.text
    [sensor] = client.sensors.list_sensors("thermometer")
    assert (sensor.unique_identifier, sensor.name, sensor.notes) == ("t-1", "Roof", "north")


def test_duplicate_sensor_flashes_the_backend_answer(
    admin_visitor: Visitor, client: Client
) -> None:
    _thermometers(client, "t-1")

    response = admin_visitor.submit(
        PAGE, "/sensors/add", {"type_name": "thermometer", "unique_identifier": "t-1"}
    )

    assert (response.status_code, response.request.path) == (409, "/sensors/add")
    assert 'class="flash flash-error"' in response.text
    assert len(client.sensors.list_sensors()) == 1


def test_add_sensor_of_unknown_type_is_refused(admin_visitor: Visitor, client: Client) -> None:
    _thermometers(client)

    response = admin_visitor.submit(
        PAGE, "/sensors/add", {"type_name": "barometer", "unique_identifier": "b-1"}
    )

    assert "Not a valid choice" in text_of(response)
    assert client.sensors.list_sensors() == []


def test_list_filters_by_type_and_shows_every_sensor_with_type_and_location(
    admin_visitor: Visitor, client: Client
) -> None:
    identifiers = [f"t-{n:03d}" for n in range(30)]
    _thermometers(client, *identifiers)
    client.sensors.insert_sensor_type(
        "hygrometer", [SensorMeasure(name="humidity", units="%", datatype=ValueDatatype.float)]
    )
    client.sensors.insert_sensor("hygrometer", "h-1")
    x = {"name": "x", "units": None, "datatype": "float"}
    schema = client.locations.insert_location([x], [1.5]).schema_name
    client.sensors.insert_sensor_location("h-1", schema, {"x": 1.5}, datetime(2024, 5, 1))

    thermometers = admin_visitor.get(f"{PAGE}?type=thermometer").text
    hygrometers = admin_visitor.get(f"{PAGE}?type=hygrometer").text
    everything = admin_visitor.get(PAGE).text

    # The whole list is in the page: its table sorts, searches and pages it.
    assert _sensors_on(thermometers) == identifiers
    assert _sensors_on(hygrometers) == ["h-1"]
    assert _sensors_on(everything) == [*identifiers, "h-1"]
    row = re.search(r'<tr data-sensor="h-1">(.*?)</tr>', everything, re.S)
    assert row is not None
    cells = [
        re.sub(r"<[^>]+>", "", cell).split() for cell in re.findall(r"<td>(.*?)</td>", row[1], re.S)
    ]
    assert cells == [["h-1"], [], ["hygrometer"], ["x=1.5", "since", "2024-05-01", "00:00"], []]


def test_unknown_type_filter_is_a_flash(admin_visitor: Visitor) -> None:
    response = admin_visitor.get(f"{PAGE}?type=nothing", follow=True)

    assert response.request.path == PAGE
    assert "There is no sensor type called nothing." in text_of(response)


def test_edit_sensor(admin_visitor: Visitor, client: Client) -> None:
    _thermometers(client, "t-1")

    response = admin_visitor.submit(
        "/sensors/sensor/t-1", "/sensors/edit/t-1", {"name": "Cellar", "notes": "damp"}
    )

    assert "Sensor t-1 saved." in text_of(response)
    [sensor] = client.sensors.list_sensors()
    assert (sensor.name, sensor.notes) == ("Cellar", "damp")
    assert 'value="Cellar"' in response.text


def test_unknown_sensor_page_is_not_found(admin_visitor: Visitor) -> None:
    assert admin_visitor.get("/sensors/sensor/ghost").status_code == 404


def test_delete_sensor(admin_visitor: Visitor, client: Client) -> None:
    _thermometers(client, "t-1", "t-2")

    response = admin_visitor.submit("/sensors/sensor/t-1", "/sensors/delete/t-1", {})

    assert response.request.path == PAGE
    assert "Sensor t-1 deleted." in text_of(response)
    assert [s.unique_identifier for s in client.sensors.list_sensors()] == ["t-2"]


def test_delete_without_csrf_token_is_refused(admin_visitor: Visitor, client: Client) -> None:
    _thermometers(client, "t-1")

    response = admin_visitor.client.post("/sensors/delete/t-1")

    assert response.status_code == 400
    assert len(client.sensors.list_sensors()) == 1


def test_viewer_cannot_add_a_sensor(visitor_factory: VisitorFactory, client: Client) -> None:
    _thermometers(client)
    viewer = visitor_factory(Role.viewer)

    response = viewer.submit(
        PAGE, "/sensors/add", {"type_name": "thermometer", "unique_identifier": "t-9"}
    )

    assert response.status_code == 403
    assert "needs the role" in text_of(response)
    assert client.sensors.list_sensors() == []


def test_assign_location_and_see_the_history(admin_visitor: Visitor, client: Client) -> None:
    _thermometers(client, "t-1")
    zone = [LocationIdentifier(name="zone", units=None, datatype=ValueDatatype.string)]
    client.locations.insert_location(zone, ["north"])
    client.locations.insert_location(zone, ["south"])
    page = admin_visitor.get("/sensors/sensor/t-1").text
    choices = re.findall(r'<option value="([^"]+)">([^<]+)</option>', page)
    north = next(value for value, label in choices if "north" in label)
    south = next(value for value, label in choices if "south" in label)

    admin_visitor.submit(
        "/sensors/sensor/t-1",
        "/sensors/assign-location/t-1",
        {"location": north.replace("&#34;", '"'), "installed": "2024-01-01T08:00"},
    )
    response = admin_visitor.submit(
        "/sensors/sensor/t-1",
        "/sensors/assign-location/t-1",
        {"location": south.replace("&#34;", '"'), "installed": "2024-06-01T08:00"},
    )

    assert "Sensor t-1 installed at zone south." in text_of(response)
    history = client.sensors.list_sensor_locations("t-1")
    assert [(h.coordinates, h.installation_datetime) for h in history] == [
        ({"zone": "south"}, datetime(2024, 6, 1, 8, tzinfo=UTC)),
        ({"zone": "north"}, datetime(2024, 1, 1, 8, tzinfo=UTC)),
    ]
    assert 'data-testid="location-history"' in response.text
    assert "2024-06-01 08:00:00" in response.text


def test_assigning_a_location_that_is_not_offered_is_refused(
    admin_visitor: Visitor, client: Client
) -> None:
    _thermometers(client, "t-1")

    response = admin_visitor.submit(
        "/sensors/sensor/t-1",
        "/sensors/assign-location/t-1",
        {"location": '{"schema": "x", "coordinates": {}}'},
    )

    assert "Not a valid choice" in text_of(response)
    assert client.sensors.list_sensor_locations("t-1") == []
