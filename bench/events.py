"""Events benchmark (issue 18): what live listeners cost ingest, how fast they hear of a
write, and how fast one catches up.

Starts its own embedded PostgreSQL and the backend as the image runs it (`dtbase serve
backend`, one worker, and its jobs process, which delivers the webhooks), then measures:

* ingest with 10 SSE listeners connected and 10 webhook subscriptions active against
  none, at 10,000 and at 1,000 readings per request: rounds with and without them
  alternate (as in `ab_ingest.py`, since single runs on the 2-core machine move by
  10-20%), and the medians of the rounds are compared (target: at least 0.95x). Every
  listener but two and every subscription matches the ingested sensor, so each request
  is streamed 8 times and delivered 10 times, as it is stored;
* from the commit of a write to each of 100 SSE listeners receiving its event: the
  event's `time` (taken by the database in the write's transaction, just before the
  commit) against the listener's clock when the record is read (target: median under
  50 ms, p99 under 250 ms);
* a listener away for 100,000 events catching up, through `client.events.stream` with
  the last id it saw (target: 20,000 events/s or more).

    .venv/bin/python bench/events.py [--rounds 10] [--latency-writes 200] [--away 100000]
    .venv/bin/python bench/events.py --parts ingest     # only the ingest ratios
    .venv/bin/python bench/events.py --parts ingest --jobs inline   # jobs in the worker
    .venv/bin/python bench/events.py --parts ingest --by-process   # and whose CPU it is

"Backend CPU" is that of the backend's whole process tree (the serving process and the
jobs process: all the events cost), and beside it the serving process's alone.

The SSE listeners (asyncio) run in a process of their own (this file, with
`--listen`), and so does the webhook receiver (`bench/webhooks.py --receive`): the
writer's process does nothing but write. The backend, the database, the listeners and
the receiver share the same 2 cores: read the ratios, not the absolute figures. The
listeners and the receiver stand for clients on other machines, so they are written to
take little CPU (they read the bytes and count; see `Listeners` and
`webhooks._receiver`): on one machine, what they take is taken from the backend.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import itertools
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
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
from httpx_sse import connect_sse

from dtbase.backend import migrate
from dtbase.backend.db import make_engine, make_session_factory
from dtbase.backend.events.record import record_many
from dtbase.client import Client
from dtbase.core.settings import DEFAULT_USER_EMAIL
from dtbase.devdb import EmbeddedPostgres, free_port
from dtbase.schemas.events import EventKind

sys.path.insert(0, str(Path(__file__).parent))
from proc import (  # beside this file
    cpu_seconds,
    database_backends,
    own_cpu_seconds,
    task_cpu_seconds,
    tree,
)
from webhooks import ReceiverProcess  # a benchmark beside this one

PASSWORD = "bench-password-long-enough"
SECRET = "a-bench-secret-that-is-long-enough-for-hs256-and-even-for-hs512-keys!!"
T0 = datetime(2020, 1, 1, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="ingest rounds of each kind")
    # 50: a round of 1,000-reading requests then lasts about half a second, several of the
    # deliverers' gathering windows (50 ms); with 10 (0.1 s) a round caught a varying
    # share of its own deliveries, and single runs moved from 0.92x to 1.02x.
    parser.add_argument("--requests", type=int, default=50, help="ingest requests per round")
    parser.add_argument("--latency-writes", type=int, default=200)
    parser.add_argument("--away", type=int, default=100_000, help="events to catch up on")
    parser.add_argument(
        "--parts",
        type=lambda text: text.split(","),
        default=["ingest", "latency", "catch-up"],
        help="which figures (comma-separated): ingest, latency, catch-up",
    )
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(size) for size in text.split(",")],
        default=[10_000, 1_000],
        help="readings per ingest request (comma-separated)",
    )
    parser.add_argument("--listeners", type=int, default=10, help="SSE listeners in ingest")
    parser.add_argument(
        "--subscriptions", type=int, default=10, help="webhook subscriptions in ingest"
    )
    parser.add_argument(
        "--jobs",
        choices=["process", "inline"],
        default="process",
        help="where the backend runs its jobs, webhook deliveries included (DT_BACKEND_JOBS)",
    )
    parser.add_argument(
        "--by-process",
        action="store_true",
        help="with the ingest ratios, the CPU per request of every process taking part",
    )
    parser.add_argument("--listen", metavar="JSON", help="be a listener process (see there)")
    args = parser.parse_args()
    if args.listen is not None:
        listen(**json.loads(args.listen))
        return
    with tempfile.TemporaryDirectory(prefix="dtbase-events-") as folder:
        run(Path(folder), args)


def run(folder: Path, args: argparse.Namespace) -> None:
    database = EmbeddedPostgres(folder / "pgdata", free_port())
    url = database.start()
    try:
        migrate.upgrade(url)
        with backend(url, folder, {"DT_BACKEND_JOBS": args.jobs}) as (base, pid):
            http = logged_in(base)
            setup(http)
            rows = []
            # Each request's readings at times no other request wrote (or nothing is stored,
            # and no event recorded): request n from second n * 10,000 on.
            offsets = itertools.count()
            if "ingest" in args.parts:
                with ReceiverProcess() as receiver:
                    for size in args.sizes:
                        accounts = CpuAccounts(database, url, pid, receiver)
                        rows.append(
                            ingest_ratio(base, pid, http, receiver, size, args, offsets, accounts)
                        )
                        if args.by_process:
                            rows.append(accounts.table(size, args.requests))
            if "latency" in args.parts:
                rows.append(latency(base, http, args.latency_writes))
            if "catch-up" in args.parts:
                rows.append(catch_up(base, url, args.away))
    finally:
        database.stop()
    print("\nEvents benchmark (the backend, the database and the listeners on one machine)")
    for row in rows:
        print(row)


@contextmanager
def backend(database_url: str, folder: Path, settings: dict[str, str]) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = (
        os.environ
        | settings
        | {
            "DT_DATABASE_URL": database_url,
            "DT_ENVIRONMENT": "production",
            "DT_JWT_SECRET_KEY": SECRET,
            "DT_DEFAULT_USER_PASS": PASSWORD,
            "DT_DATA_DIR": str(folder / "data"),
            "DT_SCHEDULER_ENABLED": "false",
            "DT_ROLLUP_REFRESH_SECONDS": "0",
            "DT_WEBHOOK_URL_ALLOWLIST": "127.0.0.1",
        }
    )
    command = [sys.executable, "-m", "dtbase", "serve", "backend", "--port", str(port)]
    with (folder / "backend.log").open("ab") as log:
        server = subprocess.Popen(
            [*command, "--workers", "1"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"the backend did not start: see {folder / 'backend.log'}")
            time.sleep(0.1)
        yield base, server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)


def logged_in(base: str) -> httpx.Client:
    http = httpx.Client(base_url=base, timeout=120)
    login = http.post("/auth/login", json={"email": DEFAULT_USER_EMAIL, "password": PASSWORD})
    login.raise_for_status()
    http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
    return http


def setup(http: httpx.Client) -> None:
    measures = [{"name": "temperature", "units": "K", "datatype": "float"}]
    http.post("/sensor/insert-sensor-type", json={"name": "T", "measures": measures})
    for uid in ("ingest", "latency"):
        body = {"type_name": "T", "unique_identifier": uid}
        http.post("/sensor/insert-sensor", json=body).raise_for_status()


class ListenerProcess:
    """`Listeners` in a process of their own (this file with `--listen`): connected when
    made, disconnected at the end of the `with`."""

    def __init__(self, base: str, token: str, queries: list[str]) -> None:
        self.queries = queries
        arguments = json.dumps({"base": base, "token": token, "queries": queries})
        self._process = subprocess.Popen(
            [sys.executable, __file__, "--listen", arguments],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._requests, self._answers = self._process.stdin, self._process.stdout
        if self._answers.readline().strip() != "ready":
            self._process.wait(30)
            raise RuntimeError("The listeners did not connect (see above)")

    @property
    def pid(self) -> int:
        return self._process.pid

    def received(self) -> list[int]:
        """How many events each listener has read so far."""
        counts: list[int] = self._ask("received")
        return counts

    def delays(self) -> list[float]:
        """For each event each listener read, how long after its time (seconds)."""
        delays: list[float] = self._ask("delays")
        return delays

    def _ask(self, question: str) -> Any:
        self._requests.write(question + "\n")
        self._requests.flush()
        return json.loads(self._answers.readline())

    def __enter__(self) -> ListenerProcess:
        return self

    def __exit__(self, *_: object) -> None:
        self._requests.close()  # the process disconnects and ends at the end of its input
        self._process.wait(timeout=60)


def listen(base: str, token: str, queries: list[str]) -> None:
    """The listener process: "ready" once every listener is connected, then an answer
    (JSON) to each line of its input, "received" or "delays", until its input ends."""
    with Listeners(base, token, queries) as listeners:
        print("ready", flush=True)
        for line in sys.stdin:
            answer = listeners.received if line.strip() == "received" else listeners.delays
            print(json.dumps(answer), flush=True)


class Listeners:
    """SSE listeners in an event loop of their own thread; each counts the events it
    reads and keeps, for each, when it was read.

    They stand for clients on other machines, so they take as little CPU from this one
    as they can: each reads its stream on an asyncio protocol, splits the bytes into
    records and counts those with data (the server writes LF line ends); an event's JSON
    is parsed only when `delays` are asked for, after the measurement. (httpx, httpx-sse's
    line decoder and a parse of every event took 0.15 ms an event and listener.)"""

    def __init__(self, base: str, token: str, queries: list[str]) -> None:
        self.base, self.token, self.queries = base, token, queries
        self.received = [0] * len(queries)
        self._read: list[tuple[float, bytes]] = []
        self._loop = asyncio.new_event_loop()
        self._connected = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._tasks: list[concurrent.futures.Future[None]] = []

    @property
    def delays(self) -> list[float]:
        """For each event each listener read, how long after its time (seconds)."""
        found = []
        for read, record in list(self._read):
            data = record[record.index(b"data: ") + 6 :].split(b"\n", 1)[0]
            when = datetime.fromisoformat(orjson.loads(data)["time"].replace("Z", "+00:00"))
            found.append(read - when.timestamp())
        return found

    def __enter__(self) -> Listeners:
        self._thread.start()
        for number, query in enumerate(self.queries):
            task = asyncio.run_coroutine_threadsafe(self._listen(number, query), self._loop)
            self._tasks.append(task)
        if not self._ready.wait(timeout=60):
            failed = [task.exception() for task in self._tasks if task.done()]
            raise RuntimeError(
                f"{self._connected} of {len(self.queries)} listeners connected: {failed[:3]}"
            )
        return self

    def __exit__(self, *_: object) -> None:
        # Cancelled and awaited, so that their connections close: a listener left open
        # and unread would still cost the backend (until its send timeout).
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)

    async def _close(self) -> None:
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _listen(self, number: int, query: str) -> None:
        address = httpx.URL(self.base)
        closed = self._loop.create_future()
        transport, _ = await self._loop.create_connection(
            lambda: _Stream(partial(self._records, number), closed),
            address.host,
            address.port or 80,
        )
        request = (
            f"GET /events/stream?{query} HTTP/1.1\r\nHost: {address.netloc.decode()}\r\n"
            f"Authorization: {self.token}\r\nAccept: text/event-stream\r\n\r\n"
        )
        transport.write(request.encode())
        try:
            await closed
        finally:
            transport.close()

    def _records(self, number: int, read: float, records: list[bytes]) -> None:
        for record in records:
            if b"\ndata: " in record:
                self._read.append((read, record))
                self.received[number] += 1
            elif record.startswith(b"HTTP/"):  # the answer's head and the first record
                if not record.startswith(b"HTTP/1.1 200 "):
                    raise RuntimeError(record.decode(errors="replace"))
                self._connected += 1
                if self._connected == len(self.queries):
                    self._ready.set()


class _Stream(asyncio.Protocol):
    """An event stream's bytes, split into records where a blank line ends one. The
    chunked framing is left in: the server writes whole records in each chunk, so a
    chunk's size line only prefixes a record, and the answer's head the first one."""

    def __init__(
        self, records: Callable[[float, list[bytes]], None], closed: asyncio.Future[None]
    ) -> None:
        self._on_records, self._closed = records, closed
        self._rest = b""

    def data_received(self, data: bytes) -> None:
        read = time.time()
        *records, self._rest = (self._rest + data).split(b"\n\n")
        try:
            self._on_records(read, records)
        except RuntimeError as error:
            if not self._closed.done():
                self._closed.set_exception(error)

    def connection_lost(self, _exc: Exception | None) -> None:
        if not self._closed.done():
            self._closed.set_result(None)


def payload(uid: str, start: int, count: int) -> bytes:
    return orjson.dumps(
        {
            "unique_identifier": uid,
            "measure_name": "temperature",
            "readings": [290.0 + (start + i) % 1000 / 7 for i in range(count)],
            "timestamps": [(T0 + timedelta(seconds=start + i)).isoformat() for i in range(count)],
        }
    )


# Each matches every ingest request (the issue: "10 active subscriptions").
SUBSCRIPTION_QUERIES: list[dict[str, Any]] = [
    {},
    {"kind": "readings.stored"},
    {"sensor": "ingest"},
    {"sensor_type": "T"},
    {"measure": "temperature"},
    {"kind": "readings.stored", "sensor": "ingest"},
    {"sensor": ["ingest", "other"]},
    {"kind": ["readings.stored", "model_run.stored"]},
    {"measure": ["temperature", "humidity"]},
    {"sensor_type": "T", "measure": "temperature"},
]
# Twice over: eight of ten match every ingest request, two none.
LISTENER_QUERIES = [
    "",
    "sensor=ingest",
    "kind=readings.stored",
    "sensor=other",
    "measure=temperature",
]


def ingest_ratio(
    base: str,
    pid: int,
    http: httpx.Client,
    receiver: ReceiverProcess,
    size: int,
    args: argparse.Namespace,
    offsets: Iterator[int],
    accounts: CpuAccounts,
) -> str:
    """Median seconds per request in rounds without and with 10 listeners and 10
    subscriptions (alternating, a warm-up round first); the rate ratio. The backend's
    CPU per request (its whole process tree) is counted twice: while the requests are
    sent, and until every listener and receiver has had every event (all that the events
    cost); and the serving process's alone while they are sent."""
    token = str(http.headers["Authorization"])
    times: dict[bool, list[float]] = {False: [], True: []}
    cpus: dict[bool, list[float]] = {False: [], True: []}
    cpus_all: dict[bool, list[float]] = {False: [], True: []}
    serving: dict[bool, list[float]] = {False: [], True: []}
    missed = 0
    for round_number in range(args.rounds * 2 + 1):
        with_events = round_number % 2 == 1
        bodies = [payload("ingest", next(offsets) * 10_000, size) for _ in range(args.requests)]
        label = f"{size}-{round_number}"
        listening = (
            Listening(base, http, token, receiver, label, args.listeners, args.subscriptions)
            if with_events
            else None
        )
        with listening or _nothing():
            time.sleep(0.5)  # the listeners' first reads are done
            accounts.begin(listening.listener_pid if listening else None)
            begin, cpu_begin = time.perf_counter(), cpu_seconds(pid)
            serving_begin = own_cpu_seconds(pid)
            for body in bodies:
                response = http.post("/sensor/insert-sensor-readings", content=body)
                response.raise_for_status()
            elapsed = (time.perf_counter() - begin) / args.requests
            cpu = (cpu_seconds(pid) - cpu_begin) / args.requests
            serving_cpu = (own_cpu_seconds(pid) - serving_begin) / args.requests
            if listening is not None:
                missed += listening.wait_for(args.requests)
            cpu_all = (cpu_seconds(pid) - cpu_begin) / args.requests
            accounts.end(with_events, counted=round_number > 0)
        if round_number:
            times[with_events].append(elapsed)
            cpus[with_events].append(cpu)
            cpus_all[with_events].append(cpu_all)
            serving[with_events].append(serving_cpu)
    without, with_ = statistics.median(times[False]), statistics.median(times[True])
    cpu_without, cpu_with = statistics.median(cpus[False]), statistics.median(cpus[True])
    all_without, all_with = statistics.median(cpus_all[False]), statistics.median(cpus_all[True])
    serving_without, serving_with = (
        statistics.median(serving[False]),
        statistics.median(serving[True]),
    )
    return (
        f"ingest, {size:,} readings per request: {without * 1000:.1f} ms without, "
        f"{with_ * 1000:.1f} ms with {args.listeners} SSE listeners and {args.subscriptions} "
        "webhook subscriptions; "
        f"rate ratio {without / with_:.3f} (target >= 0.95); backend CPU per request "
        f"while sending {cpu_without * 1000:.1f} / {cpu_with * 1000:.1f} ms, ratio "
        f"{cpu_without / cpu_with:.3f}; until every event was streamed and delivered "
        f"{all_without * 1000:.1f} / {all_with * 1000:.1f} ms, ratio "
        f"{all_without / all_with:.3f}; the serving process alone while sending "
        f"{serving_without * 1000:.1f} / {serving_with * 1000:.1f} ms; events missed: {missed}"
    )


