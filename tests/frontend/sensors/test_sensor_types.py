"""A sensor type's page: rename it, change its description, edit its measures, delete it.
Every refusal of the backend is a flash and changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dtbase.client import Client
from dtbase.schemas.sensors import SensorMeasure, SensorType
from dtbase.schemas.users import Role
from dtbase.schemas.values import ValueDatatype
from tests.utils.visitors import Visitor, VisitorFactory, text_of

PAGE = "/sensors/type/weather"
TEMPERATURE = SensorMeasure(name="temperature", units="C", datatype=ValueDatatype.float)
DOOR = SensorMeasure(name="door", units=None, datatype=ValueDatatype.integer)
TEMPERATURE_KEY = '["temperature", "C"]'
DOOR_KEY = '["door", null]'


@pytest.fixture
def weather(client: Client) -> Client:
    client.sensors.insert_sensor_type("weather", [TEMPERATURE, DOOR], "Weather stations")
    return client


def _types(client: Client) -> dict[str, SensorType]:
    return {t.name: t for t in client.sensors.list_sensor_types()}


def _measure(name: str, units: str, datatype: str, key: str) -> dict[str, str]:
    return {"measure": key, "name": name, "units": units, "datatype": datatype}


def test_index_links_each_type_to_its_page(admin_visitor: Visitor, weather: Client) -> None:
    page = admin_visitor.get("/sensors/index")

    assert 'href="/sensors/type/weather"' in page.text
    assert 'aria-label="Edit or delete weather"' in page.text


def test_type_page_shows_details_and_measures(admin_visitor: Visitor, weather: Client) -> None:
    weather.sensors.insert_sensor("weather", "w-1")

    page = admin_visitor.get(PAGE)

    assert page.status_code == 200
    text = text_of(page)
    assert "Sensor type weather" in text
    assert 'value="Weather stations"' in text
    assert '<tr data-measure="temperature">' in text
    assert '<tr data-measure="door">' in text
    assert f'value="{TEMPERATURE_KEY}"' in text
    assert '<option selected value="integer">' in text
    assert "(1)" in text  # its sensors


def test_unknown_type_page_is_404(admin_visitor: Visitor) -> None:
    assert admin_visitor.get("/sensors/type/nothing").status_code == 404


def test_rename_a_type_and_change_its_description(admin_visitor: Visitor, weather: Client) -> None:
    weather.sensors.insert_sensor("weather", "w-1")

    response = admin_visitor.submit(
        PAGE, "/sensors/edit-type/weather", {"name": "station", "description": "Roof stations"}
    )

    assert response.request.path == "/sensors/type/station"
    assert "Sensor type station saved." in text_of(response)
    types = _types(weather)
    assert list(types) == ["station"]
    assert types["station"].description == "Roof stations"
    assert [s.unique_identifier for s in weather.sensors.list_sensors("station")] == ["w-1"]


def test_emptied_description_is_cleared(admin_visitor: Visitor, weather: Client) -> None:
    admin_visitor.submit(PAGE, "/sensors/edit-type/weather", {"name": "weather", "description": ""})

    assert _types(weather)["weather"].description is None


def test_renaming_onto_another_type_flashes_the_backend_answer(
    admin_visitor: Visitor, weather: Client
) -> None:
    weather.sensors.insert_sensor_type("other", [TEMPERATURE])

    response = admin_visitor.submit(
        PAGE, "/sensors/edit-type/weather", {"name": "other", "description": "changed"}
    )

    # The page again, at the form's address, with what was typed.
    assert (response.status_code, response.request.path) == (409, "/sensors/edit-type/weather")
    assert 'value="changed"' in response.text
    assert 'class="flash flash-error"' in response.text
    assert _types(weather)["weather"].description == "Weather stations"


def test_empty_name_is_refused_by_the_form(admin_visitor: Visitor, weather: Client) -> None:
    response = admin_visitor.submit(
        PAGE, "/sensors/edit-type/weather", {"name": " ", "description": "x"}
    )

    assert "Name: This field is required." in text_of(response)
    assert _types(weather)["weather"].description == "Weather stations"


def test_delete_a_type_without_sensors(admin_visitor: Visitor, weather: Client) -> None:
    response = admin_visitor.submit(PAGE, "/sensors/delete-type/weather", {})

    assert response.request.path == "/sensors/index"
    assert "Sensor type weather deleted." in text_of(response)
    assert _types(weather) == {}
    assert {m.name for m in weather.sensors.list_measures()} == {"temperature", "door"}


def test_type_with_sensors_is_kept_with_the_backend_reason(
    admin_visitor: Visitor, weather: Client
) -> None:
    weather.sensors.insert_sensor("weather", "w-1")

    response = admin_visitor.submit(PAGE, "/sensors/delete-type/weather", {})

    assert response.request.path == PAGE
    assert 'class="flash flash-error"' in response.text
    assert list(_types(weather)) == ["weather"]


def test_deleting_a_missing_type_flashes_the_backend_answer(
    admin_visitor: Visitor, weather: Client
) -> None:
    weather.sensors.delete_sensor_type("weather")  # meanwhile, in another window

    response = admin_visitor.submit(PAGE, "/sensors/delete-type/weather", {}, follow=False)

    assert response.status_code == 302
    assert response.headers["Location"] == PAGE
    assert "Sensor type does not exist" in text_of(admin_visitor.get(PAGE))  # with its 404


def test_edit_a_measure(admin_visitor: Visitor, weather: Client) -> None:
    response = admin_visitor.submit(
        PAGE,
        "/sensors/edit-measure/weather",
        _measure("air temperature", "K", "float", TEMPERATURE_KEY),
    )

    assert response.request.path == PAGE
    assert "Measure air temperature saved." in text_of(response)
    measures = {(m.name, m.units, m.datatype) for m in _types(weather)["weather"].measures}
    assert ("air temperature", "K", ValueDatatype.float) in measures
    assert ("temperature", "C", ValueDatatype.float) not in measures


def test_emptied_units_are_removed_and_datatype_changed_without_readings(
    admin_visitor: Visitor, weather: Client
) -> None:
    fields = _measure("temperature", "", "integer", TEMPERATURE_KEY)

    admin_visitor.submit(PAGE, "/sensors/edit-measure/weather", fields)

    measures = {m.name: m for m in _types(weather)["weather"].measures}
    assert (measures["temperature"].units, measures["temperature"].datatype) == (
        None,
        ValueDatatype.integer,
    )


def test_unchanged_measure_is_not_sent(admin_visitor: Visitor, weather: Client) -> None:
    response = admin_visitor.submit(
        PAGE, "/sensors/edit-measure/weather", _measure("door", "", "integer", DOOR_KEY)
    )

    assert "Nothing to change in the measure door." in text_of(response)


def test_datatype_of_a_measure_with_readings_is_kept(
    admin_visitor: Visitor, weather: Client
) -> None:
    weather.sensors.insert_sensor("weather", "w-1")
    weather.sensors.insert_sensor_readings("door", "w-1", [1], [datetime(2024, 1, 1, tzinfo=UTC)])

    response = admin_visitor.submit(
        PAGE, "/sensors/edit-measure/weather", _measure("door", "", "boolean", DOOR_KEY)
    )

    assert 'class="flash flash-error"' in response.text
    measures = {m.name: m for m in _types(weather)["weather"].measures}
    assert measures["door"].datatype == ValueDatatype.integer


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (_measure("x", "", "integer", '["nothing", null]'), "The type weather has no such"),
        (_measure("door", "", "double", DOOR_KEY), "Datatype: Not a valid choice"),
        (_measure("", "", "integer", DOOR_KEY), "Name: This field is required."),
    ],
)
def test_bad_measure_edits_are_refused_with_a_reason(
    admin_visitor: Visitor, weather: Client, fields: dict[str, str], message: str
) -> None:
    response = admin_visitor.submit(PAGE, "/sensors/edit-measure/weather", fields)

    assert message in text_of(response)
    assert {m.name for m in _types(weather)["weather"].measures} == {"temperature", "door"}


def test_viewer_cannot_change_or_delete_a_type(
    visitor_factory: VisitorFactory, weather: Client
) -> None:
    viewer = visitor_factory(Role.viewer)

    renamed = viewer.submit(PAGE, "/sensors/edit-type/weather", {"name": "mine"})
    deleted = viewer.submit(PAGE, "/sensors/delete-type/weather", {})

    assert "This action needs" in text_of(renamed)
    assert "This action needs" in text_of(deleted)
    assert list(_types(weather)) == ["weather"]


@pytest.mark.parametrize(
    "action",
    ["/sensors/edit-type/weather", "/sensors/delete-type/weather", "/sensors/edit-measure/weather"],
)
def test_type_posts_without_csrf_token_are_refused(
    admin_visitor: Visitor, weather: Client, action: str
) -> None:
    data = {"name": "changed", "measure": DOOR_KEY, "units": "", "datatype": "integer"}

    response = admin_visitor.client.post(action, data=data)

    assert response.status_code == 400
    types = _types(weather)
    assert list(types) == ["weather"]
    assert {m.name for m in types["weather"].measures} == {"temperature", "door"}
