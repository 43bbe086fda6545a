"""A deliverer keeps its connections to a receiver open from one webhook to the next (a
new connection per request was a third of a delivery's cost), keeps no cookie a receiver
sets, and never lets a connection made for one host name carry another's requests."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from dtbase.backend.app import create_app
from dtbase.backend.db import make_session_factory
from dtbase.backend.services.allowlist import Allowlist, Target
from dtbase.backend.services.caller import CallPolicy, PinnedClients
from dtbase.core.settings import DEFAULT_USER_EMAIL, BackendSettings
from tests.utils.accounts import logged_in
from tests.utils.event_streams import run_async
from tests.utils.servers import served
from tests.utils.settings import DEFAULT_PASSWORD
from tests.utils.webhooks import emit, serving_http, wait_until


@dataclass
class KeepAliveReceiver:
    """Answers 200 over HTTP/1.1 (connections kept open, as most servers do), setting a
    cookie each time; records each request's client port and Cookie header."""

    url: str = ""
    requests: list[tuple[int, str | None]] = field(default_factory=list)


@contextmanager
def keep_alive_receiver() -> Iterator[KeepAliveReceiver]:
    receiver = KeepAliveReceiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            receiver.requests.append((self.client_address[1], self.headers.get("cookie")))
            self.send_response(200)
            self.send_header("Set-Cookie", "session=from-the-receiver; Path=/")
            self.send_header("Content-Length", "0")
            self.end_headers()

    with serving_http(Handler) as port:
        receiver.url = f"http://127.0.0.1:{port}/hook"
        yield receiver


def test_one_connection_for_many_deliveries_and_no_cookies(
    settings: BackendSettings, database_url: str, engine: Engine, clean_database: None
) -> None:
    one_worker = settings.model_copy(
        update={"webhook_delivery_enabled": True, "webhook_workers": 1}
    )
    with (
        keep_alive_receiver() as receiver,
        served(create_app(one_worker, database_url=database_url)) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        admin = logged_in(client, DEFAULT_USER_EMAIL, DEFAULT_PASSWORD)
        for name in ("first", "second"):
            body = {"name": name, "url": receiver.url, "query": {"kind": "readings.stored"}}
            assert admin.post("/events/subscriptions/create", json=body).status_code == 201
        emit(make_session_factory(engine), 5)
        wait_until(lambda: len(receiver.requests) == 10, what="ten deliveries")

    # A round sends to both subscriptions at once: a connection for each, kept open for
    # every event after the first (a new connection per request would be 10).
    ports = {port for port, _ in receiver.requests}
    assert len(ports) <= 2, receiver.requests
    assert [cookie for _, cookie in receiver.requests] == [None] * 10


def _target(host: str, scheme: str = "https", port: int = 443) -> Target:
    return Target(
        url=f"{scheme}://{host}:{port}/hook",
        scheme=scheme,
        host=host,
        port=port,
        addresses=(ipaddress.ip_address("192.0.2.7"),),
    )


@pytest.mark.parametrize(
    "other",
    [
        _target("b.example.org"),
        _target("a.example.org", port=8443),
        _target("a.example.org", "http"),
    ],
)
def test_a_client_per_host_name_scheme_and_port(other: Target) -> None:
    """Two names at one address get a client each: a TLS connection checked for one
    name must not carry requests meant for the other."""
    policy = CallPolicy(allowlist=Allowlist.parse("*"), timeout_seconds=1, reply_max_bytes=1)
    clients = PinnedClients(policy)
    first = _target("a.example.org")

    kept = clients.of(first)
    assert clients.of(_target("a.example.org")) is kept
    assert clients.of(other) is not kept
    run_async(clients.aclose())
    assert kept.is_closed
    assert clients.of(first) is not kept  # a new one after the close
    run_async(clients.aclose())
