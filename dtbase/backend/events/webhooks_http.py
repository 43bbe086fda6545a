"""The deliverer's HTTP: a POST over HTTP/1.1 (h11 on asyncio's streams) to a checked
address, on a connection kept open from one POST to the next.

Not httpx, for its cost: a POST on a kept connection took 0.7 ms of CPU through httpx and
takes 0.14 ms here, and a webhook's POST was most of a delivery's cost. A webhook needs
little of a client: no redirects (not followed), no cookies (none kept), no proxy, no
decoding (only the status matters; the reply is read up to a cap and dropped).
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import Mapping
from urllib.parse import urlsplit

import h11

from dtbase.backend.services.allowlist import IpAddress, Target

READ_BYTES = 64 * 1024

# A connection is kept by everything it was made for: one made, and its TLS checked, for
# one host name never carries another's requests.
Key = tuple[str, str, int, IpAddress]


class Connections:
    """Connections kept open between POSTs, in one event loop; `aclose()` them at its end.
    Errors: OSError (connecting, reading, writing) or h11.ProtocolError (a reply that is
    not HTTP); the caller bounds the time."""

    def __init__(self, tls: ssl.SSLContext, reply_max_bytes: int) -> None:
        self._tls = tls
        self._reply_max_bytes = reply_max_bytes
        self._idle: dict[Key, list[_Connection]] = {}

    async def post(self, target: Target, headers: Mapping[str, str], body: bytes) -> int:
        """POST `body` to the target's addresses in order until one connects: the status."""
        last_error: Exception | None = None
        for address in target.addresses:
            key = (target.scheme, target.host, target.port, address)
            kept = self._take(key)
            if kept is not None:
                try:
                    return await self._exchange(key, kept, target, headers, body)
                except (OSError, h11.ProtocolError) as error:
                    if kept.answered:
                        raise
                    # Closed by the receiver while it was kept (keep-alive ends): once
                    # more on a new one; the receiver may have had it (at least once).
                    last_error = error
            try:
                connection = await _Connection.open(target, address, self._tls)
            except OSError as error:
                last_error = error
                continue
            return await self._exchange(key, connection, target, headers, body)
        raise last_error or OSError("no address")

    async def aclose(self) -> None:
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()

    def _take(self, key: Key) -> _Connection | None:
        kept = self._idle.get(key)
        while kept:
            connection = kept.pop()
            if connection.usable:
                return connection
            connection.close()
        return None

    async def _exchange(
        self,
        key: Key,
        connection: _Connection,
        target: Target,
        headers: Mapping[str, str],
        body: bytes,
    ) -> int:
        try:
            status, reusable = await connection.post(target, headers, body, self._reply_max_bytes)
        except BaseException:
            connection.close()  # in an unknown state (a timeout's cancellation too)
            raise
        if reusable:
            self._idle.setdefault(key, []).append(connection)
        else:
            connection.close()
        return status


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer
        self._http = h11.Connection(h11.CLIENT)
        self.answered = False

    @classmethod
    async def open(cls, target: Target, address: IpAddress, tls: ssl.SSLContext) -> _Connection:
        secure = target.scheme == "https"
        reader, writer = await asyncio.open_connection(
            str(address),
            target.port,
            # TLS checks the certificate against the name, not the address.
            ssl=tls if secure else None,
            server_hostname=target.host if secure else None,
        )
        return cls(reader, writer)

    @property
    def usable(self) -> bool:
        return not (self._reader.at_eof() or self._writer.is_closing())

    async def post(
        self, target: Target, headers: Mapping[str, str], body: bytes, reply_max_bytes: int
    ) -> tuple[int, bool]:
        """The status, and whether the connection may carry the next request."""
        self.answered = False
        http = self._http
        request = h11.Request(
            method="POST", target=_path(target.url), headers=_headers(target, headers, body)
        )
        self._writer.write(
            http.send(request) + http.send(h11.Data(data=body)) + http.send(h11.EndOfMessage())
        )
        await self._writer.drain()
        status, read = 0, 0
        while True:
            event = http.next_event()
            if event is h11.NEED_DATA:
                data = await self._reader.read(READ_BYTES)
                self.answered = self.answered or bool(data)
                http.receive_data(data)
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                read += len(event.data)
                if read > reply_max_bytes:
                    return status, False
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise OSError("The receiver closed the connection")
            # An informational reply (1xx): the real one follows.
        if http.our_state is h11.DONE and http.their_state is h11.DONE:
            http.start_next_cycle()
            return status, True
        return status, False

    def close(self) -> None:
        self._writer.close()


def _path(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _headers(target: Target, extra: Mapping[str, str], body: bytes) -> list[tuple[str, str]]:
    default_port = {"http": 80, "https": 443}[target.scheme]
    host = f"[{target.host}]" if ":" in target.host else target.host
    headers = [
        ("Host", host if target.port == default_port else f"{host}:{target.port}"),
        *extra.items(),
        ("Content-Length", str(len(body))),
    ]
    parts = urlsplit(target.url)
    if parts.username:
        user_password = f"{parts.username}:{parts.password or ''}".encode()
        headers.append(("Authorization", f"Basic {base64.b64encode(user_password).decode()}"))
    return headers
