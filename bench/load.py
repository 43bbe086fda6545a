"""Load benchmark (issue 20): small requests, many at once; the tail, and the floor.

Starts its own embedded PostgreSQL and the backend as the image runs it (`dtbase serve
backend --workers N`), loads 10 sensors with 7 days of minute readings, then measures:

* the floor: one client, one request after another, to a bare FastAPI app served by the
  same uvicorn (one process, uvloop and httptools), beside dtbase's smallest requests;
* the mixed workload at 1 and at 32 concurrent clients: 60% reads of one day of one sensor
  (1,440 readings), 25% inserts of 100 readings, 15% `list-sensors`, each client sending
  its next request when the last one is answered; throughput and p50/p95/p99 per
  operation, answers other than 2xx, transport errors; beside them the backend's own
  p50/p99 (its `Server-Timing` header) and the share of a core the load generator got;
* the same at 32 clients with the background jobs off (no jobs process: `--no-jobs`);
* for each number of worker processes asked for;
* that every acknowledged insert is readable, reading by reading;
* at the end, issue 20's targets in one table: throughput at 32 clients over 1 client,
  p99/p50 at 32 clients and p99 with the background jobs on over off (each operation),
  answers other than 2xx, transport errors, lost inserts and the floor's ratio. It exits
  non-zero on an answer other than 2xx, a transport error or a lost insert; the ratios,
  which the machine's other work moves, are only printed.

    .venv/bin/python bench/load.py [--seconds 20] [--workers 1,2] [--clients 32]
    .venv/bin/python bench/load.py --short      # a CI-size run: 3 s per figure, 1 worker
    .venv/bin/python bench/load.py --floor --seconds 10   # the floor alone
    .venv/bin/python bench/load.py --backend-setting DT_BACKEND_KEEP_ALIVE_SECONDS=5
    .venv/bin/python bench/load.py --backend-nice 10   # the load generator first

The load generator (processes of closed-loop clients on plain sockets, answers parsed by
httptools) shares the machine with the backend and the database: on 2 cores, read the
ratios, not the absolute figures.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import math
import multiprocessing
import os
import random
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier as BarrierType
from pathlib import Path
from urllib.parse import urlsplit

import httptools
import httpx
import orjson
from fastapi import FastAPI
from pydantic import BaseModel

from dtbase.backend import migrate
from dtbase.client import Client
from dtbase.devdb import EmbeddedPostgres, free_port

PASSWORD = "bench-password-long-enough"
EMAIL = "default_user@localhost"
SECRET = "a-bench-secret-that-is-long-enough-for-hs256-and-even-for-hs512-keys!!"
T0 = datetime(2020, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
SENSORS = [f"load-{index}" for index in range(10)]
DAYS = 7
MEASURE = "temperature"
# Inserts write after the loaded week, each into minutes no other insert writes.
WRITES_FROM = T0 + timedelta(days=DAYS + 1)
INSERT_SIZE = 100
MIX = (("read-day", 60), ("insert-100", 25), ("list-sensors", 15))


@dataclass
class Tally:
    """What one run of a workload saw, per operation."""

    seconds: float = 0.0
    # The load generator's own CPU time over the run, in seconds.
    generator_cpu: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    # The same requests as the backend timed them (its `Server-Timing` header).
    server: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    # Each request's latency split by the backend's stamps (`Dtbase-Stamps`): before the
    # application got it, in it, after it began the answer; and its garbage collection.
    parts: dict[str, list[Parts]] = field(default_factory=lambda: defaultdict(list))
    non_2xx: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    transport_errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # What went wrong, each kind once: the first answer other than 2xx, or the error.
    failures: dict[str, str] = field(default_factory=dict)

    def requests(self) -> int:
        return sum(len(times) for times in self.latencies.values())

    def rate(self) -> float:
        return self.requests() / self.seconds

    def add(self, other: Tally) -> None:
        """Another generator process's tally, over the same run."""
        self.seconds = max(self.seconds, other.seconds)
        self.generator_cpu += other.generator_cpu
        for name, times in other.latencies.items():
            self.latencies[name] += times
        for name, times in other.server.items():
            self.server[name] += times
        for name, parts in other.parts.items():
            self.parts[name] += parts
        for name, count in other.non_2xx.items():
            self.non_2xx[name] += count
        for name, count in other.transport_errors.items():
            self.transport_errors[name] += count
        for kind, example in other.failures.items():
            self.failures.setdefault(kind, example)


