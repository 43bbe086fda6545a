"""Sensors and their readings in a real browser: create a type and a sensor, insert readings
through the API, see them plotted, zoom, download the CSV and compare it with the data."""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import Page, expect

from dtbase.client import Client
from tests.utils.pages import Watch, log_in, screenshot

START = datetime(2024, 3, 1, tzinfo=UTC)
MINUTES = 1440  # a day of minute readings: more than the chart has pixels


def _value(minute: int) -> float:
    return round(20 + 5 * ((minute % 120) / 120) - minute / 1000, 3)


def test_sensor_readings_plotted_zoomed_and_downloaded(
    page: Page, watch: Watch, client: Client, tmp_path: Path
) -> None:
    log_in(page)
    page.locator(".sidebar").get_by_role("link", name="Sensors").click()
    add_type = page.locator("form[action='/sensors/add-type']")
    add_type.get_by_label("Name").fill("weather")
    add_type.get_by_label("New measures").fill("temperature, C, float\nraining, , boolean")
    add_type.get_by_role("button", name="Add sensor type").click()
    expect(page.locator(".flash-success")).to_have_text("Sensor type weather added.")

    add_sensor = page.locator("form[action='/sensors/add']")
    add_sensor.get_by_label("Type").select_option("weather")
    add_sensor.get_by_label("Unique identifier").fill("w-1")
    add_sensor.get_by_role("button", name="Add sensor").click()
    expect(page.locator(".flash-success")).to_have_text("Sensor w-1 added.")
    screenshot(page, "sensor")

    times = [START + timedelta(minutes=n) for n in range(MINUTES)]
    client.sensors.insert_sensor_readings(
        "temperature", "w-1", [_value(n) for n in range(MINUTES)], times
    )
    client.sensors.insert_sensor_readings(
        "raining", "w-1", [n % 180 < 60 for n in range(MINUTES)], times
    )

    page.locator(".sidebar").get_by_role("link", name="Time series").click()
    # The select reloads the page through a deferred script: wait until it has run (on a
    # loaded machine the choice could otherwise come first, and nothing would reload).
    page.wait_for_load_state()
    page.get_by_label("Sensor type").select_option("weather")  # reloads with its sensors
    page.get_by_label("w-1").check()
    page.get_by_label("From (UTC)").fill("2024-03-01T00:00")
    page.get_by_label("To (UTC)").fill("2024-03-02T00:00")
    page.get_by_role("button", name="Plot").click()

    chart = page.get_by_test_id("chart-temperature")
    expect(chart).to_have_attribute("data-state", "ready")
    expect(chart.locator("canvas")).to_have_count(1)
    points = int(chart.get_attribute("data-points") or 0)
    if chart.get_attribute("data-downsampled") == "true":
        assert 2 <= points < MINUTES  # one point per pixel at most
    else:
        assert points == MINUTES
    rain = page.get_by_test_id("chart-raining")
    expect(rain).to_have_attribute("data-state", "ready")
    expect(rain.locator(".u-axis").first).to_be_visible()
    screenshot(page, "timeseries")

    card = page.locator(".chart-card", has=chart)
    card.get_by_role("button", name="Zoom in").click()  # 06:00 to 18:00: 721 readings
    expect(chart).to_have_attribute("data-state", "ready")
    expect(card.locator("[data-status]")).to_contain_text(
        "2024-03-01 06:00:00 to 2024-03-01 18:00:00"
    )
    expected = [(t, _value(n)) for n, t in enumerate(times) if 6 * 60 <= n <= 18 * 60]
    expect(chart).to_have_attribute("data-points", str(len(expected)))
    expect(chart).to_have_attribute("data-downsampled", "false")
    screenshot(page, "timeseries-zoomed")

    with page.expect_download() as download_info:
        card.get_by_role("button", name="Download CSV").click()
    saved = tmp_path / "shown.csv"
    download_info.value.save_as(saved)
    with saved.open(newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["timestamp", "sensor", "value"]
    assert [(datetime.fromisoformat(r[0]), r[1], float(r[2])) for r in rows[1:]] == [
        (t, "w-1", value) for t, value in expected
    ]

    card.get_by_role("button", name="Later →").click()
    expect(card.locator("[data-status]")).to_contain_text(
        "2024-03-01 12:00:00 to 2024-03-02 00:00:00"
    )

    page.locator(".sidebar").get_by_role("link", name="Readings").click()
    page.wait_for_load_state()
    page.get_by_label("Sensor type").select_option("weather")
    page.get_by_label("Measure").select_option(label="raining")
    page.get_by_label("From (UTC)").fill("2024-03-01T00:00")
    page.get_by_label("To (UTC)").fill("2024-03-02T00:00")
    page.get_by_role("button", name="Show readings").click()
    expect(page.get_by_test_id("readings-summary")).to_contain_text(
        f"Readings 1 to 100 of {MINUTES}"
    )
    first = page.get_by_test_id("readings-table").locator("tbody tr").first
    expect(first).to_have_text(re.compile(r"2024-03-01 00:00:00\s+true"))
    screenshot(page, "readings")

    page.locator(".sidebar").get_by_role("link", name="Home").click()
    expect(page.get_by_test_id("latest-readings")).to_contain_text("w-1")
    expect(page.locator("tr[data-sensor='w-1'][data-stale]")).to_have_count(2)  # from 2024
    screenshot(page, "home-dashboard")

    watch.check()
