"""Driving the frontend in Chromium: logging in, screenshots, and `Watch`, what a page did."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import ConsoleMessage, Page, Request

from dtbase.core.settings import DEFAULT_USER_EMAIL
from tests.utils.settings import DEFAULT_PASSWORD

SCREENSHOTS = Path(__file__).resolve().parents[2] / ".dtbase" / "screenshots"
LOCAL_HOSTS = {"127.0.0.1"}


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