class Listening:
    """SSE listeners (in a process of their own) and webhook subscriptions to `receiver`
    (10 of each by default), from when it is made to the end of the `with`."""

    def __init__(
        self,
        base: str,
        http: httpx.Client,
        token: str,
        receiver: ReceiverProcess,
        label: str,
        listeners: int = 10,
        subscriptions: int = 10,
    ) -> None:
        self._http, self._receiver = http, receiver
        self._names = [f"bench-{label}-{n}" for n in range(subscriptions)]
        self._paths = [f"/hook/{name}" for name in self._names]
        queries = itertools.cycle(SUBSCRIPTION_QUERIES)
        for name, query in zip(self._names, queries, strict=False):
            body = {"name": name, "url": f"{receiver.url}/{name}", "query": query}
            http.post("/events/subscriptions/create", json=body).raise_for_status()
        self._queries = list(itertools.islice(itertools.cycle(LISTENER_QUERIES), listeners))
        self._listeners = ListenerProcess(base, token, self._queries) if listeners else None

    @property
    def listener_pid(self) -> int | None:
        return self._listeners.pid if self._listeners else None

    def wait_for(self, requests: int, timeout: float = 60) -> int:
        """Wait until every listener and subscription has had the events of `requests`
        requests; how many are still missing after `timeout` seconds."""
        streamed = [0 if query == "sensor=other" else requests for query in self._queries]
        deadline = time.monotonic() + timeout
        while True:
            received = self._listeners.received() if self._listeners else []
            counts = self._receiver.counts()
            missing = sum(max(0, e - r) for e, r in zip(streamed, received, strict=True))
            missing += sum(max(0, requests - counts.get(path, 0)) for path in self._paths)
            if not missing or time.monotonic() > deadline:
                return missing
            time.sleep(0.02)

    def __enter__(self) -> Listening:
        return self

    def __exit__(self, *_: object) -> None:
        if self._listeners is not None:
            self._listeners.__exit__()
        for name in self._names:
            self._http.post("/events/subscriptions/delete", json={"name": name})


