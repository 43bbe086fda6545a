"""Models and services in a real browser: a forecast run plotted with its bands over the
observations, and a service (a real HTTP server on 127.0.0.1) run from its page."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

from dtbase import demo
from dtbase.client import Client
from tests.frontend.services.echo_server import echo_service
from tests.utils.pages import Watch, log_in, screenshot


def test_forecast_run_shows_mean_bands_and_observations(
    page: Page, watch: Watch, client: Client
) -> None:
    demo.load(client)
    log_in(page)

    page.locator(".sidebar").get_by_role("link", name="Models").click()
    expect(page).to_have_url(re.compile(r"/models/index$"))
    runs = page.get_by_test_id("runs-table").locator("tbody tr")
    expect(runs).to_have_count(3)
    screenshot(page, "models")

    runs.first.get_by_role("link").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Model run \d+$"))).to_be_visible()
    chart = page.get_by_test_id("run-chart")
    expect(chart).to_have_attribute("data-bands", "2")
    expect(chart.locator("canvas")).to_have_count(1)

    drawn: dict[str, Any] = page.evaluate(
        """() => {
          const plot = window.dtbaseCharts[0].plot;
          return {
            labels: plot.series.slice(1).map((s) => s.label),
            bands: plot.bands.map((b) => b.series),
            lengths: plot.data.map((d) => d.length),
            observed: plot.data[6].filter((v) => v !== null).length,
            mean: plot.data[5].filter((v) => v !== null).length,
          };
        }"""
    )
    assert drawn["labels"] == [
        "95% upper",
        "95% lower",
        "68% upper",
        "68% lower",
        "Mean temperature",
        "Observed temperature",
    ]
    assert drawn["bands"] == [[1, 2], [3, 4]]
    assert len(set(drawn["lengths"])) == 1  # one shared time axis
    assert drawn["mean"] == demo.FORECAST_HOURS
    # Readings every 10 minutes from as long before the forecast as it lasts (71 hours
    # between its first and last value) to the last, at which the forecast starts.
    assert drawn["observed"] == (demo.FORECAST_HOURS - 1) * 6 + 1
    screenshot(page, "model-run")

    watch.check()


def test_run_a_service_and_see_the_log_entry(page: Page, watch: Watch, client: Client) -> None:
    with echo_service() as (url, received):
        client.services.insert_service("echo", url, "POST")
        log_in(page)
        page.locator(".sidebar").get_by_role("link", name="Services").click()
        expect(page.get_by_test_id("services-table")).to_contain_text(url)
        screenshot(page, "services")
        page.get_by_role("link", name="echo").click()
        expect(page.get_by_role("heading", name="echo")).to_be_visible()

        # The JSON editor refuses what is not an object before anything is sent.
        new_set = page.get_by_test_id("new-parameter-set")
        new_set.get_by_label("Name").fill("daily")
        editor = new_set.get_by_label("Parameters (JSON)")
        editor.fill('{"hours": 24,}')
        expect(page.locator("#new-json-problem")).to_contain_text("Not valid JSON")
        new_set.get_by_role("button", name="Save parameter set").click()
        expect(page.locator(".flash")).to_have_count(0)
        assert client.services.list_parameter_sets("echo") == []

        editor.fill('{"hours": 24}')
        expect(page.locator("#new-json-problem")).to_have_text("")
        new_set.get_by_role("button", name="Save parameter set").click()
        expect(page.locator(".flash-success")).to_have_text("Parameter set daily saved.")

        page.get_by_test_id("run-form").get_by_label("Parameter set").select_option("daily")
        page.get_by_role("button", name="Run now").click()
        expect(page.locator(".flash-success")).to_contain_text("echo ran:")
        row = page.get_by_test_id("run-log").locator("tbody tr").first
        expect(row.get_by_test_id("run-status")).to_have_text("200")
        expect(row).to_contain_text("daily")
        row.get_by_text("Response").click()
        expect(row.get_by_test_id("run-response")).to_contain_text('"hours": 24')
        assert received == [{"hours": 24}]
        screenshot(page, "service")

    watch.check()
