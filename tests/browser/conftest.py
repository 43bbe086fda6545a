"""Browser tests: the frontend served by a real HTTP server, driven by Debian's Chromium.

Chromium comes from Debian (`apt-get install chromium`), never from `playwright install`.
Every page is watched: a request to any host but 127.0.0.1, or a console error, fails
the test. Screenshots go to `.dtbase/screenshots/` (ignored by git) for a reviewer.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Dialog,
    Page,
    Request,
    expect,
    sync_playwright,
)

from dtbase.core.settings import DEFAULT_USER_EMAIL
from frontend import create_app
from frontend.server import FrontendServer
from tests.conftest import DEFAULT_PASSWORD
from tests.frontend.conftest import frontend_settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / ".dtbase" / "screenshots"
LOCAL_HOSTS = {"127.0.0.1"}

# Logging in hashes a password (Argon2): leave room for a busy two-core machine.
expect.set_options(timeout=15_000)


@pytest.fixture(scope="session")
def frontend_url(live_backend: str) -> Iterator[str]:
    """The frontend on a free port of 127.0.0.1, talking to the live backend."""
    server = FrontendServer(create_app(frontend_settings(live_backend))).start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Browser tests need Debian's Chromium: apt-get install -y chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


class Watch:
    """What the pages did: every request made and every console error logged."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.expected_statuses: list[tuple[int, str]] = []

    def allow_status(self, status: int, path: str) -> None:
        """Chromium logs a page that answers with an error status; allow one such page."""
        self.expected_statuses.append((status, path))

    def on_request(self, request: Request) -> None:
        self.requests.append(request.url)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        url = str(message.location.get("url", ""))
        expected = any(
            f"status of {status}" in message.text and urlsplit(url).path == path
            for status, path in self.expected_statuses
        )
        if not expected:
            self.errors.append(f"{message.text} ({url})")

    def on_page_error(self, error: Exception) -> None:
        self.errors.append(f"uncaught: {error}")

    def foreign_requests(self) -> list[str]:
        """Requests to anything but this machine's loopback (data: and blob: are local)."""
        foreign = []
        for url in self.requests:
            parts = urlsplit(url)
            if parts.scheme not in ("data", "blob") and parts.hostname not in LOCAL_HOSTS:
                foreign.append(url)
        return foreign

    def check(self) -> None:
        assert self.requests, "no request was watched"
        assert self.foreign_requests() == []
        assert self.errors == []


def _accept(dialog: Dialog) -> None:
    dialog.accept()


@pytest.fixture
def watch() -> Watch:
    return Watch()


@pytest.fixture
def page(browser: Browser, frontend_url: str, clean_database: None, watch: Watch) -> Iterator[Page]:
    """A fresh browser context (no cookies) on the frontend; checked when the test ends."""
    context = browser.new_context(base_url=frontend_url, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.on("request", watch.on_request)
    page.on("console", watch.on_console)
    page.on("pageerror", watch.on_page_error)
    page.on("dialog", _accept)  # confirm("Delete ...?") answers yes
    yield page
    context.close()
    watch.check()


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def log_in(page: Page, email: str = DEFAULT_USER_EMAIL, password: str = DEFAULT_PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
