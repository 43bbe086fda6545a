"""Webhook latency benchmark (issue 18): from an event's commit to its arrival at a
receiver, p50 and p99 (target: p99 under 500 ms).

Starts an embedded PostgreSQL and a backend process (`dtbase serve backend`, one worker,
delivering webhooks), subscribes a receiver in this process, and commits events at a
steady rate, each in its own transaction, as a write path does. The time from the
commit's return to the receiver reading the request covers the NOTIFY, the deliverer's
wake-up, its claim and read, signing and the POST.

    .venv/bin/python bench/webhooks.py [--events 500] [--per-second 50]

`webhook_latency` is the measurement alone, for bench/events.py to call with a backend of
its own (one that may send webhooks to 127.0.0.1); `ReceiverProcess` is a receiver in a
process of its own, counting the requests to each path, for a benchmark whose own
process must not take CPU from the backend while it is measured.

    .venv/bin/python bench/webhooks.py --receive    # the receiver process (see there)
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
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

    def arrival(_path: str, event_id: int) -> None:
        arrived.setdefault(event_id, time.monotonic())

    with _receiver(arrival) as url, httpx.Client(base_url=backend_url, timeout=30) as api:
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
def _receiver(arrival: Callable[[str, int], None]) -> Iterator[str]:
    """A receiver answering 204 to every POST, calling `arrival(path, event id)`; its URL
    (`.../hook`: any path under it is received as well)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keeps connections open, as receivers do

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            arrival(self.path, int(json.loads(body)["id"]))
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


class ReceiverProcess:
    """`_receiver` in a process of its own (`bench/webhooks.py --receive`): `url` takes
    requests at any path under it; `counts()` is how many each path has had."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, __file__, "--receive"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._requests, self._answers = self._process.stdin, self._process.stdout
        self.url = self._answers.readline().strip()
        if not self.url:
            raise RuntimeError("The webhook receiver did not start")

    def counts(self) -> dict[str, int]:
        self._requests.write("counts\n")
        self._requests.flush()
        counts: dict[str, int] = json.loads(self._answers.readline())
        return counts

    def __enter__(self) -> ReceiverProcess:
        return self

    def __exit__(self, *_: object) -> None:
        self._requests.close()  # the receiver ends at the end of its input
        self._process.wait(timeout=30)


def _receive() -> None:
    """The receiver process: its URL on the first line of its output, then the counts
    by path (JSON) for each line of its input, until its input ends."""
    counts: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()

    def arrival(path: str, _event_id: int) -> None:
        with lock:
            counts[path] += 1

    with _receiver(arrival) as url:
        print(url, flush=True)
        for _ in sys.stdin:
            with lock:
                print(json.dumps(counts), flush=True)


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
    parser.add_argument("--receive", action="store_true", help="be a receiver process")
    arguments = parser.parse_args()
    if arguments.receive:
        _receive()
        return
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
