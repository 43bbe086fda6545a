"""The subscriptions page in a real browser: an admin subscribes a receiver, copies the
secret shown once, and the delivery of a reading stored through the API appears in the
subscription's delivery log; a viewer sees the log but no control."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect

from dtbase.backend.app import create_app
from dtbase.client import Client
from dtbase.core.settings import BackendSettings
from dtbase.schemas.sensors import SensorMeasure
from dtbase.schemas.users import Role
from dtbase.schemas.values import ValueDatatype
from tests.utils.accounts import password_of
from tests.utils.pages import Watch, log_in, screenshot
from tests.utils.servers import served
from tests.utils.webhooks import receiving, verify, wait_until

TEMPERATURE = SensorMeasure(name="temperature", units="C", datatype=ValueDatatype.float)


@pytest.fixture
def deliverer(settings: BackendSettings, database_url: str) -> Iterator[None]:
    """A second backend on the database that delivers webhooks (the session's backend,
    behind the frontend, does not), as a replica would."""
    delivering = settings.model_copy(update={"webhook_delivery_enabled": True})
    with served(create_app(delivering, database_url=database_url)):
        yield


def test_a_delivery_shows_in_the_log_of_a_subscription_made_on_the_page(
    page: Page, watch: Watch, client: Client, deliverer: None
) -> None:
    client.sensors.insert_sensor_type("weather", [TEMPERATURE])
    client.sensors.insert_sensor("weather", "w-1")
    log_in(page)
    page.locator(".sidebar").get_by_role("link", name="Subscriptions").click()
    expect(page.get_by_test_id("subscriptions-table")).to_contain_text("No subscriptions yet.")

    with receiving() as receiver:
        form = page.locator("form[action='/events/subscriptions/create']")
        form.get_by_label("Name").fill("to-forecast")
        form.get_by_label("URL").fill(receiver.url)
        form.get_by_label("readings.stored").check()
        form.get_by_label("Sensors").fill("w-1")
        form.get_by_role("button", name="Add subscription").click()
        secret = page.get_by_test_id("subscription-secret").inner_text()
        assert len(secret) >= 24
        screenshot(page, "subscription-secret")
        page.get_by_role("link", name="Go to the subscription").click()
        expect(page.get_by_test_id("last-success")).to_have_text("never")
        assert secret not in page.content()

        client.sensors.insert_sensor_readings("temperature", "w-1", [20.5], [datetime.now(UTC)])
        wait_until(lambda: len(receiver.received) == 1, what="the webhook")
        delivered = receiver.received[0]
        assert verify(secret, delivered.headers, delivered.body)
        assert delivered.json["data"]["meta"]["sensor"] == "w-1"

    page.reload()
    row = page.get_by_test_id("delivery-log").locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-succeeded", "true")
    expect(row).to_have_attribute("data-event", str(delivered.event_id))
    expect(page.get_by_test_id("last-success")).not_to_have_text("never")
    screenshot(page, "subscription-log")


def test_a_viewer_sees_the_log_but_no_control(page: Page, watch: Watch, client: Client) -> None:
    client.subscriptions.create_subscription("hook", "http://127.0.0.1:9/hook")
    client.users.create_user("viewer@example.com", password_of("viewer@example.com"), Role.viewer)
    log_in(page, "viewer@example.com", password_of("viewer@example.com"))
    page.goto("/events/subscriptions")
    expect(page.get_by_test_id("admins-subscribe")).to_be_visible()
    page.get_by_role("link", name="hook").click()
    expect(page.get_by_test_id("delivery-log")).to_contain_text("Nothing delivered yet.")
    expect(page.locator("main form")).to_have_count(0)
    expect(page.get_by_role("button")).to_have_count(1)  # logging out
