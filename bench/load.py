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
* at the end, that every acknowledged insert is readable, reading by reading.

    .venv/bin/python bench/load.py [--seconds 20] [--workers 1,2] [--clients 32]
    .venv/bin/python bench/load.py --short      # a CI-size run: 3 s per figure, 1 worker
    .venv/bin/python bench/load.py --floor --seconds 10   # the floor alone
    .venv/bin/python bench/load.py --backend-setting DT_BACKEND_KEEP_ALIVE_SECONDS=5
    .venv/bin/python bench/load.py --backend-nice 10   # the load generator first

The load generator (asyncio, uvloop and httpx, in this process) shares the machine with
the backend and the database: on 2 cores, read the ratios, not the absolute figures.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import uvloop
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
    def of(cls, response: httpx.Response, sent: float) -> Parts | None:
        stamps = response.headers.get("dtbase-stamps")
        marks = response.request.extensions.get("marks", {})
        written = marks.get("http11.send_request_body.complete")
        read = marks.get("http11.receive_response_headers.complete")
        if stamps is None or written is None or read is None:
            return None
        arrival, answer, collecting = (float(part) for part in stamps.split())
        return cls(written - sent, arrival - written, answer - arrival, read - answer, collecting)


class TracedTransport(httpx.AsyncHTTPTransport):
    """Notes (in the request's `marks` extension) when each step of the request on its
    connection completed, on the monotonic clock (httpcore's `trace` extension)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        marks: dict[str, float] = {}

        async def trace(event: str, _info: object) -> None:
            if event.endswith(".complete"):
                marks[event] = time.monotonic()

        request.extensions["trace"] = trace
        request.extensions["marks"] = marks
        return await super().handle_async_request(request)


@dataclass
class Writes:
    """Inserts acknowledged with a 2xx: (sensor, first minute after WRITES_FROM, value base)."""

    next_slot: int = 0
    acknowledged: list[tuple[str, int]] = field(default_factory=list)

    def claim(self) -> int:
        self.next_slot += 1
        return self.next_slot - 1


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


def load_week(base_url: str) -> None:
    with Client.logged_in(base_url, EMAIL, PASSWORD) as client:
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


# The workload


Operation = Callable[[httpx.AsyncClient, random.Random], Awaitable[httpx.Response]]


def operations(writes: Writes) -> dict[str, Operation]:
    def read_day(http: httpx.AsyncClient, rng: random.Random) -> Awaitable[httpx.Response]:
        start = T0 + timedelta(days=rng.randrange(DAYS))
        body = {
            "unique_identifier": rng.choice(SENSORS),
            "measure_name": MEASURE,
            "dt_from": start.isoformat(),
            "dt_to": (start + timedelta(days=1) - MINUTE).isoformat(),
        }
        return http.post("/sensor/sensor-readings", json=body)

    async def insert(http: httpx.AsyncClient, _: random.Random) -> httpx.Response:
        slot = writes.claim()
        uid, first = SENSORS[slot % len(SENSORS)], (slot // len(SENSORS)) * INSERT_SIZE
        body = {
            "unique_identifier": uid,
            "measure_name": MEASURE,
            "readings": [written_value(first + k) for k in range(INSERT_SIZE)],
            "timestamps": [(WRITES_FROM + (first + k) * MINUTE).isoformat() for k in range(100)],
        }
        response = await http.post("/sensor/insert-sensor-readings", json=body)
        if response.is_success:
            writes.acknowledged.append((uid, first))
        return response

    def list_sensors(http: httpx.AsyncClient, _: random.Random) -> Awaitable[httpx.Response]:
        return http.post("/sensor/list-sensors", json={})

    return {"read-day": read_day, "insert-100": insert, "list-sensors": list_sensors}


def written_value(minute: int) -> float:
    return minute / 8  # exact in binary, so it reads back equal


async def drive(
    base_url: str,
    token: str,
    choose: Callable[[random.Random], str],
    ops: dict[str, Operation],
    *,
    clients: int,
    seconds: float,
) -> Tally:
    """`clients` clients, each sending its next request when its last is answered."""
    tally = Tally()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Bearer {token}"}
    transport = TracedTransport(limits=limits)
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, transport=transport, timeout=60
    ) as http:

        async def one_client(number: int) -> None:
            rng = random.Random(number)  # noqa: S311 (a workload, not a secret)
            while time.perf_counter() < deadline:
                name = choose(rng)
                start = time.perf_counter()
                sent = time.monotonic()
                try:
                    response = await ops[name](http, rng)
                except httpx.TransportError as error:
                    tally.transport_errors[name] += 1
                    tally.failures.setdefault(type(error).__name__, f"{name}: {error!r}")
                    continue
                tally.latencies[name].append(time.perf_counter() - start)
                parts = Parts.of(response, sent)
                if parts is not None:
                    tally.parts[name].append(parts)
                if "server-timing" in response.headers:  # else not the app's answer
                    tally.server[name].append(server_seconds(response))
                if not response.is_success:
                    tally.non_2xx[name] += 1
                    tally.failures.setdefault(
                        str(response.status_code), f"{name}: {response.text[:200]}"
                    )

        began, cpu = time.perf_counter(), time.process_time()
        deadline = began + seconds
        await asyncio.gather(*(one_client(number) for number in range(clients)))
        tally.seconds = time.perf_counter() - began
        tally.generator_cpu = time.process_time() - cpu
    return tally


def server_seconds(response: httpx.Response) -> float:
    """The backend's own time for the request, from its `Server-Timing: app;dur=<ms>`."""
    return float(response.headers["server-timing"].partition("dur=")[2]) / 1000