class CpuAccounts:
    """The CPU of every process taking part in ingest rounds (`--by-process`), from a
    round's first request until every event was streamed and delivered: the serving
    process, the jobs process, each database connection by the process at its other end
    (its `LISTEN` connection apart), the database's own processes, the listeners'
    process, the receiver's and this one (the writer)."""

    def __init__(
        self, database: EmbeddedPostgres, url: str, serving: int, receiver: ReceiverProcess
    ) -> None:
        lines = (database.pgdata / "postmaster.pid").read_text().splitlines()
        self._postmaster = int(lines[0])
        self._url = url.replace("postgresql+psycopg://", "postgresql://")
        self._serving, self._receiver = serving, receiver.pid
        self._labels: dict[int, str] = {}
        self._begun: dict[int, float] = {}
        self.spent: dict[bool, list[dict[str, float]]] = {False: [], True: []}

    def begin(self, listeners: int | None) -> None:
        jobs = [one for one in tree(self._serving) if one != self._serving]
        owners = {"serving": self._serving, "jobs": jobs[0] if jobs else -1}
        labels = {
            self._serving: "serving",
            owners["jobs"]: "jobs",
            self._receiver: "receiver",
            os.getpid(): "writer",
        }
        if listeners is not None:
            labels[listeners] = "listeners"
        backends = database_backends(self._postmaster, owners)
        with psycopg.connect(self._url, autocommit=True) as connection:
            listening = {
                row[0]
                for row in connection.execute(
                    "SELECT pid FROM pg_stat_activity WHERE query LIKE 'LISTEN %'"
                )
            }
        for backend_pid, label in backends.items():
            labels[backend_pid] = f"{label} (LISTEN)" if backend_pid in listening else label
        self._labels = labels
        self._begun = {one: task_cpu_seconds(one) for one in labels}

    def end(self, with_events: bool, *, counted: bool) -> None:
        spent: dict[str, float] = {}
        for one, label in self._labels.items():
            spent[label] = spent.get(label, 0.0) + task_cpu_seconds(one) - self._begun[one]
        if counted:
            self.spent[with_events].append(spent)

    def table(self, size: int, requests: int) -> str:
        labels = sorted({label for rounds in self.spent.values() for s in rounds for label in s})
        lines = [
            f"CPU per ingest request of {size:,} readings, ms (all rounds' requests), "
            "without / with the listeners and subscriptions:"
        ]
        totals = {False: 0.0, True: 0.0}
        for label in labels:
            figures = {}
            for with_events, rounds in self.spent.items():
                spent = sum(s.get(label, 0.0) for s in rounds)
                figures[with_events] = spent * 1000 / (requests * len(rounds))
                totals[with_events] += figures[with_events]
            lines.append(f"  {label:<42} {figures[False]:6.2f} {figures[True]:6.2f}")
        lines.append(f"  {'all':<42} {totals[False]:6.2f} {totals[True]:6.2f}")
        return "\n".join(lines)


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def _wait_for(listeners: ListenerProcess, expected: list[int], timeout: float = 30) -> int:
    """Wait until each listener has its expected count; the events still missing."""
    deadline = time.monotonic() + timeout
    while (received := listeners.received()) != expected and time.monotonic() < deadline:
        time.sleep(0.02)
    return sum(max(0, e - r) for e, r in zip(expected, received, strict=True))


