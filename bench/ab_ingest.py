"""A/B benchmark of ingest requests: this checkout (B) against another one (A).

A change to the ingest path moves a request by a few percent, while single runs on the
2-core machine move by 10-20%. So both backends run at once, on one embedded PostgreSQL,
and take turns: rounds of requests to A and to B alternate, and the medians of the rounds
are compared. Printed: wall time per request and each backend's CPU time per request.

    git worktree add /tmp/before main
    .venv/bin/python bench/ab_ingest.py /tmp/before [--readings 1000] [--rounds 30]

Each backend is the checkout's own `bench/readings.py --serve` process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson

from dtbase.backend import migrate
from dtbase.core.settings import DEFAULT_USER_EMAIL
from dtbase.devdb import EmbeddedPostgres, free_port

HERE = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password-long-enough"  # as in readings.py, whose backend process is used
T0 = datetime(2020, 1, 1, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path, help="the checkout to compare with (A)")
    parser.add_argument("--readings", type=int, default=1_000, help="readings per request")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--requests", type=int, default=10, help="requests per round")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dtbase-ab-") as folder:
        run(Path(folder), args)


def run(folder: Path, args: argparse.Namespace) -> None:
    database = EmbeddedPostgres(folder / "pgdata", free_port())
    url = database.start()
    backends: list[subprocess.Popen[bytes]] = []
    try:
        migrate.upgrade(url)
        clients = []
        # One after the other: both would create the default user at once otherwise.
        for checkout in (args.other.resolve(), HERE):
            port = free_port()
            backends.append(serve(checkout, url, port, folder))
            clients.append(logged_in(f"http://127.0.0.1:{port}"))
        setup(clients[0])
        wall, cpu = measure(clients, backends, args)
    finally:
        for backend in backends:
            backend.terminate()
            backend.wait(timeout=30)
        database.stop()
    print(f"ingest, {args.readings:,} readings per request, median of {args.rounds} rounds")
    for name, (a, b) in (("wall", wall), ("backend CPU", cpu)):
        print(f"{name} per request: A {a * 1000:.2f} ms  B {b * 1000:.2f} ms  B/A {b / a:.3f}")


def serve(checkout: Path, url: str, port: int, folder: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, str(checkout / "bench" / "readings.py"), "--serve"]
    environment = {**os.environ, "PYTHONPATH": str(checkout)}
    backend = subprocess.Popen(
        [*command, url, str(port), str(folder / "data")], env=environment, cwd=checkout
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health")
            return backend
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def logged_in(base: str) -> httpx.Client:
    http = httpx.Client(base_url=base, timeout=120)
    login = http.post("/auth/login", json={"email": DEFAULT_USER_EMAIL, "password": PASSWORD})
    login.raise_for_status()
    http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
    http.headers["Content-Type"] = "application/json"
    return http


def setup(http: httpx.Client) -> None:
    measures = [{"name": "temperature", "units": "K", "datatype": "float"}]
    body = {"name": "T", "measures": measures}
    http.post("/sensor/insert-sensor-type", json=body).raise_for_status()
    for uid in ("A", "B"):
        body = {"type_name": "T", "unique_identifier": uid}
        http.post("/sensor/insert-sensor", json=body).raise_for_status()


def measure(
    clients: list[httpx.Client], backends: list[subprocess.Popen[bytes]], args: argparse.Namespace
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Median wall and backend CPU seconds per request of A and B, over alternating rounds
    (A first in odd rounds, B first in even ones; a warm-up round first)."""
    count = args.readings
    total = (args.rounds + 1) * args.requests
    bodies = [[payload(uid, index * count, count) for index in range(total)] for uid in "AB"]
    wall: list[list[float]] = [[], []]
    cpu: list[list[float]] = [[], []]
    sent = [0, 0]
    for round_number in range(args.rounds + 1):
        for side in (0, 1) if round_number % 2 else (1, 0):
            begin, cpu_begin = time.perf_counter(), cpu_seconds(backends[side].pid)
            for _ in range(args.requests):
                body = bodies[side][sent[side]]
                sent[side] += 1
                response = clients[side].post("/sensor/insert-sensor-readings", content=body)
                response.raise_for_status()
            if round_number:
                wall[side].append((time.perf_counter() - begin) / args.requests)
                cpu[side].append((cpu_seconds(backends[side].pid) - cpu_begin) / args.requests)
    medians = [statistics.median(times) for times in wall]
    cpus = [statistics.median(times) for times in cpu]
    return (medians[0], medians[1]), (cpus[0], cpus[1])


def payload(uid: str, start: int, count: int) -> bytes:
    return orjson.dumps(
        {
            "unique_identifier": uid,
            "measure_name": "temperature",
            "readings": [290.0 + (start + i) % 1000 / 7 for i in range(count)],
            "timestamps": [(T0 + timedelta(seconds=start + i)).isoformat() for i in range(count)],
        }
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
