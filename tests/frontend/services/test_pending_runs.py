"""A run started with `wait: false` is pending until its service answers: the service page
and the home dashboard show it as such (its status code is still unknown)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dtbase.client import Client
from tests.utils.visitors import Visitor, text_of


@pytest.fixture
def slow_service(client: Client) -> Iterator[threading.Event]:
    """A service on 127.0.0.1 that answers only once the test sets the event."""
    release = threading.Event()

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            release.wait(timeout=30)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client.services.insert_service("slow", f"http://127.0.0.1:{server.server_address[1]}/", "POST")
    yield release
    release.set()
    server.shutdown()


def test_pending_run_is_shown_as_pending(
    admin_visitor: Visitor, client: Client, slow_service: threading.Event
) -> None:
    client.services.start_service_run("slow")

    service_page = admin_visitor.get("/services/service/slow")
    home = admin_visitor.get("/home/index")

    assert service_page.status_code == 200
    assert 'data-testid="run-status">pending</td>' in text_of(service_page)
    assert home.status_code == 200
    assert "pending" in text_of(home)
