"""Uploading readings in a real browser: from the sensor's page, with a preview of the
file, a progress bar, per-line errors, skipped bad lines, and the readings in the chart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, Route, expect

from dtbase.client import Client
from dtbase.schemas.sensors import SensorMeasure
from dtbase.schemas.users import Role
from dtbase.schemas.values import ValueDatatype
from tests.utils.pages import Watch, log_in, screenshot

START = datetime(2024, 3, 1, tzinfo=UTC)


@pytest.fixture
def station(client: Client) -> Client:
    measures = [SensorMeasure(name="temperature", units="C", datatype=ValueDatatype.float)]
    client.sensors.insert_sensor_type("station", measures)
    client.sensors.insert_sensor("station", "s-1")
    return client


def _stamp(minute: int) -> str:
    return (START + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z")


def _file(tmp_path: Path, lines: list[str], name: str = "readings.csv") -> Path:
    path = tmp_path / name
    path.write_text("timestamp,value\n" + "".join(f"{line}\n" for line in lines))
    return path


def _stored(client: Client) -> list[float]:
    readings = client.sensors.sensor_readings(
        "temperature", "s-1", START - timedelta(days=1), START + timedelta(days=1000)
    )
    return [float(reading.value) for reading in readings]


def _open_upload(page: Page) -> None:
    log_in(page)
    page.goto("/sensors/sensor/s-1")
    page.get_by_role("link", name="Upload readings").click()
    expect(page.get_by_role("heading", name="Upload readings of s-1")).to_be_visible()


def test_an_uploaded_file_is_previewed_stored_and_plotted(
    page: Page, watch: Watch, station: Client, tmp_path: Path
) -> None:
    values = [round(20 + (n % 30) / 10, 1) for n in range(120)]
    path = _file(tmp_path, [f"{_stamp(n)},{value}" for n, value in enumerate(values)])
    _open_upload(page)

    page.get_by_label("CSV file").set_input_files(str(path))

    preview = page.get_by_test_id("preview")
    expect(preview.locator("tr")).to_have_count(11)  # the header and the first 10 lines
    expect(preview.locator("tr").nth(0)).to_contain_text("timestamp")
    expect(preview.locator("tr").nth(1)).to_contain_text("2024-03-01T00:00:00Z")
    expect(preview.locator("tr").nth(10)).to_contain_text("2024-03-01T00:09:00Z")
    screenshot(page, "upload-preview")

    page.get_by_role("button", name="Upload").click()

    result = page.get_by_test_id("upload-result")
    expect(result.locator("[data-count=stored]")).to_have_text("120")
    expect(page.get_by_test_id("upload-progress")).to_have_attribute("value", "100")
    assert _stored(station) == values
    screenshot(page, "upload-done")

    result.get_by_role("link", name="Plot the uploaded readings").click()
    chart = page.get_by_test_id("chart-temperature")
    expect(chart).to_have_attribute("data-state", "ready")
    expect(chart).to_have_attribute("data-points", "120")
    watch.check()


def test_a_bad_file_shows_every_bad_line_and_stores_nothing(
    page: Page, watch: Watch, station: Client, tmp_path: Path
) -> None:
    lines = [f"{_stamp(0)},20", f"{_stamp(1)},warm", "later,21", f"{_stamp(3)},22,extra"]
    _open_upload(page)
    page.get_by_label("CSV file").set_input_files(str(_file(tmp_path, lines)))
    watch.allow_status(422, "/uploads/upload")

    page.get_by_role("button", name="Upload").click()

    errors = page.get_by_test_id("upload-errors").locator("li")
    expect(errors).to_have_count(3)
    expect(errors.nth(0)).to_have_text("line 3, column 2 (value): expected a number, got 'warm'")
    expect(errors.nth(1)).to_contain_text("line 4, column 1 (timestamp): expected a timestamp")
    expect(errors.nth(2)).to_have_text("line 5: expected 2 fields (timestamp,value), got 3")
    expect(page.get_by_test_id("refused-count")).to_contain_text("3 problems")
    screenshot(page, "upload-errors")
    assert _stored(station) == []


def test_skip_bad_lines_stores_the_good_ones(
    page: Page, watch: Watch, station: Client, tmp_path: Path
) -> None:
    lines = [f"{_stamp(0)},20", f"{_stamp(1)},warm", f"{_stamp(2)},22"]
    _open_upload(page)
    page.get_by_label("CSV file").set_input_files(str(_file(tmp_path, lines)))
    page.get_by_label("Skip bad lines").check()

    page.get_by_role("button", name="Upload").click()

    result = page.get_by_test_id("upload-result")
    expect(result.locator("[data-count=stored]")).to_have_text("2")
    expect(result.locator("[data-count=rejected]")).to_have_text("1")
    expect(page.get_by_test_id("upload-problems")).to_contain_text(
        "line 3, column 2 (value): expected a number, got 'warm'"
    )
    assert _stored(station) == [20.0, 22.0]


def test_a_file_chosen_before_the_script_ran_is_previewed(
    page: Page, watch: Watch, station: Client, tmp_path: Path
) -> None:
    path = _file(tmp_path, [f"{_stamp(n)},{20 + n}" for n in range(3)])
    log_in(page)
    held: list[Route] = []
    page.route("**/js/upload.js", lambda route: held.append(route))
    page.goto("/uploads/sensor/s-1", wait_until="commit")
    expect(page.get_by_label("CSV file")).to_be_attached()
    page.get_by_label("CSV file").set_input_files(str(path))
    assert len(held) == 1  # the change event has fired before the script could listen
    held[0].continue_()
    expect(page.get_by_test_id("preview").locator("tr")).to_have_count(4)


def test_the_progress_bar_reaches_100_on_a_20_mb_file(
    page: Page, watch: Watch, station: Client, tmp_path: Path
) -> None:
    path = tmp_path / "large.csv"
    with path.open("w") as file:
        minute = 0
        while file.tell() < 20 * 1024 * 1024:
            file.write(f"{_stamp(minute)},{20 + minute % 100 / 10}\n")
            minute += 1
    _open_upload(page)
    page.get_by_label("CSV file").set_input_files(str(path))
    expect(page.get_by_test_id("preview").locator("tr")).to_have_count(11)
    seen: list[str] = []

    def saw_progress(value: str) -> None:
        seen.append(value)

    page.expose_function("sawProgress", saw_progress)
    page.evaluate(
        "() => new MutationObserver(() => window.sawProgress("
        "document.querySelector('[data-testid=upload-progress]').value.toString()))"
        ".observe(document.querySelector('[data-progress-text]'),"
        " {childList: true, characterData: true, subtree: true})"
    )

    page.get_by_role("button", name="Upload").click()

    result = page.get_by_test_id("upload-result")
    expect(result.locator("[data-count=stored]")).to_have_text(str(minute), timeout=300_000)
    expect(page.get_by_test_id("upload-progress")).to_have_attribute("value", "100")
    assert "100" in seen
    assert len(_stored(station)) == minute


def test_a_viewer_sees_no_upload_control(page: Page, watch: Watch, station: Client) -> None:
    station.users.create_user("viewer@example.com", "viewer-password-1", Role.viewer)
    log_in(page, "viewer@example.com", "viewer-password-1")

    page.goto("/sensors/sensor/s-1")
    expect(page.get_by_role("heading", name="Sensor s-1")).to_be_visible()
    expect(page.get_by_role("link", name="Upload readings")).to_have_count(0)
    expect(page.locator(".sidebar").get_by_role("link", name="Upload")).to_have_count(0)
    page.goto("/uploads/sensor/s-1")
    expect(page.get_by_test_id("no-upload")).to_be_visible()
    expect(page.locator("input[type=file]")).to_have_count(0)
