"""Forms, roles and long text in a real browser (issue 17, items 1, 3, 4 and part of 6):
a viewer sees no write control on any page; a failed form keeps every value typed; long
text never widens a page; the measure picker, the show-password toggle, the run chart's
y axis, home's run links and a missing run's 404."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

from dtbase.client import Client
from dtbase.schemas.common import KEY_LENGTH
from dtbase.schemas.locations import LocationIdentifier
from dtbase.schemas.sensors import SensorMeasure
from dtbase.schemas.users import Role
from dtbase.schemas.values import ValueDatatype
from tests.frontend.models.test_models import insert_forecast
from tests.utils.accounts import password_of
from tests.utils.pages import Watch, log_in, screenshot

TEMPERATURE = SensorMeasure(name="temperature", units="degC", datatype=ValueDatatype.float)
HUMIDITY = SensorMeasure(name="relative humidity", units="%", datatype=ValueDatatype.float)
SERVICE_URL = "http://127.0.0.1:9/api/echo"
# The forms a viewer may still send: logging out, and changing their own password.
VIEWER_FORMS = {"/logout", "/users/change-password"}
WRITE_WORDS = re.compile(
    r"\b(add|edit|save|delete|run|install|create|register|enable|disable|change role)\b", re.I
)


def _twin(client: Client, *, text: str = "A description", name: str = "") -> int:
    """A sensor type, a sensor installed at a location, a forecast run, a service with a
    parameter set and a schedule; descriptions are `text`, names end with `name`. The
    run's id."""
    client.sensors.insert_sensor_type(f"thermometer{name}", [TEMPERATURE, HUMIDITY], text)
    client.sensors.insert_sensor(f"thermometer{name}", f"t-1{name}", f"Roof{name}", text)
    identifiers = [LocationIdentifier(name="room", units=None, datatype=ValueDatatype.string)]
    client.locations.insert_location_schema(f"rooms{name}", text, identifiers)
    client.locations.insert_location_for_schema(f"rooms{name}", {"room": f"A{name}"})
    client.sensors.insert_sensor_location(f"t-1{name}", f"rooms{name}", {"room": f"A{name}"})
    run_id = insert_forecast(client, sensor=f"t-1{name}")
    # A scenario's description is in an index: its limit is shorter than other texts'.
    client.models.insert_model_scenario("Arima", text[:KEY_LENGTH])
    client.services.insert_service(f"echo{name}", SERVICE_URL + name, "POST")
    client.services.insert_parameter_set(f"echo{name}", f"daily{name}", {"hours": 24})
    client.services.insert_schedule(f"echo{name}", f"morning{name}", cron="0 6 * * *")
    return run_id


def _pages(run_id: int, name: str = "") -> list[str]:
    return [
        "/home/index",
        "/sensors/index",
        f"/sensors/sensor/t-1{name}",
        f"/sensors/type/thermometer{name}",
        "/timeseries/index",
        "/readings/index",
        "/uploads/index",
        f"/uploads/sensor/t-1{name}",
        f"/locations/index?schema=rooms{name}",
        "/models/index",
        f"/models/run/{run_id}",
        "/services/index",
        f"/services/service/echo{name}",
        "/users/index",
    ]


def _controls(page: Page) -> dict[str, Any]:
    """The page's POST forms (by action) and its buttons' and button-like links' names."""
    found: dict[str, Any] = page.evaluate(
        """() => ({
          forms: [...document.querySelectorAll("form")]
            .filter((f) => f.method.toLowerCase() === "post")
            .map((f) => new URL(f.action).pathname),
          buttons: [...document.querySelectorAll("button, a.button, input[type=submit]")]
            .map((b) => (b.textContent || b.value).trim()),
        })"""
    )
    return found


def test_a_viewer_sees_no_write_control_on_any_page(
    page: Page, watch: Watch, client: Client
) -> None:
    run_id = _twin(client)
    client.users.create_user("viewer@example.com", password_of("viewer@example.com"), Role.viewer)
    log_in(page, "viewer@example.com", password_of("viewer@example.com"))
    expect(page.get_by_role("heading", name="Home")).to_be_visible()

    seen = {}
    for url in _pages(run_id):
        page.goto(url)
        expect(page.locator("main h1")).to_be_visible()
        controls = _controls(page)
        seen[url] = controls
        assert set(controls["forms"]) <= VIEWER_FORMS, (url, controls["forms"])
        writes = [b for b in controls["buttons"] if WRITE_WORDS.search(b)]
        assert writes == [], (url, writes)
    # What a viewer still has: logging out everywhere, their password on the users page.
    assert all("/logout" in controls["forms"] for controls in seen.values())
    assert "/users/change-password" in seen["/users/index"]["forms"]
    screenshot(page, "viewer-users")

    # A user (not an admin) sees the data's write controls but not the admin's.
    page.get_by_test_id("logout").click()
    client.users.create_user("user@example.com", password_of("user@example.com"), Role.user)
    log_in(page, "user@example.com", password_of("user@example.com"))
    page.goto("/services/index")
    expect(page.get_by_test_id("admins-register")).to_be_visible()
    assert _controls(page)["forms"] == ["/logout"]
    page.goto("/services/service/echo")
    assert "/services/run" in _controls(page)["forms"]
    page.goto("/sensors/index")
    assert {"/sensors/add-type", "/sensors/add"} <= set(_controls(page)["forms"])

    watch.check()