def mixed(rng: random.Random) -> str:
    return rng.choices([name for name, _ in MIX], weights=[w for _, w in MIX])[0]


def token_of(base_url: str) -> str:
    response = httpx.post(
        f"{base_url}/auth/login", json={"email": EMAIL, "password": PASSWORD}, timeout=30
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def run_mixed(base_url: str, writes: Writes, *, clients: int, seconds: float) -> Tally:
    token = token_of(base_url)
    ops = operations(writes)
    # A short warm-up: connections, caches, the first plans.
    uvloop.run(drive(base_url, token, mixed, ops, clients=clients, seconds=1))
    return uvloop.run(drive(base_url, token, mixed, ops, clients=clients, seconds=seconds))


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


def check_writes(base_url: str, writes: Writes) -> tuple[int, int]:
    """(acknowledged inserts, those not read back reading by reading)."""
    stored: dict[str, dict[datetime, float]] = {}
    with Client.logged_in(base_url, EMAIL, PASSWORD) as client:
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
        f" (the load generator used {tally.generator_cpu / tally.seconds:.2f} of a core)"
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20, help="per mixed figure")
    parser.add_argument("--clients", type=int, default=32)
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
            print_floor(*run_floor(bare_url, base_url, max(args.seconds, 3)))
        for count in [] if args.floor else workers:
            with serve(workers=count, background=True) as base_url:
                one = run_mixed(base_url, writes, clients=1, seconds=args.seconds)
                many = run_mixed(base_url, writes, clients=args.clients, seconds=args.seconds)
            with serve(workers=count, background=False) as base_url:
                quiet = run_mixed(base_url, writes, clients=args.clients, seconds=args.seconds)
            label = f"{count} worker{'s' if count > 1 else ''}"
            print_mixed(f"\nMixed, {label}, 1 client", one)
            print_mixed(f"Mixed, {label}, {args.clients} clients", many)
            print_mixed(f"Mixed, {label}, {args.clients} clients, background work off", quiet)
            print(
                f"\n{label}: throughput {args.clients} clients / 1 client:"
                f" {many.rate() / one.rate():.2f}x; p99 background on / off: "
                + ", ".join(f"{n} {p99_of(many, n) / p99_of(quiet, n):.2f}x" for n, _ in MIX)
            )
            for tally in (one, many, quiet):
                if sum(tally.non_2xx.values()) or sum(tally.transport_errors.values()):
                    failures.append(f"{label}: non-2xx or transport errors")
        if writes.acknowledged:
            with backend(url, folder, workers=1, background=False) as base_url:
                acknowledged, missing = check_writes(base_url, writes)
            print(f"\nAcknowledged inserts: {acknowledged}; not read back: {missing}")
            if missing:
                failures.append(f"{missing} acknowledged inserts lost")
    finally:
        database.stop()
    if failures:
        sys.exit("FAILED: " + "; ".join(failures))


if __name__ == "__main__":
    main()
