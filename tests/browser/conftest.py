"""Browser tests: the frontend served by a real HTTP server, driven by Debian's Chromium.

Chromium comes from Debian (`apt-get install chromium`), never from `playwright install`.
Every page is watched: a request to any host but 127.0.0.1, or a console error, fails
the test. Screenshots go to `.dtbase/screenshots/` (ignored by git) for a reviewer.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect, sync_playwright

from frontend import create_app
from frontend.server import FrontendServer
from tests.utils.pages import Watch
from tests.utils.visitors import frontend_settings

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
