"""A service the backend can call: a real HTTP server on 127.0.0.1 whose paths choose the
reply, and the call policy the test backend has for services on this machine."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from dtbase.backend.services.allowlist import Allowlist
from dtbase.backend.services.caller import CallPolicy
from tests.utils.settings import LOCAL_SERVICES

SLOW_SECONDS = 3.0


def local_policy(timeout_seconds: float) -> CallPolicy:
    """What the test backend allows: services on this machine (see tests/utils/settings.py)."""
    return CallPolicy(
        allowlist=Allowlist.parse(LOCAL_SERVICES),
        timeout_seconds=timeout_seconds,
        reply_max_bytes=1_000_000,
    )


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class StubService:
    """A real HTTP server on 127.0.0.1 that records requests. Its paths choose the reply:

    /json: 200 with a JSON object; /array: 200 with a JSON array; /text: 200 plain text;
    /empty: 204; /status/<code>: that status with a JSON object; /status-text/<code>: that
    status with plain text; /nan: JSON with NaN; /slow: answers after SLOW_SECONDS;
    /sleep/<seconds>: answers after that many seconds;
    /redirect: 302 to /json; /big: 2 MB of JSON; /endless: a JSON array that never ends;
    /deep: arrays nested 256 deep; /disconnect: hangs up without answering.
    """

    base_url: str
    received: list[Received] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"


def _handler(stub: StubService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {key.lower(): value for key, value in self.headers.items()}
            stub.received.append(Received(self.command, self.path, headers, body))
            path = self.path.split("?")[0]
            if path == "/slow":
                time.sleep(SLOW_SECONDS)
            if path.startswith("/sleep/"):
                time.sleep(float(path.removeprefix("/sleep/")))
            if path == "/json" or path == "/slow" or path.startswith("/sleep/"):
                self._reply(200, "application/json", json.dumps({"ok": True, "got": path}))
            elif path == "/array":
                self._reply(200, "application/json", "[1, 2, 3]")
            elif path == "/text":
                self._reply(200, "text/plain", "plain words")
            elif path == "/empty":
                self._reply(204, None, "")
            elif path == "/nan":
                self._reply(200, "application/json", '{"x": NaN}')
            elif path.startswith("/status/"):
                code = int(path.removeprefix("/status/"))
                self._reply(code, "application/json", json.dumps({"error": code}))
            elif path == "/redirect":
                self.send_response(302)
                self.send_header("location", "/json")
                self.send_header("content-length", "0")
                self.end_headers()
            elif path == "/big":
                self._reply(200, "application/json", json.dumps(["x" * 1000] * 2000))
            elif path == "/endless":
                self._endless()
            elif path == "/deep":
                self._reply(200, "application/json", "[" * 256 + "]" * 256)
            elif path == "/disconnect":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
            elif path.startswith("/status-text/"):
                self._reply(int(path.removeprefix("/status-text/")), "text/plain", "oops")
            else:
                self._reply(404, "text/plain", "no such path")

        def _endless(self) -> None:
            """A JSON array that never ends (until the client hangs up)."""
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            chunk = b"[" + b'"xxxxxxxx",' * 6000
            try:
                while True:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    chunk = b'"xxxxxxxx",' * 6000
            except OSError:
                self.close_connection = True

        def _reply(self, code: int, content_type: str | None, text: str) -> None:
            data = text.encode()
            self.send_response(code)
            if content_type:
                self.send_header("content-type", content_type)
            if code != 204:
                self.send_header("content-length", str(len(data)))
            self.end_headers()
            if code != 204:
                self.wfile.write(data)

        def do_GET(self) -> None:
            self._handle()

        def do_POST(self) -> None:
            self._handle()

        def do_PUT(self) -> None:
            self._handle()

        def do_DELETE(self) -> None:
            self._handle()

    return Handler


class StubServer(ThreadingHTTPServer):
    # Many concurrent calls (tests of slow services) must not overflow the listen queue.
    request_queue_size = 256


@contextmanager
def serve_stub() -> Iterator[StubService]:
    """Run a StubService on a free port of 127.0.0.1 for the duration of the block."""
    stub = StubService(base_url="")
    server = StubServer(("127.0.0.1", 0), _handler(stub))
    server.daemon_threads = True
    server.block_on_close = False
    stub.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
