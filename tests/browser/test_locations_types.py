"""Locations and sensor types in a real browser: create a schema and a location, install a
sensor there, edit and delete a sensor type, and see string readings as a table."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect

from dtbase.client import Client
from dtbase.schemas.sensors import SensorMeasure
from dtbase.schemas.values import ValueDatatype
from tests.utils.pages import Watch, log_in, screenshot

START = datetime(2024, 3, 1, tzinfo=UTC)


def test_location_created_and_a_sensor_installed_there(
    page: Page, watch: Watch, client: Client
) -> None:
    client.sensors.insert_sensor_type(
        "thermometer", [SensorMeasure(name="temperature", units="C", datatype=ValueDatatype.float)]
    )
    client.sensors.insert_sensor("thermometer", "t-1")
    watch.allow_status(422, "/locations/create")
    log_in(page)

    page.locator(".sidebar").get_by_role("link", name="Locations").click()
    expect(page.get_by_test_id("no-schemas")).to_be_visible()
    new_schema = page.locator("form[action='/locations/create-schema']")
    new_schema.get_by_label("Name").fill("rooms")
    new_schema.get_by_label("Identifiers").fill("building, , string\nfloor, , integer")
    new_schema.get_by_role("button", name="Create schema").click()
    expect(page.locator(".flash-success")).to_have_text("Location schema rooms created.")

    add = page.get_by_test_id("add-location")
    add.get_by_label("building").fill("Main")
    add.get_by_label("floor").fill("first")
    add.get_by_role("button", name="Add location").click()
    expect(page.locator(".flash-error")).to_contain_text("floor: 'first' is not a whole number.")
    add.get_by_label("building").fill("Main")
    add.get_by_label("floor").fill("2")
    add.get_by_role("button", name="Add location").click()
    expect(page.locator(".flash-success")).to_have_text(
        "Location (building=Main, floor=2) added to rooms."
    )
    expect(page.get_by_test_id("locations-table").locator("tbody tr")).to_have_count(1)
    screenshot(page, "locations")

    page.goto("/sensors/sensor/t-1")
    page.get_by_label("Location", exact=True).select_option(label="rooms: building Main, floor 2")
    page.get_by_role("button", name="Install here").click()
    expect(page.locator(".flash-success")).to_have_text(
        "Sensor t-1 installed at building Main, floor 2."
    )
    expect(page.get_by_test_id("location-history")).to_contain_text("building Main, floor 2")
    (installed,) = client.sensors.list_sensor_locations("t-1")
    assert installed.coordinates == {"building": "Main", "floor": 2}

    watch.check()


def test_sensor_type_edited_and_deleted(page: Page, watch: Watch, client: Client) -> None:
    client.sensors.insert_sensor_type(
        "weather",
        [SensorMeasure(name="temp", units="C", datatype=ValueDatatype.float)],
        "Weather stations",
    )
    client.sensors.insert_sensor("weather", "w-1")
    log_in(page)

    page.locator(".sidebar").get_by_role("link", name="Sensors").click()
    screenshot(page, "sensors")
    page.get_by_role("link", name="Edit or delete weather").click()
    expect(page.get_by_role("heading", name="Sensor type weather")).to_be_visible()

    details = page.get_by_test_id("edit-type")
    details.get_by_label("Name").fill("station")
    details.get_by_label("Description").fill("Roof stations")
    details.get_by_role("button", name="Save type").click()
    expect(page.locator(".flash-success")).to_have_text("Sensor type station saved.")
    expect(page).to_have_url(re.compile(r"/sensors/type/station$"))

    row = page.locator("tr[data-measure='temp']")
    row.get_by_label("Name of temp").fill("temperature")
    row.get_by_label("Units of temp").fill("K")
    row.get_by_role("button", name="Save temp").click()
    expect(page.locator(".flash-success")).to_have_text("Measure temperature saved.")
    expect(page.locator("tr[data-measure='temperature']")).to_have_count(1)
    screenshot(page, "sensor-type")

    # A type with sensors stays, with the backend's reason.
    page.get_by_role("button", name="Delete sensor type").click()
    expect(page.locator(".flash-error")).to_be_visible()
    assert [t.name for t in client.sensors.list_sensor_types()] == ["station"]

    client.sensors.delete_sensor("w-1")
    page.get_by_role("button", name="Delete sensor type").click()
    expect(page.locator(".flash-success")).to_have_text("Sensor type station deleted.")
    expect(page).to_have_url(re.compile(r"/sensors/index$"))
    assert client.sensors.list_sensor_types() == []

    watch.check()


def test_string_readings_are_a_table_not_numbers(page: Page, watch: Watch, client: Client) -> None:
    client.sensors.insert_sensor_type(
        "camera", [SensorMeasure(name="sky", units=None, datatype=ValueDatatype.string)]
    )
    client.sensors.insert_sensor("camera", "c-1")
    skies = ["clear", "cloudy", "0.00"]
    times = [START + timedelta(hours=n) for n in range(len(skies))]
    client.sensors.insert_sensor_readings("sky", "c-1", skies, times)
    log_in(page)

    page.goto("/timeseries/index?type=camera&sensors=c-1&from=2024-03-01T00:00&to=2024-03-02T00:00")
    chart = page.get_by_test_id("chart-sky")
    expect(chart).to_have_attribute("data-state", "ready")
    expect(chart.locator("canvas")).to_have_count(0)
    rows = chart.locator("table tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_have_text(re.compile(r"2024-03-01 00:00:00\s*c-1\s*clear"))
    expect(rows.nth(2)).to_have_text(re.compile(r"2024-03-01 02:00:00\s*c-1\s*0\.00"))
    screenshot(page, "timeseries-strings")

    watch.check()
