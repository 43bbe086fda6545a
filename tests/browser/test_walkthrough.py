"""A person's first visit, in a real browser: log in, look around, manage users, log out."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from dtbase.client import Client
from dtbase.core.settings import DEFAULT_USER_EMAIL
from dtbase.schemas.users import Role
from tests.utils.pages import Watch, log_in, screenshot
from tests.utils.settings import DEFAULT_PASSWORD


def _roles(client: Client) -> dict[str, Role]:
    return {user.email: user.role for user in client.users.list_users_details()}


def test_admin_logs_in_manages_users_and_logs_out(page: Page, watch: Watch, client: Client) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=%2F$"))
    expect(page.get_by_text("Please log in to see this page.")).to_be_visible()
    screenshot(page, "login")

    log_in(page)
    expect(page).to_have_url(re.compile(r"/home/index$"))
    expect(page.get_by_role("heading", name="Home")).to_be_visible()
    expect(page.locator(".sidebar")).to_contain_text(DEFAULT_USER_EMAIL)
    expect(page.get_by_test_id("count-sensors")).to_contain_text("0")
    screenshot(page, "home")

    page.locator(".sidebar").get_by_role("link", name="Users").click()
    expect(page).to_have_url(re.compile(r"/users/index$"))
    add = page.locator("form[action='/users/create']")
    add.get_by_label("Email").fill("colleague@example.com")
    add.get_by_label("Password").fill("a-good-password")
    add.get_by_label("Role").select_option("viewer")
    add.get_by_role("button", name="Add user").click()
    expect(page.locator(".flash-success")).to_have_text(
        "User colleague@example.com created (viewer)."
    )
    assert _roles(client)["colleague@example.com"] == Role.viewer

    row = page.locator("tr[data-email='colleague@example.com']")
    row.get_by_label("Role of colleague@example.com").select_option("user")
    row.get_by_role("button", name="Change role").click()
    expect(page.locator(".flash-success")).to_have_text("colleague@example.com is now user.")
    assert _roles(client)["colleague@example.com"] == Role.user
    screenshot(page, "users")

    page.locator("tr[data-email='colleague@example.com']").get_by_role(
        "button", name="Delete"
    ).click()
    expect(page.locator(".flash-success")).to_have_text("User colleague@example.com deleted.")
    expect(page.locator("tr[data-email='colleague@example.com']")).to_have_count(0)

    page.get_by_test_id("logout").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator(".flash-info")).to_have_text("You are logged out.")
    page.goto("/users/index")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fusers%2Findex$"))

    watch.check()


def test_backend_refusal_is_a_flash_and_login_returns_to_the_page(page: Page, watch: Watch) -> None:
    watch.allow_status(409, "/users/create")  # the page again, with what was typed
    page.goto("/users/index")
    page.get_by_label("Email").fill(DEFAULT_USER_EMAIL)
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".flash-error")).to_have_text("Incorrect email or password.")

    page.get_by_label("Email").fill(DEFAULT_USER_EMAIL)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/users/index$"))

    add = page.locator("form[action='/users/create']")
    add.get_by_label("Email").fill(DEFAULT_USER_EMAIL)
    add.get_by_label("Password").fill("whatever")
    add.get_by_role("button", name="Add user").click()
    expect(page.locator(".flash-error")).to_contain_text("already exists")
    expect(add.get_by_label("Email")).to_have_value(DEFAULT_USER_EMAIL)
    screenshot(page, "users-flash")

    watch.check()


def test_viewer_changes_own_password(page: Page, watch: Watch, client: Client) -> None:
    client.users.create_user("viewer@example.com", "first-password", Role.viewer)
    log_in(page, "viewer@example.com", "first-password")
    expect(page.locator(".sidebar .badge")).to_have_text("viewer")

    page.locator(".sidebar").get_by_role("link", name="Users").click()
    expect(page.get_by_text("Only admins can see and manage other users.")).to_be_visible()
    page.get_by_label("New password", exact=True).fill("second-password")
    page.get_by_label("Repeat the new password").fill("second-password")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator(".flash-success")).to_have_text("Your password is changed.")
    screenshot(page, "users-viewer")

    page.get_by_test_id("logout").click()
    log_in(page, "viewer@example.com", "second-password")
    expect(page).to_have_url(re.compile(r"/home/index$"))

    watch.check()


def test_missing_page_explains_what_to_do(page: Page, watch: Watch) -> None:
    # Chromium reports a page that answers 404 on its console; that one is expected.
    watch.allow_status(404, "/no/such/page")
    log_in(page)
    page.goto("/no/such/page")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    page.get_by_role("link", name="Home").last.click()
    expect(page).to_have_url(re.compile(r"/home/index$"))
    page.goto("/no/such/page")
    screenshot(page, "not-found")

    watch.check()