def latency(base: str, http: httpx.Client, writes: int) -> str:
    """100 listeners (half on every event, half on the sensor); a write of 10 readings
    every 50 ms; the delays from each event's time to each listener reading it."""
    token = str(http.headers["Authorization"])
    queries = ["", "sensor=latency"] * 50
    with ListenerProcess(base, token, queries) as listeners:
        for number in range(writes):
            http.post(
                "/sensor/insert-sensor-readings", content=payload("latency", number * 10, 10)
            ).raise_for_status()
            time.sleep(0.05)
        missed = _wait_for(listeners, [writes] * len(queries))
        delays = sorted(listeners.delays())
    median = statistics.median(delays) * 1000
    p99 = delays[int(len(delays) * 0.99)] * 1000
    return (
        f"commit -> SSE listener, 100 listeners, {writes} writes ({len(delays):,} deliveries): "
        f"median {median:.1f} ms, p99 {p99:.1f} ms, max {delays[-1] * 1000:.1f} ms "
        f"(targets < 50 ms, < 250 ms; missed: {missed})"
    )


def catch_up(base: str, database_url: str, away: int) -> str:
    """`away` events recorded while a listener is away (straight into the outbox, in
    batches of 10,000: ingest requests would take minutes); then it comes back."""
    with Client.logged_in(base, DEFAULT_USER_EMAIL, PASSWORD) as client:
        last_seen = client.events.history(limit=1).last_id
        last_seen = max([last_seen, *[e.id for e in client.events.all_history(after=last_seen)]])
        engine = make_engine(database_url)
        sessions = make_session_factory(engine)
        meta = {"sensor": "away", "sensor_type": "T", "measure": ["temperature"], "count": 1}
        for _ in range(0, away, 10_000):
            with sessions.begin() as session:
                record_many(session, [(EventKind.readings_stored, meta)] * 10_000)
        engine.dispose()
        begin = time.perf_counter()
        for count, event in enumerate(client.events.stream(from_=last_seen), 1):  # noqa: B007
            if count == away:
                break
        elapsed = time.perf_counter() - begin
        assert event.id == last_seen + away, (event.id, last_seen)
        raw = raw_catch_up(
            base, str(client.tokens.access_token if client.tokens else ""), last_seen, away
        )
    return (
        f"catch-up of a listener away for {away:,} events: client.events.stream "
        f"{away / elapsed:,.0f} events/s ({elapsed:.2f} s); an SSE reader that parses no "
        f"event (httpx-sse) {away / raw:,.0f} events/s (target >= 20,000)"
    )


def raw_catch_up(base: str, token: str, last_seen: int, away: int) -> float:
    """Seconds to read `away` records after `last_seen`, parsed as SSE only."""
    headers = {"Authorization": f"Bearer {token}", "Last-Event-ID": str(last_seen)}
    begin = time.perf_counter()
    count = 0
    with (
        httpx.Client(base_url=base, timeout=60) as http,
        connect_sse(http, "GET", "/events/stream", headers=headers) as source,
    ):
        for record in source.iter_sse():
            count += bool(record.data)
            if count == away:
                break
    return time.perf_counter() - begin


if __name__ == "__main__":
    main()