@dataclass(frozen=True)
class Parts:
    """One request's latency, split on the machine's monotonic clock by the client's trace
    of its connection and the backend's stamps (`Dtbase-Stamps`)."""

    # From the request's start to its last byte written to the socket: the client's part.
    sending: float
    # From then to the application's getting it: the backend's event loop reading it.
    reading: float
    # In the application (the stamps' two moments).
    inside: float
    # From the answer's start to its headers read by the client: writing, then reading it.
    answering: float
    # The garbage collector's pauses in the backend while in the application.
    collecting: float

    @classmethod
    def of(cls, stamps: str, sent: float, written: float, headers_read: float) -> Parts:
        arrival, answer, collecting = (float(part) for part in stamps.split())
        return cls(
            written - sent, arrival - written, answer - arrival, headers_read - answer, collecting
        )


@dataclass
class Writes:
    """Inserts acknowledged with a 2xx: (sensor, first minute after WRITES_FROM). Inserts
    write numbered slots (a sensor and 100 minutes each), no two the same."""

    next_slot: int = 0
    acknowledged: list[tuple[str, int]] = field(default_factory=list)


def slot_place(slot: int) -> tuple[str, int]:
    """The sensor and the first minute (after WRITES_FROM) that an insert into `slot` writes."""
    return SENSORS[slot % len(SENSORS)], (slot // len(SENSORS)) * INSERT_SIZE


# The bare app: the framework's floor, served the same way as the backend.


class BareBody(BaseModel):
    type_name: str | None = None


class BareItem(BaseModel):
    unique_identifier: str
    name: str | None


def bare_app() -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/list")
    def listing(_: BareBody) -> list[BareItem]:
        """As `list-sensors` is declared (a sync endpoint with a body), minus auth and SQL."""
        return [BareItem(unique_identifier=uid, name=None) for uid in SENSORS]

    return app


def serve_bare(port: int) -> None:
    import uvicorn

    uvicorn.run(bare_app(), host="127.0.0.1", port=port, log_level="warning")


# Each server's process by its base URL (`dtbase serve backend --workers 1` serves in the
# process it starts), for its CPU time.
SERVER_PIDS: dict[str, int] = {}


def cpu_seconds(pid: int) -> float:
    """The CPU time a process has used so far (Linux: /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def process(
    command: list[str], url: str, log: Path, env: dict[str, str] | None = None
) -> Iterator[str]:
    """A server process, once `url` answers; stopped (SIGTERM) at the end. Its output (the
    access log) goes to `log`, not to the table."""
    with log.open("ab") as output:
        server = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"{command} did not start: see {log}")
            time.sleep(0.1)
        SERVER_PIDS[url.rsplit("/", 1)[0]] = server.pid
        yield url.rsplit("/", 1)[0]
    finally:
        server.terminate()
        server.wait(timeout=30)


# The background jobs (scheduler, rollups, webhooks, triggers, pruning), each setting
# when on and when off: on, in a process beside the workers, as the image runs them; off,
# nowhere (`--no-jobs`).
BACKGROUND = {
    "DT_BACKEND_JOBS": ("process", "off"),
}


def backend(
    database_url: str,
    data_dir: Path,
    *,
    workers: int,
    background: bool,
    settings: dict[str, str] | None = None,
    nice: int = 0,
) -> AbstractContextManager[str]:
    """The backend as the image runs it; background work on or off; other `settings`;
    `nice`: its processes' niceness above the load generator's."""
    port = free_port()
    env = os.environ | {
        "DT_DATABASE_URL": database_url,
        "DT_ENVIRONMENT": "production",
        "DT_JWT_SECRET_KEY": SECRET,
        "DT_DEFAULT_USER_PASS": PASSWORD,
        "DT_DATA_DIR": str(data_dir),
    }
    env |= {name: on if background else off for name, (on, off) in BACKGROUND.items()}
    env["DT_BACKEND_TIMING_STAMPS"] = "true"
    env |= settings or {}
    command = [sys.executable, "-m", "dtbase", "serve", "backend", "--port", str(port)]
    if nice:
        command = ["nice", "-n", str(nice), *command]
    command += ["--workers", str(workers)]
    return process(command, f"http://127.0.0.1:{port}/health", data_dir / "backend.log", env)


def load_week(base_url: str, password: str = PASSWORD) -> None:
    with Client.logged_in(base_url, EMAIL, password) as client:
        client.sensors.insert_sensor_type(
            "Load sensor", [{"name": MEASURE, "units": "C", "datatype": "float"}]
        )
        minutes = DAYS * 24 * 60
        stamps = [T0 + index * MINUTE for index in range(minutes)]
        for number, uid in enumerate(SENSORS):
            client.sensors.insert_sensor("Load sensor", uid)
            values = [20.0 + number + (index % 1440) / 1440 for index in range(minutes)]
            for start in range(0, minutes, 5040):
                client.sensors.insert_sensor_readings(
                    MEASURE, uid, values[start : start + 5040], stamps[start : start + 5040]
                )


# The workload, and the load generator that sends it

PATHS = {
    "read-day": "/sensor/sensor-readings",
    "insert-100": "/sensor/insert-sensor-readings",
    "list-sensors": "/sensor/list-sensors",
}
# A request not answered within this long is a transport error (as httpx's timeout was).
TIMEOUT = 60.0
# Clients per generator process, unless `--generator-processes` says otherwise.
CLIENTS_PER_PROCESS = 8


def body_of(name: str, rng: random.Random, slot: int) -> bytes:
    """The JSON body of operation `name`; an insert writes slot `slot`."""
    if name == "read-day":
        start = T0 + timedelta(days=rng.randrange(DAYS))
        return orjson.dumps(
            {
                "unique_identifier": rng.choice(SENSORS),
                "measure_name": MEASURE,
                "dt_from": start.isoformat(),
                "dt_to": (start + timedelta(days=1) - MINUTE).isoformat(),
            }
        )
    if name == "insert-100":
        uid, first = slot_place(slot)
        minutes = range(first, first + INSERT_SIZE)
        return orjson.dumps(
            {
                "unique_identifier": uid,
                "measure_name": MEASURE,
                "readings": [written_value(minute) for minute in minutes],
                "timestamps": [(WRITES_FROM + minute * MINUTE).isoformat() for minute in minutes],
            }
        )
    return b"{}"


def written_value(minute: int) -> float:
    return minute / 8  # exact in binary, so it reads back equal


def mixed(rng: random.Random) -> str:
    return rng.choices([name for name, _ in MIX], weights=[w for _, w in MIX])[0]


class LoadClient:
    """One client: a kept-alive connection, one request at a time (the next is sent when
    the last is answered). A plain socket, the answers parsed by httptools (uvicorn's
    parser): about a tenth of httpx's CPU per request (docs/performance.md), so that the
    clients do not wait for the generator."""

    def __init__(
        self, address: tuple[str, int], token: str, number: int, slots: Iterator[int]
    ) -> None:
        self.address = address
        self.head = (
            f"Host: {address[0]}:{address[1]}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\n"
        )
        self.rng = random.Random(number)  # noqa: S311 (a workload, not a secret)
        self.slots = slots  # for its inserts: none shared with another client
        self.last_slot = -1
        self.socket: socket.socket | None = None
        # The request in flight, and what is known of its answer so far.
        self.name = ""
        self.slot: int | None = None
        self.sent = self.written = self.headers_read = self.answered = 0.0
        self.headers: dict[bytes, bytes] = {}
        self.body: list[bytes] = []
        self.parser = httptools.HttpResponseParser(self)

    def connect(self) -> socket.socket:
        self.socket = socket.create_connection(self.address, timeout=TIMEOUT)
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self.socket

    def choose(self) -> None:
        self.name = mixed(self.rng)
        self.slot = next(self.slots) if self.name == "insert-100" else None
        if self.slot is not None:
            self.last_slot = self.slot

    def send(self) -> None:
        """The chosen request, on the connection (sent in one write: no delay for Nagle)."""
        assert self.socket is not None
        body = body_of(self.name, self.rng, self.slot or 0)
        head = f"POST {PATHS[self.name]} HTTP/1.1\r\n{self.head}Content-Length: {len(body)}\r\n\r\n"
        self.headers, self.body, self.answered = {}, [], 0.0
        self.parser = httptools.HttpResponseParser(self)
        self.sent = time.monotonic()
        self.socket.sendall(head.encode() + body)
        self.written = time.monotonic()

    def receive(self) -> bool:
        """What the connection has of the answer; whether the answer is complete."""
        assert self.socket is not None
        data = self.socket.recv(1 << 18)
        if not data:
            raise ConnectionResetError("the server closed the connection")
        self.parser.feed_data(data)
        return self.answered > 0

    def close(self) -> None:
        if self.socket is not None:
            self.socket.close()
        self.socket = None

    # httptools' callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.lower()] = value

    def on_headers_complete(self) -> None:
        self.headers_read = time.monotonic()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.answered = time.monotonic()

    def note(self, tally: Tally, acknowledged: list[tuple[str, int]]) -> None:
        """The answered request in `tally`; an acknowledged insert in `acknowledged`."""
        name, status = self.name, self.parser.get_status_code()
        tally.latencies[name].append(self.answered - self.sent)
        timing = self.headers.get(b"server-timing")
        if timing is not None:  # else not the app's answer
            tally.server[name].append(float(timing.partition(b"dur=")[2]) / 1000)
        stamps = self.headers.get(b"dtbase-stamps")
        if stamps is not None:
            tally.parts[name].append(
                Parts.of(stamps.decode(), self.sent, self.written, self.headers_read)
            )
        if 200 <= status < 300:
            if self.slot is not None:
                acknowledged.append(slot_place(self.slot))
        else:
            tally.non_2xx[name] += 1
            text = b"".join(self.body)[:200].decode(errors="replace")
            tally.failures.setdefault(str(status), f"{name}: {text}")


def run_clients(
    clients: list[LoadClient], until: float, tally: Tally, acknowledged: list[tuple[str, int]]
) -> None:
    """Each client sends requests until `until`, the next when the last is answered, on
    its kept-alive connection; one thread waits for every answer (epoll)."""
    with selectors.DefaultSelector() as selector:

        def lost(client: LoadClient, error: Exception) -> None:
            tally.transport_errors[client.name] += 1
            tally.failures.setdefault(type(error).__name__, f"{client.name}: {error!r}")
            if client.socket is not None:
                selector.unregister(client.socket)
            client.close()

        def next_request(client: LoadClient) -> None:
            """The client's next request (on a new connection if it has none); after
            `until`, none: its connection is kept for the next run."""
            while time.monotonic() < until:
                client.choose()
                try:
                    if client.socket is None:
                        selector.register(client.connect(), selectors.EVENT_READ, client)
                    client.send()
                    return
                except OSError as error:
                    lost(client, error)
            if client.socket is not None:
                selector.unregister(client.socket)

        for client in clients:
            if client.socket is not None:
                selector.register(client.socket, selectors.EVENT_READ, client)
            next_request(client)
        while selector.get_map():
            for key, _ in selector.select(timeout=1):
                client = key.data
                try:
                    if not client.receive():
                        continue
                except (OSError, httptools.HttpParserError) as error:
                    lost(client, error)
                else:
                    client.note(tally, acknowledged)
                    if not client.parser.should_keep_alive():
                        selector.unregister(client.socket)
                        client.close()
                next_request(client)
            late = time.monotonic() - TIMEOUT
            for client in clients:
                if client.socket is not None and not client.answered and client.sent < late:
                    lost(client, TimeoutError(f"no answer within {TIMEOUT:.0f} s"))
                    next_request(client)


def generate(
    address: tuple[str, int],
    token: str,
    numbers: range,
    clients: int,
    first_slot: int,
    seconds: float,
    ready: BarrierType,
    results: Queue[tuple[Tally, list[tuple[str, int]], int]],
) -> None:
    """A generator process: its clients (`numbers` of `clients`), warmed up for a second
    (connections, caches, the first plans), then measured for `seconds` once every
    process is ready. Client n inserts into slots first_slot + n + k * clients."""
    load = [
        LoadClient(address, token, number, itertools.count(first_slot + number, clients))
        for number in numbers
    ]
    acknowledged: list[tuple[str, int]] = []
    run_clients(load, time.monotonic() + 1, Tally(), acknowledged)
    ready.wait()
    tally = Tally()
    began, cpu = time.monotonic(), time.process_time()
    run_clients(load, began + seconds, tally, acknowledged)
    tally.seconds = time.monotonic() - began
    tally.generator_cpu = time.process_time() - cpu
    for client in load:
        client.close()
    results.put((tally, acknowledged, max(client.last_slot for client in load)))


def drive(
    base_url: str, token: str, writes: Writes, *, clients: int, processes: int, seconds: float
) -> Tally:
    """`clients` clients in `processes` processes (forked), each client a closed loop on
    its own connection; their tallies summed, their acknowledged inserts in `writes`."""
    url = urlsplit(base_url)
    address = (url.hostname or "127.0.0.1", url.port or 80)
    processes = min(processes, clients)
    context = multiprocessing.get_context("fork")
    ready = context.Barrier(processes, timeout=TIMEOUT)
    results: Queue[tuple[Tally, list[tuple[str, int]], int]] = context.Queue()
    workers = [
        context.Process(
            target=generate,
            args=(address, token, range(k, clients, processes), clients, writes.next_slot),
            kwargs={"seconds": seconds, "ready": ready, "results": results},
        )
        for k in range(processes)
    ]
    for worker in workers:
        worker.start()
    tally = Tally()
    try:
        for _ in workers:
            part, acknowledged, last_slot = results.get(timeout=seconds + 3 * TIMEOUT)
            tally.add(part)
            writes.acknowledged += acknowledged
            writes.next_slot = max(writes.next_slot, last_slot + 1)
    finally:
        for worker in workers:
            worker.join(timeout=TIMEOUT)
            if worker.is_alive():
                worker.kill()
    return tally


def token_of(base_url: str, password: str = PASSWORD) -> str:
    response = httpx.post(
        f"{base_url}/auth/login", json={"email": EMAIL, "password": password}, timeout=30
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def run_floor(
    bare_url: str, base_url: str, seconds: float
) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Median-friendly latencies of single requests, the kinds taking turns in rounds; and
    the server's CPU time per request of each kind (steadier than times on a busy machine:
    it counts only while the server runs)."""
    token = token_of(base_url)
    kinds: dict[str, tuple[str, str, str, object]] = {
        "bare FastAPI, GET (async)": (bare_url, "GET", "/ping", None),
        "bare FastAPI, POST body (sync)": (bare_url, "POST", "/list", {}),
        "GET /health": (base_url, "GET", "/health", None),
        "GET /user/me": (base_url, "GET", "/user/me", None),
        "POST /sensor/list-sensors": (base_url, "POST", "/sensor/list-sensors", {}),
    }
    clients = {
        name: httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"})
        for name, (url, _, _, _) in kinds.items()
    }
    times: dict[str, list[float]] = defaultdict(list)
    cpu: dict[str, float] = defaultdict(float)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for name, (url, method, path, body) in kinds.items():
            http, pid = clients[name], SERVER_PIDS[url]
            used = cpu_seconds(pid)
            for _ in range(50):
                start = time.perf_counter()
                response = http.request(method, path, json=body)
                times[name].append(time.perf_counter() - start)
                assert response.is_success, (name, response.status_code, response.text)
            cpu[name] += cpu_seconds(pid) - used
    for http in clients.values():
        http.close()
    return times, {name: cpu[name] / len(times[name]) for name in times}


def check_writes(base_url: str, writes: Writes, password: str = PASSWORD) -> tuple[int, int]:
    """(acknowledged inserts, those not read back reading by reading)."""
    stored: dict[str, dict[datetime, float]] = {}
    with Client.logged_in(base_url, EMAIL, password) as client:
        last = max((first for _, first in writes.acknowledged), default=0) + INSERT_SIZE
        for uid in SENSORS:
            readings = client.sensors.sensor_readings(
                MEASURE, uid, WRITES_FROM, WRITES_FROM + last * MINUTE
            )
            stored[uid] = {r.timestamp: r.value for r in readings}  # type: ignore[misc]
    missing = 0
    for uid, first in writes.acknowledged:
        series = stored[uid]
        if any(
            series.get(WRITES_FROM + (first + k) * MINUTE) != written_value(first + k)
            for k in range(INSERT_SIZE)
        ):
            missing += 1
    return len(writes.acknowledged), missing


# Figures


def ms(value: float) -> str:
    return f"{value * 1000:.2f}"


def percentiles(times: list[float]) -> tuple[float, float, float]:
    if len(times) < 2:
        return (times[0],) * 3 if times else (float("nan"),) * 3
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98]


