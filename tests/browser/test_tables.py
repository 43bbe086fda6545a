"""Tables in a real browser: a list sorted, searched, paged, copied and saved as CSV; the
readings table paged by the server (page count, last page, jump, out of range), sorted
both ways, with all of a sensor's measures as columns; the time-series page's first
sensors ticked and one legend entry per sensor."""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from playwright.sync_api import Page, expect

from dtbase.client import Client
from dtbase.schemas.sensors import SensorMeasure
from dtbase.schemas.values import ValueDatatype
from frontend.timeseries.routes import FIRST_TICKED
from tests.utils.pages import Watch, log_in, screenshot

START = datetime(2024, 3, 1, tzinfo=UTC)
TEMPERATURE = SensorMeasure(name="temperature", units="C", datatype=ValueDatatype.float)
DOOR = SensorMeasure(name="door", units=None, datatype=ValueDatatype.boolean)


def _rows(page: Page, test_id: str) -> list[str]:
    return page.get_by_test_id(test_id).locator("tbody tr").all_inner_texts()


def test_sensor_list_sorts_searches_pages_copies_and_saves_csv(
    page: Page, watch: Watch, client: Client, tmp_path: Path
) -> None:
    client.sensors.insert_sensor_type("thermometer", [TEMPERATURE])
    for number in range(30):
        client.sensors.insert_sensor("thermometer", f"t-{number:02d}", f"Room {29 - number}")
    log_in(page)

    page.goto("/sensors/index")
    table = page.get_by_test_id("sensors-table")
    expect(table).to_have_attribute("data-ready", "true")
    expect(table.locator("tbody tr")).to_have_count(25)
    expect(page.locator(".dt-info").first).to_contain_text("Showing 1 to 25 of 30 entries")
    assert _rows(page, "sensors-table")[0].startswith("t-00")

    table.get_by_role("columnheader", name="Unique identifier").click()  # ascending
    table.get_by_role("columnheader", name="Unique identifier").click()  # descending
    expect(table.locator("tbody tr").first).to_contain_text("t-29")
    table.get_by_role("columnheader", name="Name").click()
    expect(table.locator("tbody tr").first).to_contain_text("Room 0")

    page.locator(".dt-paging-button", has_text=re.compile(r"^2$")).first.click()  # page 2
    expect(table.locator("tbody tr")).to_have_count(5)

    page.get_by_role("searchbox").first.fill("t-07")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table.locator("tbody tr")).to_contain_text("Room 22")
    screenshot(page, "sensors-searched")

    # What the Copy button puts on the clipboard (headless Chromium has no clipboard).
    page.evaluate(
        """() => {
          const copy = document.execCommand.bind(document);
          document.execCommand = (command) => {
            window.copied = document.activeElement.value;
            return copy(command);
          };
        }"""
    )
    page.get_by_role("button", name="Copy").first.click()
    expect(page.locator(".dt-button-info")).to_contain_text("Copied one row to clipboard")
    copied = page.evaluate("window.copied")
    assert "t-07\tRoom 22\tthermometer" in copied

    with page.expect_download() as download_info:
        page.get_by_role("button", name="CSV").first.click()
    saved = tmp_path / "sensors.csv"
    download_info.value.save_as(saved)
    assert download_info.value.suggested_filename == "sensors.csv"
    with saved.open(newline="", encoding="utf-8-sig") as file:
        rows = [row for row in csv.reader(file) if row]
    # What the search left, every column but none of the action buttons.
    assert rows == [
        ["Unique identifier", "Name", "Type", "Location", "Notes"],
        ["t-07", "Room 22", "thermometer", "", ""],
    ]
    watch.check()


def test_list_without_rows_says_so(page: Page, watch: Watch) -> None:
    log_in(page)
    page.goto("/services/index")
    table = page.get_by_test_id("services-table")
    expect(table).to_have_attribute("data-ready", "true")
    expect(table.locator("tbody")).to_have_text("No services registered yet.")
    watch.check()


def _readings_url(**extra: str) -> str:
    args = {
        "type": "station",
        "sensor": "s-1",
        "from": "2024-03-01T00:00",
        "to": "2024-03-02T00:00",
    }
    return f"/readings/index?{urlencode(args | extra)}"


