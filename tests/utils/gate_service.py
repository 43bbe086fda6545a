"""A real HTTP service that holds each call until the test releases it: a service run
that is under way for as long as the test needs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.utils.webhooks import serving_http


class Gate:
    """Counts the calls; each is answered (`{"ok": true}`) once `release` is set."""

    def __init__(self) -> None:
        self.calls = 0
        self.called = threading.Event()
        self.release = threading.Event()
        self.url = ""

    def handler(self) -> type[BaseHTTPRequestHandler]:
        gate = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                gate.calls += 1
                gate.called.set()
                gate.release.wait(timeout=60)
                body = b'{"ok": true}'
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


@contextmanager
def gate_service() -> Iterator[Gate]:
    """A gate serving at `gate.url` until the block ends (released then)."""
    gate = Gate()
    with serving_http(gate.handler()) as port:
        gate.url = f"http://127.0.0.1:{port}/run"
        try:
            yield gate
        finally:
            gate.release.set()
