"""The backend's event stream, relayed to the browser for the logged-in user.

The browser holds a session cookie, never a backend token, so its `EventSource` connects
here; the relay opens `GET /events/stream` at the backend with the session's token (the
query, `from` and `Last-Event-ID` passed on) and copies the bytes as they come.

A relayed stream holds a server thread for as long as the page is open. So that a few
open tabs cannot take every thread from the ordinary pages, each process relays at most
`DT_FRONTEND_STREAMS` streams at once (`StreamSlots`), and `dtbase serve frontend` gives
gunicorn that many threads on top of `DT_FRONTEND_THREADS` (see `frontend/server.py`):
pages always keep their own threads. One more stream is refused with 503, `Retry-After`
and an SSE `retry:`; the page's script tries again later (frontend/static/js/live.js).

A stream is also ended after `MAX_SECONDS`: the browser reconnects at once with the last
id it saw (nothing is missed), and that new request checks the session again, refreshes
an expired access token and stores it in the cookie. A session ended meanwhile (logged
out, user deleted) thus stops receiving within minutes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import httpx
from flask import Flask, Response, current_app, jsonify, request

from dtbase.client import ApiError
from dtbase.client.client import EXPIRED
from frontend.backend import backend

logger = logging.getLogger(__name__)

SLOTS_EXTENSION = "dtbase_stream_slots"
# How long one relayed stream lasts before the browser is asked to reconnect.
MAX_SECONDS = 300.0
# The backend sends a keep-alive comment every ~15 s: silence this long means it is gone.
READ_TIMEOUT = 60.0
# What a refused browser is told to wait before trying again, in seconds.
RETRY_AFTER = 15
MEDIA_TYPE = "text/event-stream"


class StreamSlots:
    """At most `limit` streams relayed at once by this process."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.taken = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        """A slot if one is free, at once (False when all are taken)."""
        with self._lock:
            if self.taken >= self.limit:
                return False
            self.taken += 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self.taken -= 1


def install(app: Flask, limit: int) -> None:
    app.extensions[SLOTS_EXTENSION] = StreamSlots(limit)


def slots() -> StreamSlots:
    found: StreamSlots = current_app.extensions[SLOTS_EXTENSION]
    return found


def relay() -> Response:
    """The response to the browser's stream request (the user is logged in)."""
    held = slots()
    if not held.take():
        return _busy()
    try:
        upstream = _open_upstream()
    except BaseException:
        held.give_back()
        raise
    if upstream.status_code != 200:
        held.give_back()
        return _refused(upstream)
    response = Response(_chunks(upstream), status=200, mimetype=MEDIA_TYPE)
    # Run when the server is done with the response: finished, or the browser went away.
    response.call_on_close(upstream.close)
    response.call_on_close(held.give_back)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # a proxy in front must not buffer it
    return response


def _open_upstream() -> httpx.Response:
    """The backend's stream for this user, its token renewed once if it has expired."""
    client = backend()
    upstream = _send(client.http, client.tokens.access_token if client.tokens else "")
    if upstream.status_code == 401 and _expired(upstream) and client.tokens is not None:
        try:
            client.refresh()  # `save_refreshed_tokens` puts the new pair in the cookie
        except ApiError:
            return upstream  # the session has ended: its 401 is the answer
        upstream.close()
        upstream = _send(client.http, client.tokens.access_token)
    return upstream


def _send(http: httpx.Client, token: str) -> httpx.Response:
    headers = {"Accept": MEDIA_TYPE, "Authorization": f"Bearer {token}"}
    last_id = request.headers.get("Last-Event-ID")
    if last_id:
        headers["Last-Event-ID"] = last_id
    outgoing = http.build_request(
        "GET",
        "/events/stream",
        params=list(request.args.items(multi=True)),
        headers=headers,
        timeout=httpx.Timeout(10.0, read=READ_TIMEOUT),
    )
    return http.send(outgoing, stream=True)


def _expired(upstream: httpx.Response) -> bool:
    upstream.read()
    try:
        detail = upstream.json().get("detail")
    except (ValueError, AttributeError):
        return False
    return bool(detail == EXPIRED)


def _chunks(upstream: httpx.Response) -> Iterator[bytes]:
    deadline = time.monotonic() + MAX_SECONDS
    try:
        for chunk in upstream.iter_raw():
            yield chunk
            if time.monotonic() > deadline:
                return  # the browser reconnects with the last id it saw
    except httpx.HTTPError as error:
        # The backend went away or stalled: end the stream; the browser reconnects.
        logger.warning("The backend's event stream broke off: %s", error)


def _busy() -> Response:
    response = Response(f"retry: {RETRY_AFTER * 1000}\n\n", status=503, mimetype=MEDIA_TYPE)
    response.headers["Retry-After"] = str(RETRY_AFTER)
    return response


def _refused(upstream: httpx.Response) -> Response:
    """The backend's refusal (401, 422 for a bad query, ...) passed on as JSON."""
    upstream.read()
    upstream.close()
    try:
        detail = upstream.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    status = upstream.status_code if upstream.status_code < 500 else 502
    response = jsonify(detail=detail or "The backend refused the event stream.")
    response.status_code = status
    return response
