"""Webhook latency benchmark (issue 18): from an event's commit to its arrival at a
receiver, p50 and p99 (target: p99 under 500 ms).

Starts an embedded PostgreSQL and a backend process (`dtbase serve backend`, one worker,
delivering webhooks), subscribes a receiver in this process, and commits events at a
steady rate, each in its own transaction, as a write path does. The time from the
commit's return to the receiver reading the request covers the NOTIFY, the deliverer's
wake-up, its claim and read, signing and the POST.

    .venv/bin/python bench/webhooks.py [--events 500] [--per-second 50]

`webhook_latency` is the measurement alone, for bench/events.py to call with a backend of
its own (one that may send webhooks to 127.0.0.1).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg

from dtbase.backend import migrate
from dtbase.core.settings import DEFAULT_USER_EMAIL
from dtbase.devdb import EmbeddedPostgres, free_port

PASSWORD = "bench-password-long-enough"
SECRET = "a-bench-secret-that-is-long-enough-for-hs256-and-even-for-hs512-keys!!"
SUBSCRIPTION = "bench-latency"


def webhook_latency(
    backend_url: str,
    database_url: str,
    *,
    email: str = DEFAULT_USER_EMAIL,
    password: str = PASSWORD,
    events: int = 500,
    per_second: float = 50.0,
) -> dict[str, float]:
    """Commit-to-receiver latency of `events` events committed at `per_second`, in ms:
    p50, p99 and max. The backend must deliver webhooks and allow 127.0.0.1."""
    arrived: dict[int, float] = {}
    with _receiver(arrived) as url, httpx.Client(base_url=backend_url, timeout=30) as api:
        login = api.post("/auth/login", json={"email": email, "password": password})
        login.raise_for_status()
        api.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        sensor = f"bench-{time.time_ns()}"
        query = {"kind": "readings.stored", "sensor": sensor}
        created = api.post(
            "/events/subscriptions/create", json={"name": SUBSCRIPTION, "url": url, "query": query}
        )
        created.raise_for_status()
        try:
            committed = _commit_events(database_url, sensor, events, per_second)
            deadline = time.monotonic() + 30
            while len(arrived) < events and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            api.post("/events/subscriptions/delete", json={"name": SUBSCRIPTION})
    if len(arrived) < events:
        raise RuntimeError(f"Only {len(arrived)} of {events} webhooks arrived within 30 s")
    latencies = sorted((arrived[i] - committed[i]) * 1000 for i in committed)
    return {
        "events": float(events),
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "max_ms": latencies[-1],
    }


def _commit_events(
    database_url: str, sensor: str, events: int, per_second: float
) -> dict[int, float]:
    """Each event in its own transaction, paced; the clock read when the commit returns."""
    committed: dict[int, float] = {}
    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    meta = json.dumps({"sensor": sensor, "sensor_type": "bench", "measure": ["m"], "count": 1})
    with psycopg.connect(url) as connection:
        start = time.monotonic()
        for number in range(events):
            time.sleep(max(0.0, start + number / per_second - time.monotonic()))
            row = connection.execute(
                "INSERT INTO event (kind, meta) VALUES ('readings.stored', %s) RETURNING id",
                (meta,),
            ).fetchone()
            connection.commit()
            assert row is not None
            committed[int(row[0])] = time.monotonic()
    return committed


@contextmanager
def _receiver(arrived: dict[int, float]) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            arrived.setdefault(int(json.loads(body)["id"]), time.monotonic())
            self.send_response(204)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def _backend(database_url: str, data_dir: Path) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DT_")} | {
        "DT_DATABASE_URL": database_url,
        "DT_JWT_SECRET_KEY": SECRET,
        "DT_DEFAULT_USER_PASS": PASSWORD,
        "DT_DATA_DIR": str(data_dir),
        "DT_WEBHOOK_URL_ALLOWLIST": "127.0.0.1",
        "DT_SCHEDULER_ENABLED": "false",
    }
    command = [sys.executable, "-m", "dtbase", "serve", "backend", "--port", str(port)]
    server = subprocess.Popen([*command, "--workers", "1"], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("The backend did not start")
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--per-second", type=float, default=50.0)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        database = EmbeddedPostgres(Path(directory) / "pgdata", free_port())
        database_url = database.start()
        try:
            migrate.upgrade(database_url)
            with _backend(database_url, Path(directory)) as backend_url:
                figures = webhook_latency(
                    backend_url,
                    database_url,
                    events=arguments.events,
                    per_second=arguments.per_second,
                )
        finally:
            database.stop()
    print(
        f"webhook latency, commit -> receiver, {figures['events']:.0f} events at "
        f"{arguments.per_second:g}/s: p50 {figures['p50_ms']:.1f} ms, "
        f"p99 {figures['p99_ms']:.1f} ms (target < 500), max {figures['max_ms']:.1f} ms"
    )


if __name__ == "__main__":
    main()
