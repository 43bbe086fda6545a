"""`Server-Timing: app;dur=<ms>` on every answer (W3C Server Timing): the time from the
request's arrival in the application to the start of its answer.

Beside a client's own timing it separates the server's share of a slow answer from time
spent outside the application: queued for a core, in the network, in the client itself.
`bench/load.py` prints both; browsers' developer tools show it too.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ServerTiming:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                milliseconds = (time.perf_counter() - start) * 1000
                timing = (b"server-timing", f"app;dur={milliseconds:.2f}".encode())
                message = {**message, "headers": [*message.get("headers", ()), timing]}
            await send(message)

        await self.app(scope, receive, timed)
