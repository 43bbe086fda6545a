"""A deliverer keeps its connections to a receiver open from one webhook to the next (a
new connection per request was a third of a delivery's cost), keeps no cookie a receiver
sets, and never lets a connection made for one host name carry another's requests."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest
import trustme
from sqlalchemy import Engine

from dtbase.backend.app import create_app
from dtbase.backend.db import make_session_factory
from dtbase.backend.events.webhooks_http import Connections
from dtbase.backend.services.allowlist import Target
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


def _posts_to(answer: Callable[[BaseHTTPRequestHandler], None]) -> type[BaseHTTPRequestHandler]:
    """A quiet HTTP/1.1 handler (connections kept) that reads each POST's body, then lets
    `answer` answer it."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            answer(self)

    return Handler


@contextmanager
def keep_alive_receiver() -> Iterator[KeepAliveReceiver]:
    receiver = KeepAliveReceiver()

    def answer(request: BaseHTTPRequestHandler) -> None:
        receiver.requests.append((request.client_address[1], request.headers.get("cookie")))
        request.send_response(200)
        request.send_header("Set-Cookie", "session=from-the-receiver; Path=/")
        request.send_header("Content-Length", "0")
        request.end_headers()

    with serving_http(_posts_to(answer)) as port:
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


def _target(host: str, port: int) -> Target:
    return Target(
        url=f"http://{host}:{port}/hook",
        scheme="http",
        host=host,
        port=port,
        addresses=(ipaddress.ip_address("127.0.0.1"),),
    )


def _post_to(port: int, hosts: list[str]) -> list[int]:
    """A POST to each host name (all at 127.0.0.1:`port`) in turn: the statuses."""

    async def post_all() -> list[int]:
        connections = Connections(ssl.create_default_context(), reply_max_bytes=1024)
        try:
            return [await connections.post(_target(host, port), {}, b"{}") for host in hosts]
        finally:
            await connections.aclose()

    return run_async(post_all())


def test_a_connection_per_host_name() -> None:
    """Two names at one address get a connection each: a TLS connection checked for one
    name must not carry requests meant for the other."""
    with keep_alive_receiver() as receiver:
        port = int(receiver.url.split(":")[2].split("/")[0])
        hosts = ["a.example.org", "a.example.org", "b.example.org", "a.example.org"]
        assert _post_to(port, hosts) == [200] * 4

    ports = [port for port, _ in receiver.requests]
    assert ports[0] == ports[1] == ports[3] != ports[2]


def test_a_connection_the_receiver_closed_while_kept_is_made_again() -> None:
    """A receiver that closes each connection after its answer, without saying so (as
    one whose keep-alive time ran out): the next POST goes on a new connection."""
    ports: list[int] = []

    def answer(request: BaseHTTPRequestHandler) -> None:
        ports.append(request.client_address[1])
        request.send_response(204)
        request.end_headers()
        request.close_connection = True

    with serving_http(_posts_to(answer)) as port:
        assert _post_to(port, ["a.example.org"] * 3) == [204] * 3
    assert len(set(ports)) == 3


def test_https_goes_to_the_checked_address_and_is_verified_against_the_name() -> None:
    """A real HTTPS receiver whose certificate (from a private CA) names only localhost."""
    authority = trustme.CA()
    hosts: list[str | None] = []

    def answer(request: BaseHTTPRequestHandler) -> None:
        hosts.append(request.headers.get("host"))
        request.send_response(204)
        request.end_headers()

    tls = ssl.create_default_context()
    authority.configure_trust(tls)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("localhost").configure_cert(server)

    def post(host: str, port: int) -> int:
        async def once() -> int:
            connections = Connections(tls, reply_max_bytes=1024)
            try:
                target = replace(_target(host, port), url=f"https://{host}:{port}/hook")
                return await connections.post(replace(target, scheme="https"), {}, b"{}")
            finally:
                await connections.aclose()

        return run_async(once())

    with serving_http(_posts_to(answer), tls=server) as port:
        assert post("localhost", port) == 204
        # The certificate names localhost, not 127.0.0.1: checked against the URL's name.
        with pytest.raises(ssl.SSLCertVerificationError):
            post("127.0.0.1", port)
    assert hosts == [f"localhost:{port}"]
