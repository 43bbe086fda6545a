"""The live pages in a real browser: readings inserted through the API appear on the open
time-series chart and on the home page, without a reload, through the frontend's relayed
event stream."""

from __future__ import annotations

import csv
import json
import math
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from playwright.sync_api import Locator, Page, expect

from dtbase.client import Client
from dtbase.schemas.sensors import SensorMeasure
from dtbase.schemas.values import ValueDatatype
from tests.utils.pages import Watch, log_in, screenshot

TEMPERATURE = SensorMeasure(name="temperature", units="C", datatype=ValueDatatype.float)


def _weather_station(client: Client, uid: str = "w-1") -> None:
    client.sensors.insert_sensor_type("weather", [TEMPERATURE])
    client.sensors.insert_sensor("weather", uid)


def _mark(page: Page) -> None:
    """Something only this very page holds: a reload would lose it."""
    page.evaluate("window.dtbaseTestMark = 'not reloaded'")


def _still_marked(page: Page) -> bool:
    return bool(page.evaluate("window.dtbaseTestMark === 'not reloaded'"))


def _fragile_moment() -> datetime:
    """A recent time whose span of one reading, in the page's seconds as doubles, is
    empty unless rounded to whole milliseconds: (t / 1000 + 0.001) * 1000 < t + 1."""
    millisecond = int(time.time() * 1000)
    while math.floor((millisecond / 1000 + 0.001) * 1000) >= millisecond + 1:
        millisecond -= 1
    return datetime.fromtimestamp(millisecond / 1000, UTC)


def test_new_readings_appear_on_the_open_chart(page: Page, watch: Watch, client: Client) -> None:
    _weather_station(client)
    now = datetime.now(UTC)
    earlier = [now - timedelta(minutes=m) for m in (50, 40, 30, 20, 10)]
    client.sensors.insert_sensor_readings("temperature", "w-1", [20.0] * 5, earlier)
    log_in(page)
    key = json.dumps([TEMPERATURE.name, TEMPERATURE.units])
    page.goto(
        f"/timeseries/index?{urlencode({'type': 'weather', 'sensors': 'w-1', 'measures': key})}"
    )
    chart = page.get_by_test_id("chart-temperature")
    expect(chart).to_have_attribute("data-points", "5")
    expect(page.get_by_test_id("live-status")).to_have_attribute("data-state", "live")
    expect(page.get_by_test_id("live-status")).to_have_text("live")
    _mark(page)

    client.sensors.insert_sensor_readings("temperature", "w-1", [21.5], [_fragile_moment()])
    expect(chart).to_have_attribute("data-points", "6")

    # After the range's end (the next minute when the page was made): the chart follows.
    later = [datetime.now(UTC) + timedelta(minutes=m) for m in (3, 4)]
    client.sensors.insert_sensor_readings("temperature", "w-1", [22.0, 22.5], later)
    expect(chart).to_have_attribute("data-points", "8")
    expect(page.locator(".chart-card [data-status]")).to_contain_text("8 readings")
    assert _still_marked(page)
    screenshot(page, "timeseries-live")


def test_the_chart_ignores_other_sensors_and_measures(
    page: Page, watch: Watch, client: Client
) -> None:
    _weather_station(client)
    client.sensors.insert_sensor("weather", "w-2")
    client.sensors.insert_sensor_readings("temperature", "w-1", [20.0], [datetime.now(UTC)])
    log_in(page)
    page.goto("/timeseries/index?type=weather&sensors=w-1")
    chart = page.get_by_test_id("chart-temperature")
    expect(chart).to_have_attribute("data-points", "1")
    expect(page.get_by_test_id("live-status")).to_have_attribute("data-state", "live")

    client.sensors.insert_sensor_readings("temperature", "w-2", [30.0], [datetime.now(UTC)])
    client.sensors.insert_sensor_readings("temperature", "w-1", [21.0], [datetime.now(UTC)])
    expect(chart).to_have_attribute("data-points", "2")  # w-1's new reading only
    series = page.evaluate(
        "Array.from(document.querySelectorAll('.u-legend .u-series th')).map(e => e.textContent)"
    )
    assert not any("w-2" in label for label in series)


def test_a_downsampled_chart_fetches_its_window_again(
    page: Page, watch: Watch, client: Client, tmp_path: Path
) -> None:
    _weather_station(client)
    now = datetime.now(UTC)
    many = [now - timedelta(minutes=2 * m) for m in range(1, 3001)]  # more than pixels
    client.sensors.insert_sensor_readings("temperature", "w-1", [20.0] * len(many), many)
    log_in(page)
    page.goto("/timeseries/index?type=weather&sensors=w-1")
    chart = page.get_by_test_id("chart-temperature")
    expect(chart).to_have_attribute("data-downsampled", "true")
    expect(page.get_by_test_id("live-status")).to_have_attribute("data-state", "live")
    card = page.locator(".chart-card", has=chart)
    assert max(_shown(page, card, tmp_path)) == 20.0
    _mark(page)

    client.sensors.insert_sensor_readings("temperature", "w-1", [99.5], [datetime.now(UTC)])

    # The envelope of the newest bucket takes the new reading (within 5 s: downsampled
    # windows are fetched again at most that often).
    deadline = time.monotonic() + 15
    while max(_shown(page, card, tmp_path)) != 99.5:
        assert time.monotonic() < deadline, "the chart did not take the new reading"
        page.wait_for_timeout(500)
    expect(chart).to_have_attribute("data-downsampled", "true")
    assert _still_marked(page)


def _shown(page: Page, card: Locator, folder: Path) -> list[float]:
    """The maximum of every bucket the chart shows, from its CSV download."""
    with page.expect_download() as download:
        card.get_by_role("button", name="Download CSV").click()
    saved = folder / "shown.csv"
    download.value.save_as(saved)
    with saved.open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert all(row["count"] for row in rows)  # buckets, every one (no reading merged in)
    return [float(row["max"]) for row in rows]


def test_the_home_page_follows_what_is_stored(page: Page, watch: Watch, client: Client) -> None:
    client.models.insert_model("before-the-page")  # listed as recent activity on arrival
    log_in(page)
    page.goto("/home/index")
    status = page.get_by_test_id("live-status")
    expect(status).to_have_attribute("data-state", "live")
    activity = page.get_by_test_id("activity")
    expect(activity.locator("li").first).to_contain_text("Model before-the-page created")
    box = status.bounding_box()
    _mark(page)

    _weather_station(client, "s-1")
    sensors = page.get_by_test_id("count-sensors").locator(".count-value")
    expect(sensors).to_have_text("1")
    expect(activity.locator("li").first).to_contain_text("Sensor s-1 created")

    client.sensors.insert_sensor_readings("temperature", "s-1", [19.25], [datetime.now(UTC)])
    row = page.locator("[data-testid='latest-readings'] tr[data-sensor='s-1']")
    expect(row).to_contain_text("19.25")
    expect(activity.locator("li").first).to_contain_text("1 reading of s-1 (temperature)")

    client.models.insert_model("forecast")
    expect(page.get_by_test_id("count-models").locator(".count-value")).to_have_text("2")
    assert _still_marked(page)
    assert status.bounding_box() == box  # the indicator did not move
    screenshot(page, "home-live")
