"""Serving the frontend from Python: `dtbase up` and the browser tests.

Werkzeug's threaded WSGI server is enough for one team on one machine; containers run
`frontend:app_from_environment()` under a production WSGI server instead.
"""

from __future__ import annotations

import threading

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from dtbase.core.settings import FrontendSettings
from frontend.app import create_app


class FrontendServer:
    """The app served by a real HTTP server in a background thread (port 0: any free one)."""

    def __init__(self, app: Flask, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="dtbase-frontend", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self._server.host}:{self._server.port}"

    def start(self) -> FrontendServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def start(settings: FrontendSettings) -> FrontendServer:
    """Serve the frontend on settings.frontend_host:frontend_port in a background thread."""
    app = create_app(settings)
    return FrontendServer(app, settings.frontend_host, settings.frontend_port).start()


def serve(settings: FrontendSettings) -> None:
    """Serve the frontend in this thread until interrupted."""
    app = create_app(settings)
    server = make_server(settings.frontend_host, settings.frontend_port, app, threaded=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