def test_readings_table_pages_sorts_and_shows_every_measure(
    page: Page, watch: Watch, client: Client
) -> None:
    client.sensors.insert_sensor_type("station", [TEMPERATURE, DOOR])
    client.sensors.insert_sensor("station", "s-1")
    minutes = [START + timedelta(minutes=n) for n in range(250)]
    client.sensors.insert_sensor_readings(
        "temperature", "s-1", [round(18.5 + n / 100, 2) for n in range(250)], minutes
    )
    client.sensors.insert_sensor_readings("door", "s-1", [True, False], minutes[:2])
    log_in(page)

    page.goto(_readings_url())
    summary = page.get_by_test_id("readings-summary")
    expect(summary).to_contain_text("Rows 1 to 100 of 250, oldest first.")
    table = page.get_by_test_id("readings-table")
    # All measures as columns: a door reading sits beside the temperature of its time.
    headings = table.locator("thead th").all_inner_texts()
    assert [heading.strip() for heading in headings] == ["Time (UTC) ↑", "temperature (C)", "door"]
    assert re.split(r"\t", _rows(page, "readings-table")[0]) == [
        "2024-03-01 00:00:00",
        "18.5",
        "true",
    ]
    assert re.split(r"\t", _rows(page, "readings-table")[2]) == ["2024-03-01 00:02:00", "18.52", ""]
    expect(page.get_by_test_id("page-count")).to_have_text("Page 1 of 3")
    screenshot(page, "readings-all-measures")

    page.get_by_test_id("last-page").click()
    expect(page.get_by_test_id("page-count")).to_have_text("Page 3 of 3")
    expect(summary).to_contain_text("Rows 201 to 250 of 250")
    expect(table.locator("tbody tr")).to_have_count(50)
    expect(table.locator("tbody tr").last).to_contain_text("2024-03-01 04:09:00")

    page.get_by_label("Go to page").fill("2")
    page.get_by_role("button", name="Go", exact=True).click()
    expect(page.get_by_test_id("page-count")).to_have_text("Page 2 of 3")
    expect(table.locator("tbody tr").first).to_contain_text("2024-03-01 01:40:00")

    page.get_by_test_id("sort-time").click()  # newest first, from the first page
    expect(summary).to_contain_text("Rows 1 to 100 of 250, newest first.")
    expect(table.locator("tbody tr").first).to_contain_text("2024-03-01 04:09:00")
    page.get_by_label("Measure", exact=True).select_option(label="temperature (C)")
    page.get_by_role("button", name="Show readings").click()
    expect(summary).to_contain_text("Readings 1 to 100 of 250, newest first.")
    headings = table.locator("thead th").all_inner_texts()
    assert [heading.strip() for heading in headings] == ["Time (UTC) ↓", "temperature (C)"]

    watch.allow_status(404, "/readings/index")
    page.goto(_readings_url(page="9"))
    expect(summary).to_contain_text("There is no page 9: the last page is page 3.")
    expect(page.get_by_test_id("readings-table")).to_have_count(0)
    page.get_by_test_id("last-page-link").click()
    expect(page.get_by_test_id("page-count")).to_have_text("Page 3 of 3")
    screenshot(page, "readings-last-page")
    watch.check()


def test_timeseries_ticks_the_first_sensors_and_names_each_once_in_the_legend(
    page: Page, watch: Watch, client: Client
) -> None:
    client.sensors.insert_sensor_type("station", [TEMPERATURE])
    sensors = [f"s-{number}" for number in range(1, FIRST_TICKED + 3)]
    minutes = [START + timedelta(minutes=n) for n in range(1440)]  # downsampled: a band
    for number, sensor in enumerate(sensors):
        client.sensors.insert_sensor("station", sensor)
        client.sensors.insert_sensor_readings(
            "temperature", sensor, [number + (n % 60) / 10 for n in range(1440)], minutes
        )
    log_in(page)

    page.goto("/timeseries/index")
    page.wait_for_load_state()
    page.get_by_label("From (UTC)").fill("2024-03-01T00:00")
    page.get_by_label("To (UTC)").fill("2024-03-02T00:00")
    page.get_by_label("Sensor type").select_option("station")  # reloads, ticked and plotted

    chart = page.get_by_test_id("chart-temperature")
    expect(chart).to_have_attribute("data-state", "ready")
    expect(chart).to_have_attribute("data-downsampled", "true")
    ticked = [page.get_by_label(sensor, exact=True).is_checked() for sensor in sensors]
    assert ticked == [True] * FIRST_TICKED + [False] * (len(sensors) - FIRST_TICKED)
    legend = chart.locator(".u-legend .u-series").filter(visible=True).locator(".u-label")
    assert legend.all_inner_texts() == ["Time (UTC)", *sensors[:FIRST_TICKED]]
    screenshot(page, "timeseries-first-sensors")
    watch.check()
