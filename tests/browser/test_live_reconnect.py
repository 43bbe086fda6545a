"""A live page refused a stream (the frontend's streams are all taken) says so, tries
again, and is live once a stream is free, missing nothing meanwhile."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from dtbase.client import Client
from frontend import create_app
from frontend.server import FrontendServer
from tests.utils.pages import Watch, log_in
from tests.utils.visitors import frontend_settings


@pytest.fixture
def one_stream_frontend(live_backend: str, clean_database: None) -> Iterator[str]:
    server = FrontendServer(create_app(frontend_settings(live_backend, frontend_streams=1)))
    yield server.start().url
    server.stop()


def _home(browser: Browser, url: str, watch: Watch) -> Page:
    page = browser.new_context(base_url=url).new_page()
    page.on("console", watch.on_console)
    page.on("pageerror", watch.on_page_error)
    page.on("request", watch.on_request)
    log_in(page)  # lands on the home page (going there again would take a second stream)
    page.wait_for_url("**/home/index")
    return page


def test_a_refused_page_reconnects_when_a_stream_is_free(
    browser: Browser, one_stream_frontend: str, client: Client
) -> None:
    watch = Watch()
    watch.allow_status(503, "/events/stream")  # the refusals, as Chromium logs them
    first = _home(browser, one_stream_frontend, watch)
    expect(first.get_by_test_id("live-status")).to_have_attribute("data-state", "live")
    second = _home(browser, one_stream_frontend, watch)
    status = second.get_by_test_id("live-status")
    expect(status).to_have_attribute("data-state", "reconnecting")
    box = status.bounding_box()

    client.models.insert_model("while-refused")
    first.context.close()
    # The frontend sees the first page gone at its stream's next write: events make one.
    client.models.insert_model("after-closing")

    expect(status).to_have_attribute("data-state", "live", timeout=30_000)
    activity = second.get_by_test_id("activity")
    expect(activity).to_contain_text("Model while-refused created")  # nothing missed
    expect(activity).to_contain_text("Model after-closing created")
    client.models.insert_model("live-again")
    expect(activity.locator("li").first).to_contain_text("Model live-again created")
    assert status.bounding_box() == box
    second.context.close()
    watch.check()