def print_floor(times: dict[str, list[float]], cpu: dict[str, float]) -> None:
    bare = "bare FastAPI, GET (async)"
    reference, cpu_reference = statistics.median(times[bare]), cpu[bare]
    print("\nFloor: one client, requests one after another (median, p99 in ms)")
    print(
        "| request | median | p99 | median / bare GET | server CPU per request ms | / bare GET |"
        "\n|---|---|---|---|---|---|"
    )
    for name, values in times.items():
        median, _, p99 = percentiles(values)
        print(
            f"| {name} | {ms(median)} | {ms(p99)} | {median / reference:.2f}x"
            f" | {ms(cpu[name])} | {cpu[name] / cpu_reference:.2f}x |"
        )


def print_mixed(title: str, tally: Tally) -> None:
    print(
        f"\n{title}: {tally.rate():.0f} requests/s over {tally.seconds:.0f} s"
        f" (the load generator used {tally.generator_cpu / tally.seconds:.2f} of a core,"
        f" {tally.generator_cpu / tally.requests() * 1e6:.0f} us of CPU per request)"
    )
    print(
        "| operation | requests | p50 ms | p95 ms | p99 ms | p99/p50 |"
        " server p50 ms | server p99 ms | non-2xx | transport errors |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    names = [name for name, _ in MIX] + ["all"]
    for name in names:
        if name == "all":
            values = [t for times in tally.latencies.values() for t in times]
            server = [t for times in tally.server.values() for t in times]
            non_2xx, errors = sum(tally.non_2xx.values()), sum(tally.transport_errors.values())
        else:
            values, server = tally.latencies[name], tally.server[name]
            non_2xx, errors = tally.non_2xx[name], tally.transport_errors[name]
        p50, p95, p99 = percentiles(values)
        server_p50, _, server_p99 = percentiles(server)
        print(
            f"| {name} | {len(values)} | {ms(p50)} | {ms(p95)} | {ms(p99)} | {p99 / p50:.1f} |"
            f" {ms(server_p50)} | {ms(server_p99)} | {non_2xx} | {errors} |"
        )
    for kind, example in tally.failures.items():
        print(f"Failed ({kind}): {example}")
    print_parts(tally)


def print_parts(tally: Tally) -> None:
    """Where each request's time went, by the client's trace and the backend's stamps."""
    print(
        "\n| operation, p50 / p99 ms | the client sending | the backend reading | in the app"
        " (of which GC) | the answer's headers to the client | share outside the app\n"
        "|---|---|---|---|---|---|"
    )
    names = [name for name, _ in MIX] + ["all"]
    for name in names:
        parts = (
            [p for values in tally.parts.values() for p in values]
            if name == "all"
            else tally.parts[name]
        )
        if not parts:
            continue
        cells = []
        for pick in ("sending", "reading", "inside", "collecting", "answering"):
            p50, _, p99 = percentiles([getattr(p, pick) for p in parts])
            cells.append(f"{ms(p50)} / {ms(p99)}")
        inside = sum(p.inside for p in parts)
        outside = sum(p.sending + p.reading + p.answering for p in parts)
        cells[2:4] = [f"{cells[2]} ({cells[3]})"]
        print(f"| {name} | {' | '.join(cells)} | {outside / (inside + outside):.0%} |")


def p99_of(tally: Tally, name: str) -> float:
    return percentiles(tally.latencies[name])[2]


def spread(tally: Tally, name: str) -> float:
    """p99 / p50 of an operation's latencies."""
    p50, _, p99 = percentiles(tally.latencies[name])
    return p99 / p50


# Issue 20's bounds on ratios taken within one run.
LEAST_THROUGHPUT = 1.1  # many clients / one client
MOST_SPREAD = 3.0  # p99 / p50 at many clients, each operation
MOST_BACKGROUND = 1.2  # p99 with the background jobs / without, each operation
MOST_FLOOR = 2.5  # list-sensors' median / the bare GET's


@dataclass(frozen=True)
class Target:
    figure: str
    measured: str
    met: bool


def targets(one: Tally, many: Tally, quiet: Tally, clients: int) -> list[Target]:
    """Issue 20's targets for one number of workers: the 1-client, the many-client and
    the many-client-without-background runs."""
    rate = many.rate() / one.rate()
    rows = [
        Target(
            f"throughput, {clients} clients / 1 client (at least {LEAST_THROUGHPUT}x)",
            f"{rate:.2f}x",
            rate >= LEAST_THROUGHPUT,
        )
    ]
    for name, _ in MIX:
        ratio = spread(many, name)
        rows.append(
            Target(
                f"p99/p50 at {clients} clients, {name} (at most {MOST_SPREAD:.0f}x)",
                f"{ratio:.1f}x",
                ratio <= MOST_SPREAD,
            )
        )
    for name, _ in MIX:
        ratio = p99_of(many, name) / p99_of(quiet, name)
        rows.append(
            Target(
                f"p99 background on / off, {name} (at most {MOST_BACKGROUND}x)",
                f"{ratio:.2f}x",
                ratio <= MOST_BACKGROUND,
            )
        )
    runs = (one, many, quiet)
    non_2xx = sum(sum(tally.non_2xx.values()) for tally in runs)
    errors = sum(sum(tally.transport_errors.values()) for tally in runs)
    rows.append(Target("answers other than 2xx, all runs (none)", str(non_2xx), non_2xx == 0))
    rows.append(Target("transport errors, all runs (none)", str(errors), errors == 0))
    return rows


def floor_target(times: dict[str, list[float]]) -> Target:
    ratio = statistics.median(times["POST /sensor/list-sensors"]) / statistics.median(
        times["bare FastAPI, GET (async)"]
    )
    return Target(
        f"floor: list-sensors' median / the bare GET's (at most {MOST_FLOOR}x)",
        f"{ratio:.2f}x",
        ratio <= MOST_FLOOR,
    )


def print_targets(
    by_workers: dict[str, list[Target]], floor: Target, writes: tuple[int, int] | None
) -> None:
    """Issue 20's figures in one table: a column per number of workers."""
    print("\nIssue 20's targets (ratios within this run)")
    print(f"| figure | {' | '.join(by_workers)} |\n|---|{'---|' * len(by_workers)}")
    for row in zip(*by_workers.values(), strict=True):
        cells = " | ".join(f"{t.measured} {'met' if t.met else 'MISSED'}" for t in row)
        print(f"| {row[0].figure} | {cells} |")
    print(f"| {floor.figure} | {floor.measured} {'met' if floor.met else 'MISSED'} (once) |")
    if writes is not None:
        acknowledged, missing = writes
        print(
            f"| acknowledged inserts not read back (none) | {missing} of {acknowledged}"
            f" {'met' if not missing else 'MISSED'} (all runs) |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20, help="per mixed figure")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument(
        "--generator-processes",
        type=int,
        help=f"load generator processes (default: one per {CLIENTS_PER_PROCESS} clients)",
    )
    parser.add_argument(
        "--workers", default=f"1,{len(os.sched_getaffinity(0))}", help="comma-separated"
    )
    parser.add_argument("--short", action="store_true", help="3 s per figure, 1 worker")
    parser.add_argument("--floor", action="store_true", help="only the floor (single requests)")
    parser.add_argument(
        "--backend-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a backend setting for every run, e.g. DT_BACKEND_THREADS=8 (repeatable)",
    )
    parser.add_argument(
        "--backend-nice",
        type=int,
        default=0,
        metavar="N",
        help="run the backend N nice levels below the load generator (to attribute the tail)",
    )
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return
    if args.short:
        args.seconds, args.workers = 3, "1"
    workers = sorted({int(n) for n in args.workers.split(",")})
    args.settings = dict(setting.split("=", 1) for setting in args.backend_setting)
    with tempfile.TemporaryDirectory(prefix="dtbase-load-") as folder:
        run(Path(folder), args, workers)


def run(folder: Path, args: argparse.Namespace, workers: list[int]) -> None:
    database = EmbeddedPostgres(folder / "pgdata", free_port())
    url = database.start()
    failures: list[str] = []
    try:
        migrate.upgrade(url)
        writes = Writes()
        bare_port = free_port()
        bare = process(
            [sys.executable, __file__, "--serve-bare", str(bare_port)],
            f"http://127.0.0.1:{bare_port}/ping",
            folder / "bare.log",
        )
        serve = functools.partial(
            backend, url, folder, settings=args.settings, nice=args.backend_nice
        )
        with bare as bare_url, serve(workers=1, background=True) as base_url:
            load_week(base_url)
            floor_times, floor_cpu = run_floor(bare_url, base_url, max(args.seconds, 3))
        print_floor(floor_times, floor_cpu)

        def mixed_run(base_url: str, clients: int) -> Tally:
            processes = args.generator_processes or math.ceil(clients / CLIENTS_PER_PROCESS)
            token = token_of(base_url)
            return drive(
                base_url, token, writes, clients=clients, processes=processes, seconds=args.seconds
            )

        by_workers: dict[str, list[Target]] = {}
        for count in [] if args.floor else workers:
            with serve(workers=count, background=True) as base_url:
                one = mixed_run(base_url, clients=1)
                many = mixed_run(base_url, clients=args.clients)
            with serve(workers=count, background=False) as base_url:
                quiet = mixed_run(base_url, clients=args.clients)
            label = f"{count} worker{'s' if count > 1 else ''}"
            print_mixed(f"\nMixed, {label}, 1 client", one)
            print_mixed(f"Mixed, {label}, {args.clients} clients", many)
            print_mixed(f"Mixed, {label}, {args.clients} clients, background jobs off", quiet)
            by_workers[label] = targets(one, many, quiet, args.clients)
            for tally in (one, many, quiet):
                if sum(tally.non_2xx.values()) or sum(tally.transport_errors.values()):
                    failures.append(f"{label}: non-2xx or transport errors")
        checked = None
        if writes.acknowledged:
            with backend(url, folder, workers=1, background=False) as base_url:
                checked = check_writes(base_url, writes)
            if checked[1]:
                failures.append(f"{checked[1]} acknowledged inserts lost")
        print_targets(by_workers, floor_target(floor_times), checked)
    finally:
        database.stop()
    if failures:
        sys.exit("FAILED: " + "; ".join(failures))


if __name__ == "__main__":
    main()
