"""Webhook receivers: a real HTTP server on a free port of 127.0.0.1 that records what it
is sent and answers as the test tells it; and events recorded as the backend records them.

The signature is checked here from the documented scheme alone (Stripe's: an HMAC-SHA256
of "<t>.<raw body>"), with no code of dtbase's own.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from dtbase.backend.events.pruning import prune
from dtbase.backend.events.record import record
from dtbase.schemas.events import EventKind


@dataclass(frozen=True)
class Delivered:
    headers: dict[str, str]
    body: bytes
    arrived: float  # time.time()
    status: int  # what the receiver answered

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def event_id(self) -> int:
        return int(self.json["id"])


@dataclass
class Receiver:
    """Records every request; answers 200, except: the next `fail_next` requests get
    `fail_status`, and each request waits `delay_seconds` first (a hanging receiver:
    longer than the backend's timeout). The first delivery of event `hold_id` sets `held`
    and is not answered until `release` is set (a backend caught mid-delivery)."""

    url: str = ""
    received: list[Delivered] = field(default_factory=list)
    fail_next: int = 0
    fail_status: int = 500
    delay_seconds: float = 0.0
    hold_id: int | None = None
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            status = 200
            if self.fail_next > 0:
                self.fail_next -= 1
                status = self.fail_status
            self.received.append(Delivered(headers, body, time.time(), status))
        return status

    def ids(self) -> list[int]:
        with self._lock:
            return [item.event_id for item in self.received]

    def accepted_ids(self) -> list[int]:
        """The ids of the requests answered 200, in order."""
        with self._lock:
            return [item.event_id for item in self.received if item.status == 200]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {key.lower(): value for key, value in self.headers.items()}
            if receiver.delay_seconds:
                time.sleep(receiver.delay_seconds)
            held = receiver.hold_id is not None and json.loads(body)["id"] == str(receiver.hold_id)
            if held and not receiver.held.is_set():
                receiver.held.set()
                receiver.release.wait(timeout=60)
            status = receiver.answer(headers, body)
            try:
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()
            except OSError:
                pass  # the backend gave up waiting (a hanging receiver)

    return Handler


@contextmanager
def serving_http(
    handler: type[BaseHTTPRequestHandler], *, tls: ssl.SSLContext | None = None
) -> Iterator[int]:
    """`handler` served on a free port of 127.0.0.1 (yielded), a thread per request;
    over TLS with `tls`, a server context."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def receiving(path: str = "/hook") -> Iterator[Receiver]:
    receiver = Receiver()
    with serving_http(_handler(receiver)) as port:
        receiver.url = f"http://127.0.0.1:{port}{path}"
        yield receiver


def verify(secret: str, headers: Mapping[str, str], body: bytes, *, tolerance: float = 300) -> bool:
    """A receiver's check: the signature of "<t>.<body>" matches and `t` is recent."""
    parts = dict(item.split("=", 1) for item in headers["x-dtbase-signature"].split(","))
    timestamp = parts["t"]
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    recent = abs(time.time() - int(timestamp)) <= tolerance
    return recent and hmac.compare_digest(expected, parts["v1"])


def emit(
    sessions: sessionmaker[Session],
    count: int,
    *,
    kind: EventKind = EventKind.readings_stored,
    sensor: str = "s1",
) -> None:
    """`count` events, each committed on its own, as a write path records them."""
    for number in range(count):
        with sessions.begin() as session:
            meta = {"sensor": sensor, "sensor_type": "T", "measure": ["m"], "count": number}
            record(session, kind, meta)


def pruned_through(sessions: sessionmaker[Session], last_id: int) -> None:
    """Events up to `last_id` made older than the retention and pruned (the pruner's
    own statement), as if a subscription had been behind for a week."""
    with sessions.begin() as session:
        session.execute(
            text("UPDATE event SET time = now() - interval '8 days' WHERE id <= :id"),
            {"id": last_id},
        )
        assert prune(session, retention_days=7) == last_id


def wait_until(condition: Callable[[], bool], timeout: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out waiting for {what or condition}")
        time.sleep(0.02)
