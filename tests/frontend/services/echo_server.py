"""A real HTTP service on 127.0.0.1 for the tests: it answers every POST with the JSON it
was sent (`{"received": ...}`), or with a 500 when the body holds `{"fail": true}`, or with
a 400 and `{"detail": <message>}` when it holds `{"refuse": <message>}`."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class EchoHandler(BaseHTTPRequestHandler):
    received: list[Any] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"null")
        type(self).received.append(body)
        failed = isinstance(body, dict) and body.get("fail") is True
        answer = json.dumps({"received": body, "ok": not failed}).encode()
        status = 500 if failed else 200
        if isinstance(body, dict) and "refuse" in body:  # a service's own 400 and message
            answer, status = json.dumps({"detail": body["refuse"]}).encode(), 400
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read what was received instead."""


@contextmanager
def echo_service() -> Iterator[tuple[str, list[Any]]]:
    """(url, bodies received) of an echo service on a free port of 127.0.0.1."""
    received: list[Any] = []
    handler = type("Handler", (EchoHandler,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/api/echo", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
