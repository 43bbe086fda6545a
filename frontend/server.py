"""Serving the frontend: in a thread for `dtbase up` and the browser tests, with gunicorn
for `dtbase serve frontend` (what the container runs).

Werkzeug's threaded server is enough for one team on one machine, next to the backend in
one process. A deployment gets gunicorn: worker processes restarted when they die, and
requests served while one is busy. Sessions live in signed cookies, so any worker serves
any user.
"""

from __future__ import annotations

import threading
from typing import Any

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
    """Serve the frontend with gunicorn until interrupted."""
    from gunicorn.app.base import BaseApplication

    app = create_app(settings)

    class Gunicorn(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{settings.frontend_host}:{settings.frontend_port}")
            self.cfg.set("workers", settings.frontend_workers)
            # Live pages hold a thread each for as long as they are open: they get threads
            # of their own, so that pages keep `frontend_threads` (frontend/events/stream.py).
            self.cfg.set("threads", settings.frontend_threads + settings.frontend_streams)
            # The frontend waits on the backend: a slow backend answer is not a hung worker.
            self.cfg.set("timeout", 120)
            self.cfg.set("accesslog", "-")

        def load(self) -> Any:  # Flask's WSGI signature is wider than the stubs' alias
            return app

    Gunicorn().run()
