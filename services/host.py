"""The local services host: the same handlers as the Azure Functions app, over HTTP.

`create_app()` serves each handler at `/api/<name>` (Azure Functions' path style) for GET,
POST, PUT and DELETE, with the JSON body as the parameters, exactly what the backend's
run-service sends. `serve()` runs it on 127.0.0.1:7071 (Azure Functions' local port) and
`register()` records the services with a backend, so they appear in its API and web page.
`BackgroundHost(host, port).start()` runs it in a thread beside something else (`dtbase up`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dtbase.client import ApiError, Client
from services.common import Handler, respond

logger = logging.getLogger("services.host")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7071
METHODS = ["GET", "POST", "PUT", "DELETE"]
CONFLICT = 409


def create_app(handlers: Mapping[str, Handler] | None = None) -> Starlette:
    """An ASGI app serving `handlers` (default: every service of this package)."""
    if handlers is None:
        from services.registry import handlers as registered

        handlers = registered()
    served = dict(handlers)

    async def index(_: Request) -> Response:
        return JSONResponse({"services": [f"/api/{name}" for name in served]})

    async def call(request: Request) -> Response:
        name = request.path_params["service"]
        handler = served.get(name)
        if handler is None:
            return JSONResponse({"detail": f"No service called {name!r}"}, status_code=404)
        body = await request.body()
        reply = await run_in_threadpool(respond, handler, body)
        logger.info("%s %s -> %s", request.method, request.url.path, reply.status_code)
        return Response(reply.json_bytes(), reply.status_code, media_type="application/json")

    return Starlette(
        routes=[
            Route("/api", index, methods=["GET"]),
            Route("/api/{service}", call, methods=METHODS),
        ]
    )


def serve(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, log_level: str = "info") -> None:
    """Serve every service until interrupted (what `dtbase services serve` runs)."""
    import uvicorn

    uvicorn.run(create_app(), host=host, port=port, log_level=log_level)


class BackgroundHost:
    """The host running in a daemon thread (for `dtbase up`): `url`, then `stop()`."""

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        handlers: Mapping[str, Handler] | None = None,
        log_level: str = "warning",
    ) -> None:
        import uvicorn

        config = uvicorn.Config(create_app(handlers), host=host, port=port, log_level=log_level)
        self.server = uvicorn.Server(config)
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self.server.run, name="services-host", daemon=True)

    def start(self, timeout: float = 30.0) -> BackgroundHost:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"The services host did not start on {self.url}")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self._thread.join(timeout)


def service_urls(base_url: str, names: list[str] | None = None) -> dict[str, str]:
    """The URL of each service on a host at `base_url` (e.g. http://127.0.0.1:7071)."""
    if names is None:
        from services.registry import HANDLERS

        names = list(HANDLERS)
    return {name: f"{base_url.rstrip('/')}/api/{name}" for name in names}


def register(client: Client, base_url: str, names: list[str] | None = None) -> dict[str, str]:
    """Register (or re-point) each service with the backend, as a POST to the host.

    Returns what happened to each: "registered", "updated" or "unchanged".
    """
    existing = {service.name: service for service in client.services.list_services()}
    outcome = {}
    for name, url in service_urls(base_url, names).items():
        known = existing.get(name)
        if known is None:
            try:
                client.services.insert_service(name, url, "POST")
                outcome[name] = "registered"
            except ApiError as error:  # registered meanwhile by someone else
                if error.status_code != CONFLICT:
                    raise
                outcome[name] = "unchanged"
        elif known.url != url or str(known.http_method) != "POST":
            client.services.edit_service(name, url=url, http_method="POST")
            outcome[name] = "updated"
        else:
            outcome[name] = "unchanged"
    return outcome
