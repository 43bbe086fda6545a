"""`Server-Timing: app;dur=<ms>` on every answer (W3C Server Timing): the time from the
request's arrival in the application to the start of its answer.

Beside a client's own timing it separates the server's share of a slow answer from time
spent outside the application: queued for a core, in the network, in the client itself.
`bench/load.py` prints both; browsers' developer tools show it too.

With `stamps` on (`DT_BACKEND_TIMING_STAMPS`, for benchmarks) the answer also carries
`Dtbase-Stamps: <arrival> <answer> <gc>`: the two moments as `time.monotonic()` read them,
so that a client on the same machine, reading the same clock, can split its own latency
into before the application got the request, in it, and after it began the answer; and
the seconds the process's garbage collector stopped everything between them.
"""

from __future__ import annotations

import gc
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ServerTiming:
    def __init__(self, app: ASGIApp, *, stamps: bool = False) -> None:
        self.app = app
        self.stamps = stamps
        if stamps and _collecting.note not in gc.callbacks:
            gc.callbacks.append(_collecting.note)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, arrival, collected = time.perf_counter(), time.monotonic(), _collecting.seconds

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                milliseconds = (time.perf_counter() - start) * 1000
                added = [(b"server-timing", f"app;dur={milliseconds:.2f}".encode())]
                if self.stamps:
                    pauses = _collecting.seconds - collected
                    stamps = f"{arrival:.6f} {time.monotonic():.6f} {pauses:.6f}"
                    added.append((b"dtbase-stamps", stamps.encode()))
                message = {**message, "headers": [*message.get("headers", ()), *added]}
            await send(message)

        await self.app(scope, receive, timed)


class _GarbageCollection:
    """The seconds the process's garbage collector has run (`gc.callbacks`)."""

    seconds = 0.0
    _began = 0.0

    def note(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._began


_collecting = _GarbageCollection()
