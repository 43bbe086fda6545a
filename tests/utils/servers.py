"""Servers over real HTTP: ASGI apps in a thread of the test process, and the frontend
as its container serves it (`dtbase serve frontend`, gunicorn) in a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from starlette.types import ASGIApp

from dtbase.devdb import free_port


@contextmanager
def served(app: ASGIApp) -> Iterator[str]:
    """`app` served by uvicorn on a free port in a thread; yields its base URL."""
    port = free_port()
    # A client a test left connected (an event stream) must not hold the server, and with
    # it the app's background work (a sweeper of stale runs, say), into later tests.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=5
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("The server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def served_frontend(backend_url: str, **settings: str) -> Iterator[str]:
    """`dtbase serve frontend` in production mode against `backend_url`, with these
    DT_ settings on top (e.g. DT_FRONTEND_WORKERS="2"); yields its base URL once it
    answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DT_")}
    env.update(
        DT_ENVIRONMENT="production",
        DT_BACKEND_URL=backend_url,
        DT_FRONT_SECRET_KEY="a-frontend-secret-that-is-long-enough-for-production-use",
        # Served over plain HTTP here: a Secure cookie would never come back.
        DT_SESSION_COOKIE_SECURE="false",
        **settings,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "dtbase", "serve", "frontend", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{url}/login", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, "dtbase serve frontend exited"
                time.sleep(0.2)
        yield url
    finally:
        # Gunicorn waits for requests in flight; a stream's thread finds its browser gone
        # only at its next write (a keep-alive, every 15 s): no need to wait for that.
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
