"""A service's schedules in a real browser: create one, disable it, delete it."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from dtbase.client import Client
from tests.utils.pages import Watch, log_in, screenshot


def test_create_disable_and_delete_a_schedule(page: Page, watch: Watch, client: Client) -> None:
    # The tests' backend runs no scheduler: nothing is called at 127.0.0.1:9.
    client.services.insert_service("weather", "http://127.0.0.1:9/api/weather", "POST")
    client.services.insert_parameter_set("weather", "london", {"city": "London"})
    watch.allow_status(422, "/services/schedules/create")
    log_in(page)
    page.goto("/services/service/weather")
    schedules = page.get_by_test_id("schedules-table")
    expect(schedules).to_contain_text("No schedules yet")

    form = page.get_by_test_id("new-schedule")
    form.get_by_label("Name").fill("morning")
    form.get_by_label("Cron expression").fill("0 6 * * *")
    form.get_by_label("Time zone").fill("Europe/London")
    # Parameters and a parameter set together: the JSON editor is fine, the server refuses.
    form.get_by_label("Parameter set").select_option("london")
    form.get_by_label("Parameters (JSON, optional)").fill('{"city": "Paris"}')
    form.get_by_role("button", name="Create schedule").click()
    expect(page.locator(".flash-error")).to_have_text(
        "Parameters (JSON, optional): Choose a parameter set or give parameters, not both."
    )
    assert client.services.list_schedules("weather") == []

    # The form kept what was typed: only the parameters need to go.
    expect(form.get_by_label("Name")).to_have_value("morning")
    expect(form.get_by_label("Parameter set")).to_have_value("london")
    form.get_by_label("Parameters (JSON, optional)").fill("")
    form.get_by_role("button", name="Create schedule").click()
    expect(page.locator(".flash-success")).to_have_text("Schedule morning created.")
    row = schedules.locator("tr[data-schedule='morning']")
    expect(row.get_by_test_id("schedule-when")).to_contain_text("0 6 * * *")
    expect(row).to_contain_text("Europe/London")
    expect(row).to_contain_text("parameter set london")
    expect(row.get_by_test_id("schedule-state")).to_have_text("enabled")
    (created,) = client.services.list_schedules("weather")
    assert created.next_run_at is not None
    expect(row.get_by_test_id("schedule-next")).to_have_text(
        created.next_run_at.strftime("%Y-%m-%d %H:%M:%S")
    )
    screenshot(page, "service-schedules")

    row.get_by_role("button", name="Disable").click()
    expect(page.locator(".flash-success")).to_have_text("Schedule morning disabled.")
    expect(row.get_by_test_id("schedule-state")).to_have_text("disabled")
    expect(row.get_by_test_id("schedule-next")).to_have_text("none")
    assert client.services.list_schedules("weather")[0].enabled is False

    row.get_by_role("button", name="Delete").click()  # the confirm() is accepted
    expect(page.locator(".flash-success")).to_have_text("Schedule morning deleted.")
    expect(row).to_have_count(0)
    assert client.services.list_schedules("weather") == []

    watch.check()