def test_a_failed_sensor_type_keeps_its_three_measures(
    page: Page, watch: Watch, client: Client
) -> None:
    client.sensors.insert_sensor_type("weather", [TEMPERATURE, HUMIDITY])
    watch.allow_status(409, "/sensors/add-type")
    log_in(page)
    page.goto("/sensors/index")

    add = page.locator("form[action='/sensors/add-type']")
    # One checkbox row per measure, its name and units whole (not a ctrl-click list).
    picker = add.get_by_test_id("existing-measures")
    expect(picker.get_by_role("checkbox")).to_have_count(2)
    expect(picker).to_contain_text("relative humidity (%, float)")
    add.get_by_label("Name").fill("weather")  # taken: the backend answers 409
    add.get_by_label("Description").fill("Roof and garden")
    picker.get_by_label("temperature (degC, float)").check()
    picker.get_by_label("relative humidity (%, float)").check()
    add.get_by_label("New measures").fill("wind speed, m/s, float")
    add.get_by_role("button", name="Add sensor type").click()

    expect(page.locator(".flash-error")).to_contain_text("exists already")
    add = page.locator("form[action='/sensors/add-type']")
    expect(add.get_by_label("Name")).to_have_value("weather")
    expect(add.get_by_label("Description")).to_have_value("Roof and garden")
    expect(add.get_by_label("temperature (degC, float)")).to_be_checked()
    expect(add.get_by_label("relative humidity (%, float)")).to_be_checked()
    expect(add.get_by_label("New measures")).to_have_value("wind speed, m/s, float")
    screenshot(page, "kept-sensor-type")

    add.get_by_label("Name").fill("weather station")
    add.get_by_role("button", name="Add sensor type").click()
    expect(page.locator(".flash-success")).to_have_text("Sensor type weather station added.")
    added = {t.name: t for t in client.sensors.list_sensor_types()}["weather station"]
    assert [m.name for m in added.measures] == ["temperature", "relative humidity", "wind speed"]

    watch.check()


