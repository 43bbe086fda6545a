"""Time series benchmark (issue 4): ingest, reads, downsampling and memory of the backend.

Starts its own embedded PostgreSQL and a backend process, loads readings through the API
with httpx, and prints one table: each figure beside its reference measured in the same
run on the same table (direct COPY; direct psycopg fetch plus JSON encoding).

    .venv/bin/python bench/readings.py [--readings 500000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg

from dtbase.backend import migrate
from dtbase.devdb import EmbeddedPostgres, free_port

PASSWORD = "bench-password-long-enough"
SECRET = "a-bench-secret-that-is-long-enough-for-hs256-and-even-for-hs512-keys!!"
T0 = datetime(2020, 1, 1, tzinfo=UTC)


def serve(database_url: str, port: int, data_dir: str) -> None:
    """The backend process (run by the benchmark as `readings.py --serve`)."""
    import uvicorn
    from pydantic import SecretStr

    from dtbase.backend.app import create_app
    from dtbase.core.settings import BackendSettings

    settings = BackendSettings(
        environment="production",
        jwt_secret_key=SecretStr(SECRET),
        default_user_pass=SecretStr(PASSWORD),
        data_dir=Path(data_dir),
        scheduler_enabled=False,
    )
    app = create_app(settings, database_url=database_url)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def rss_mib(pid: int, key: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed(action: Callable[[], Any], repeat: int) -> float:
    """Median seconds of `repeat` runs, after one warm-up."""
    action()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def stamps(start: int, count: int) -> list[datetime]:
    return [T0 + timedelta(seconds=start + index) for index in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=500_000, help="size of the big series")
    parser.add_argument("--ingest", type=int, default=100_000, help="readings per ingest test")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--serve", nargs=3, metavar=("URL", "PORT", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]), args.serve[2])
        return
    with tempfile.TemporaryDirectory(prefix="dtbase-bench-") as folder:
        run(Path(folder), args)


def run(folder: Path, args: argparse.Namespace) -> None:
    database = EmbeddedPostgres(folder / "pgdata", free_port())
    url = database.start()
    migrate.upgrade(url)
    port = free_port()
    backend = subprocess.Popen(
        [sys.executable, __file__, "--serve", url, str(port), str(folder / "data")],
    )
    try:
        base = f"http://127.0.0.1:{port}"
        http = wait_and_login(base)
        rows = measure(http, backend.pid, url.replace("postgresql+psycopg", "postgresql"), args)
        print_table(rows, args)
    finally:
        backend.terminate()
        backend.wait(timeout=30)
        database.stop()


def wait_and_login(base: str) -> httpx.Client:
    http = httpx.Client(base_url=base, timeout=600)
    deadline = time.monotonic() + 60
    while True:
        try:
            http.get("/docs")
            break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    from dtbase.core.settings import DEFAULT_USER_EMAIL

    response = http.post("/auth/login", json={"email": DEFAULT_USER_EMAIL, "password": PASSWORD})
    response.raise_for_status()
    http.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    return http


def setup(http: httpx.Client) -> None:
    measures = [{"name": "temperature", "units": "K", "datatype": "float"}]
    check(http.post("/sensor/insert-sensor-type", json={"name": "T", "measures": measures}))
    for uid in ("ingest-1k", "ingest-10k", "big", "copy"):
        check(http.post("/sensor/insert-sensor", json={"type_name": "T", "unique_identifier": uid}))


def check(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 300:
        raise RuntimeError(f"{response.status_code}: {response.text[:300]}")
    return response


def ingest_rate(http: httpx.Client, uid: str, total: int, batch: int) -> float:
    payloads = []
    for start in range(0, total, batch):
        count = min(batch, total - start)
        body = {
            "measure_name": "temperature",
            "unique_identifier": uid,
            "readings": [290.0 + (start + i) % 1000 / 7 for i in range(count)],
            "timestamps": [s.isoformat() for s in stamps(start, count)],
        }
        payloads.append(orjson.dumps(body))
    begin = time.perf_counter()
    for payload in payloads:
        check(
            http.post(
                "/sensor/insert-sensor-readings",
                content=payload,
                headers={"Content-Type": "application/json"},
            )
        )
    return total / (time.perf_counter() - begin)


def ids(dsn: str, uid: str) -> tuple[int, int]:
    with psycopg.connect(dsn) as connection:
        row = connection.execute(
            "SELECT s.id, m.id FROM sensor s, sensor_measure m WHERE s.unique_identifier = %s",
            (uid,),
        ).fetchone()
        assert row is not None
        return row[0], row[1]


def copy_rate(dsn: str, total: int) -> float:
    """Direct COPY (binary) of `total` readings into sensor_reading, one transaction."""
    sensor_id, measure_id = ids(dsn, "copy")
    rows = [
        (sensor_id, measure_id, stamp, 290.0 + i % 1000 / 7)
        for i, stamp in enumerate(stamps(0, total))
    ]
    with psycopg.connect(dsn) as connection:
        begin = time.perf_counter()
        with (
            connection.cursor() as cursor,
            cursor.copy(
                "COPY sensor_reading (sensor_id, measure_id, timestamp, value_float)"
                " FROM STDIN (FORMAT BINARY)"
            ) as copy,
        ):
            copy.set_types(["int4", "int4", "timestamptz", "float8"])
            for row in rows:
                copy.write_row(row)
        connection.commit()
        return total / (time.perf_counter() - begin)


def direct_fetch(dsn: str, sensor_id: int, measure_id: int, count: int) -> Callable[[], Any]:
    def fetch() -> bytes:
        with psycopg.connect(dsn, options="-c timezone=UTC") as connection:
            rows = connection.execute(
                'SELECT "timestamp", value_float FROM sensor_reading WHERE sensor_id = %s'
                ' AND measure_id = %s AND "timestamp" >= %s AND "timestamp" <= %s'
                ' ORDER BY "timestamp"',
                (sensor_id, measure_id, T0, T0 + timedelta(seconds=count - 1)),
            ).fetchall()
            return orjson.dumps(
                [{"value": v, "timestamp": t} for t, v in rows], option=orjson.OPT_UTC_Z
            )

    return fetch


def api_read(http: httpx.Client, count: int, **extra: Any) -> Callable[[], Any]:
    body = {
        "measure_name": "temperature",
        "unique_identifier": "big",
        "dt_from": T0.isoformat(),
        "dt_to": (T0 + timedelta(seconds=count - 1)).isoformat(),
        **extra,
    }

    def read() -> bytes:
        return check(http.post("/sensor/sensor-readings", json=body)).content

    return read


def measure(
    http: httpx.Client, pid: int, dsn: str, args: argparse.Namespace
) -> list[tuple[str, str, str, str]]:
    setup(http)
    rows: list[tuple[str, str, str, str]] = []
    idle = rss_mib(pid)
    rate_1k = ingest_rate(http, "ingest-1k", args.ingest, 1_000)
    rate_10k = ingest_rate(http, "ingest-10k", args.ingest, 10_000)
    rate_copy = copy_rate(dsn, args.ingest)
    rows.append(
        (
            "ingest, 1,000 per request",
            f"{rate_1k:,.0f} /s",
            f"{rate_copy:,.0f} /s",
            f"{rate_1k / rate_copy:.2f}x",
        )
    )
    rows.append(
        (
            "ingest, 10,000 per request",
            f"{rate_10k:,.0f} /s",
            f"{rate_copy:,.0f} /s",
            f"{rate_10k / rate_copy:.2f}x",
        )
    )
    # The big series, loaded through the API.
    ingest_rate(http, "big", args.readings, 10_000)
    sensor_id, measure_id = ids(dsn, "big")
    for count in (10_000, 100_000):
        if count > args.readings:
            continue
        api = timed(api_read(http, count), args.repeat)
        ref = timed(direct_fetch(dsn, sensor_id, measure_id, count), args.repeat)
        rows.append(
            (
                f"sensor-readings, {count:,}",
                f"{api * 1000:.1f} ms",
                f"{ref * 1000:.1f} ms",
                f"{api / ref:.2f}x",
            )
        )
    full = timed(api_read(http, args.readings), 1)
    ref = timed(direct_fetch(dsn, sensor_id, measure_id, args.readings), 1)
    rows.append(
        (
            f"sensor-readings, {args.readings:,}",
            f"{full * 1000:.0f} ms",
            f"{ref * 1000:.0f} ms",
            f"{full / ref:.2f}x",
        )
    )
    down = timed(api_read(http, args.readings, max_points=1000), args.repeat)
    rows.append(
        (
            f"downsampled to 1,000 of {args.readings:,}",
            f"{down * 1000:.1f} ms",
            f"{ref * 1000:.0f} ms (full fetch)",
            f"{down / ref:.2f}x",
        )
    )
    rows.append(
        ("backend RSS idle / peak", f"{idle:.0f} MiB", f"{rss_mib(pid, 'VmHWM'):.0f} MiB peak", "")
    )
    return rows


def print_table(rows: list[tuple[str, str, str, str]], args: argparse.Namespace) -> None:
    header = ("figure", "dtbase API", "reference", "ratio")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    line = "| " + " | ".join(f"{{:<{w}}}" for w in widths) + " |"
    print(
        f"\nReadings benchmark: {args.readings:,} readings in the big series, "
        f"{args.ingest:,} per ingest test, median of {args.repeat}"
    )
    print(line.format(*header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line.format(*row))


if __name__ == "__main__":
    main()
