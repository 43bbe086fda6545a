"""Webhook benchmarks (issue 18): from an event's commit to its arrival at a receiver,
p50 and p99 (target: p99 under 500 ms); and what a delivery costs the backend in CPU.

Starts an embedded PostgreSQL and a backend process (`dtbase serve backend`, one worker,
delivering webhooks), subscribes a receiver in this process, and commits events at a
steady rate, each in its own transaction, as a write path does. The time from the
commit's return to the receiver reading the request covers the NOTIFY, the deliverer's
wake-up, its claim and read, signing and the POST.

    .venv/bin/python bench/webhooks.py [--events 500] [--per-second 50]

The CPU cost (`--parts cpu`): events committed at a steady rate, each in its own
transaction (as ingest requests do), in rounds alternating with none and with
`--subscriptions` subscriptions (10) that match every event, delivered to a receiver in
a process of its own; the backend's CPU (its process and its children: wherever its
deliverers run) per event, until every event was delivered; the difference per
delivery is what a delivery costs.

    .venv/bin/python bench/webhooks.py --parts cpu [--cpu-events 300] [--subscriptions 10]

`webhook_latency` is the measurement alone, for bench/events.py to call with a backend of
its own (one that may send webhooks to 127.0.0.1); `ReceiverProcess` is a receiver in a
process of its own, counting the requests to each path, for a benchmark whose own
process must not take CPU from the backend while it is measured.

    .venv/bin/python bench/webhooks.py --receive    # the receiver process (see there)
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import concurrent.futures
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
from pathlib import Path

import httpx
import psycopg

from dtbase.backend import migrate
from dtbase.core.settings import DEFAULT_USER_EMAIL
from dtbase.devdb import EmbeddedPostgres, free_port

sys.path.insert(0, str(Path(__file__).parent))
from proc import cpu_seconds  # beside this file

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

    def arrival(_path: str, body: bytes) -> None:
        arrived.setdefault(int(json.loads(body)["id"]), time.monotonic())

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


def delivery_cpu(
    backend_url: str,
    database_url: str,
    pid: int,
    *,
    email: str = DEFAULT_USER_EMAIL,
    password: str = PASSWORD,
    subscriptions: int = 10,
    events: int = 300,
    per_second: float = 100.0,
    rounds: int = 3,
) -> dict[str, float]:
    """The backend's CPU per event, in ms, in rounds without and with `subscriptions`
    subscriptions (medians), and the difference per delivery. Every round commits
    `events` events at `per_second` and waits until the receiver has had them all."""
    cpu: dict[bool, list[float]] = {False: [], True: []}
    with ReceiverProcess() as receiver, httpx.Client(base_url=backend_url, timeout=30) as api:
        login = api.post("/auth/login", json={"email": email, "password": password})
        login.raise_for_status()
        api.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        for number in range(rounds * 2 + 1):
            subscribed = number % 2 == 1
            sensor = f"cpu-{number}"
            names = [f"cpu-{number}-{n}" for n in range(subscriptions if subscribed else 0)]
            for name in names:
                body = {"name": name, "url": f"{receiver.url}/{name}", "query": {"sensor": sensor}}
                api.post("/events/subscriptions/create", json=body).raise_for_status()
            time.sleep(0.5)  # the creations' own work is done
            begin = cpu_seconds(pid)
            _commit_events(database_url, sensor, events, per_second)
            deadline = time.monotonic() + 60
            paths = [f"/hook/{name}" for name in names]
            while any(receiver.counts().get(path, 0) < events for path in paths):
                if time.monotonic() > deadline:
                    raise RuntimeError("Not every webhook arrived within 60 s")
                time.sleep(0.02)
            time.sleep(0.2)  # the last round's commit
            spent = cpu_seconds(pid) - begin
            for name in names:
                api.post("/events/subscriptions/delete", json={"name": name})
            if number:  # the first is a warm-up
                cpu[subscribed].append(spent / events)
    without, with_ = statistics.median(cpu[False]), statistics.median(cpu[True])
    return {
        "subscriptions": float(subscriptions),
        "without_ms": without * 1000,
        "with_ms": with_ * 1000,
        "per_delivery_ms": (with_ - without) / subscriptions * 1000,
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
def _receiver(arrival: Callable[[str, bytes], None]) -> Iterator[str]:
    """A receiver answering 204 to every POST, calling `arrival(path, body)` in its own
    thread; its URL (`.../hook`: any path under it is received as well).

    It stands for receivers on other machines, so it takes as little CPU from the one it
    shares with the backend as it can: HTTP/1.1 read by hand on an asyncio protocol (a
    request line, a Content-Length, a body; connections kept open), not `http.server`,
    whose thread per connection and header parsing took ~150 µs a request."""
    loop = asyncio.new_event_loop()
    started: concurrent.futures.Future[asyncio.Server] = concurrent.futures.Future()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(
            loop.create_server(lambda: _Receiving(arrival), "127.0.0.1", 0)
        )
        started.set_result(server)
        loop.run_forever()
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    server = started.result(timeout=10)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


class _Receiving(asyncio.Protocol):
    """One connection to `_receiver`: requests in order, each answered 204 when whole."""

    def __init__(self, arrival: Callable[[str, bytes], None]) -> None:
        self._arrival = arrival
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(b"\r\n\r\n")) >= 0:
            head = self._buffer[:end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if len(self._buffer) < end + 4 + length:
                return  # the rest of the body is to come
            body = self._buffer[end + 4 : end + 4 + length]
            self._buffer = self._buffer[end + 4 + length :]
            self._arrival(head.split(" ", 2)[1], body)
            assert self._transport is not None
            self._transport.write(b"HTTP/1.1 204 No Content\r\n\r\n")


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

    @property
    def pid(self) -> int:
        return self._process.pid

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

    def arrival(path: str, _body: bytes) -> None:
        with lock:
            counts[path] += 1

    with _receiver(arrival) as url:
        print(url, flush=True)
        for _ in sys.stdin:
            with lock:
                print(json.dumps(counts), flush=True)


@contextmanager
def _backend(database_url: str, data_dir: Path) -> Iterator[tuple[str, int]]:
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
        yield url, server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--per-second", type=float, default=50.0)
    parser.add_argument("--receive", action="store_true", help="be a receiver process")
    parser.add_argument(
        "--parts",
        type=lambda text: text.split(","),
        default=["latency", "cpu"],
        help="which figures (comma-separated): latency, cpu",
    )
    parser.add_argument("--subscriptions", type=int, default=10, help="in the CPU rounds")
    parser.add_argument("--cpu-events", type=int, default=300, help="events per CPU round")
    parser.add_argument("--cpu-rounds", type=int, default=3, help="CPU rounds of each kind")
    arguments = parser.parse_args()
    if arguments.receive:
        _receive()
        return
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        database = EmbeddedPostgres(Path(directory) / "pgdata", free_port())
        database_url = database.start()
        try:
            migrate.upgrade(database_url)
            with _backend(database_url, Path(directory)) as (backend_url, pid):
                if "latency" in arguments.parts:
                    rows.append(_latency_row(backend_url, database_url, arguments))
                if "cpu" in arguments.parts:
                    rows.append(_cpu_row(backend_url, database_url, pid, arguments))
        finally:
            database.stop()
    for row in rows:
        print(row)


def _latency_row(backend_url: str, database_url: str, arguments: argparse.Namespace) -> str:
    figures = webhook_latency(
        backend_url, database_url, events=arguments.events, per_second=arguments.per_second
    )
    return (
        f"webhook latency, commit -> receiver, {figures['events']:.0f} events at "
        f"{arguments.per_second:g}/s: p50 {figures['p50_ms']:.1f} ms, "
        f"p99 {figures['p99_ms']:.1f} ms (target < 500), max {figures['max_ms']:.1f} ms"
    )


def _cpu_row(backend_url: str, database_url: str, pid: int, arguments: argparse.Namespace) -> str:
    figures = delivery_cpu(
        backend_url,
        database_url,
        pid,
        subscriptions=arguments.subscriptions,
        events=arguments.cpu_events,
        rounds=arguments.cpu_rounds,
    )
    return (
        f"backend CPU per event committed at 100/s: {figures['without_ms']:.2f} ms with no "
        f"subscription, {figures['with_ms']:.2f} ms with {figures['subscriptions']:.0f} "
        f"matching each; per delivery {figures['per_delivery_ms']:.3f} ms"
    )


if __name__ == "__main__":
    main()