def test_failed_forms_keep_every_value(page: Page, watch: Watch, client: Client) -> None:
    _twin(client)
    for status, path in [
        (409, "/sensors/add"),
        (422, "/locations/create"),
        (409, "/services/register"),
        (422, "/services/schedules/create"),
        (409, "/users/create"),
    ]:
        watch.allow_status(status, path)
    log_in(page)

    page.goto("/sensors/index")
    add = page.locator("form[action='/sensors/add']")
    add.get_by_label("Type").select_option("thermometer")
    add.get_by_label("Unique identifier").fill("t-1")  # taken
    add.get_by_label("Name").fill("Cellar")
    add.get_by_label("Notes").fill("by the door")
    add.get_by_role("button", name="Add sensor").click()
    expect(page.locator(".flash-error")).to_be_visible()
    add = page.locator("form[action='/sensors/add']")
    expect(add.get_by_label("Type")).to_have_value("thermometer")
    expect(add.get_by_label("Unique identifier")).to_have_value("t-1")
    expect(add.get_by_label("Name")).to_have_value("Cellar")
    expect(add.get_by_label("Notes")).to_have_value("by the door")

    floors = [
        LocationIdentifier(name="building", units=None, datatype=ValueDatatype.string),
        LocationIdentifier(name="floor", units=None, datatype=ValueDatatype.integer),
    ]
    client.locations.insert_location_schema("floors", None, floors)
    page.goto("/locations/index?schema=floors")
    add = page.get_by_test_id("add-location")
    add.get_by_label("building").fill("B & C ' \"")
    add.get_by_label("floor").fill("first")  # not a whole number
    add.get_by_role("button", name="Add location").click()
    expect(page.locator(".flash-error")).to_contain_text("not a whole number")
    add = page.get_by_test_id("add-location")
    expect(add.get_by_label("building")).to_have_value("B & C ' \"")
    expect(add.get_by_label("floor")).to_have_value("first")

    page.goto("/services/index")
    register = page.locator("form[action='/services/register']")
    register.get_by_label("Name").fill("echo")  # taken
    register.get_by_label("URL").fill("http://127.0.0.1:9/api/other")
    register.get_by_label("HTTP method").select_option("PUT")
    register.get_by_role("button", name="Register service").click()
    expect(page.locator(".flash-error")).to_be_visible()
    register = page.locator("form[action='/services/register']")
    expect(register.get_by_label("Name")).to_have_value("echo")
    expect(register.get_by_label("URL")).to_have_value("http://127.0.0.1:9/api/other")
    expect(register.get_by_label("HTTP method")).to_have_value("PUT")

    page.goto("/services/service/echo")
    schedule = page.get_by_test_id("new-schedule")
    schedule.get_by_label("Name").fill("evening")
    schedule.get_by_label("Cron expression").fill("0 18 * * *")
    schedule.get_by_label("Or every (seconds)").fill("60")  # both: refused by the form
    schedule.get_by_label("Time zone").fill("Europe/London")
    schedule.get_by_label("Parameters (JSON, optional)").fill('{"hours": 6}')
    schedule.get_by_role("button", name="Create schedule").click()
    expect(page.locator(".flash-error")).to_contain_text("one of them")
    schedule = page.get_by_test_id("new-schedule")
    expect(schedule.get_by_label("Name")).to_have_value("evening")
    expect(schedule.get_by_label("Cron expression")).to_have_value("0 18 * * *")
    expect(schedule.get_by_label("Or every (seconds)")).to_have_value("60")
    expect(schedule.get_by_label("Time zone")).to_have_value("Europe/London")
    # (json_editor.js lays the JSON out as it is typed)
    expect(schedule.get_by_label("Parameters (JSON, optional)")).to_have_value(
        re.compile(r'^\{\s*"hours": 6\s*\}$')
    )

    page.goto("/users/index")
    create = page.locator("form[action='/users/create']")
    create.get_by_label("Email").fill(client.users.me().email)  # taken
    create.get_by_label("Password", exact=True).fill("a-secret-password")
    create.get_by_label("Role").select_option("viewer")
    create.get_by_role("button", name="Add user").click()
    expect(page.locator(".flash-error")).to_be_visible()
    create = page.locator("form[action='/users/create']")
    expect(create.get_by_label("Email")).to_have_value(client.users.me().email)
    expect(create.get_by_label("Role")).to_have_value("viewer")
    expect(create.get_by_label("Password", exact=True)).to_have_value("")  # never written back

    assert [s.name for s in client.services.list_services()] == ["echo"]
    assert [s.name for s in client.services.list_schedules("echo")] == ["morning"]
    watch.check()


def test_long_text_never_widens_a_page(page: Page, watch: Watch, client: Client) -> None:
    long_text = "x" * 5000  # one word: the hardest case
    long_name = "n" * 88  # names up to 100 characters long (the limit), one word each
    run_id = _twin(client, text=long_text, name=long_name)
    log_in(page)

    for url in _pages(run_id, long_name):
        page.goto(url)
        expect(page.locator("main h1")).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1280, (url, width, _widest(page))

    page.goto("/sensors/index")
    description = page.get_by_test_id("types-table").locator("details[data-long-text]")
    expect(description).to_contain_text("Show all 5000 characters")
    description.locator("summary").click()
    expect(description.locator(".long-text-full")).to_have_text(long_text)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    screenshot(page, "long-text")

    watch.check()


def _widest(page: Page) -> list[str]:
    """The elements reaching past the window, for the message of a failure."""
    found: list[str] = page.evaluate(
        """() => [...document.querySelectorAll("main *")]
          .filter((e) => e.getBoundingClientRect().right > window.innerWidth)
          .slice(0, 5).map((e) => e.tagName + "." + e.className + "#" + e.id)"""
    )
    return found


def test_show_password_toggle(page: Page, watch: Watch) -> None:
    page.goto("/login")
    password = page.get_by_label("Password")
    password.fill("typed")
    expect(password).to_have_attribute("type", "password")

    page.get_by_role("button", name="Show").click()
    expect(password).to_have_attribute("type", "text")
    page.get_by_role("button", name="Hide").click()
    expect(password).to_have_attribute("type", "password")
    expect(password).to_have_value("typed")

    watch.check()


def test_run_chart_axis_home_links_and_a_missing_run(
    page: Page, watch: Watch, client: Client
) -> None:
    run_id = _twin(client)
    watch.allow_status(404, "/models/run/999999")
    log_in(page)

    page.get_by_test_id("model-runs").locator(f"tr[data-run='{run_id}'] a").click()
    expect(page).to_have_url(re.compile(rf"/models/run/{run_id}$"))
    expect(page.get_by_test_id("run-chart").locator("canvas")).to_have_count(1)
    # uPlot draws the axis label on the canvas: ask the plot for it.
    assert page.evaluate("window.dtbaseCharts[0].plot.axes[1].label") == "temperature (degC)"

    response = page.goto("/models/run/999999")
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()

    watch.check()
