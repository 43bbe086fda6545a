"""Time series benchmark (issue 4): ingest, reads, downsampling and memory of the backend.

Starts its own embedded PostgreSQL and a backend process, loads readings through the API
with httpx, and prints one table: each figure beside its reference measured in the same
run on the same table (direct COPY; direct psycopg fetch plus JSON encoding).

    .venv/bin/python bench/readings.py [--readings 500000] [--repeat 5]
        [--ten-million 10000000] [--small-table 1000000] [--large-table 20000000]

The scale part loads the sensor of ten million readings and the filler that brings the
table from one to twenty million readings with INSERT ... SELECT generate_series in the
server (through the rollup trigger, like every insert); ingest through the API is
measured at the smaller size `--ingest`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg

from dtbase.backend import migrate
from dtbase.backend.sensors import rollups
from dtbase.devdb import EmbeddedPostgres, free_port

PASSWORD = "bench-password-long-enough"
SECRET = "a-bench-secret-that-is-long-enough-for-hs256-and-even-for-hs512-keys!!"
T0 = datetime(2020, 1, 1, tzinfo=UTC)
# The ingest figures and their references, in the order each round measures them.
INGEST_KINDS = ("ingest-1k", "ingest-10k", "copy", "copy-bare", "copy-1k", "copy-once")


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
        # The benchmark rolls up between its measurements instead (`settle`).
        rollup_refresh_seconds=0,
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
    parser.add_argument(
        "--ten-million",
        type=int,
        default=10_000_000,
        help="readings of the one sensor that downsampled reads go over",
    )
    parser.add_argument(
        "--small-table", type=int, default=1_000_000, help="table size of the first scale figures"
    )
    parser.add_argument(
        "--large-table",
        type=int,
        default=20_000_000,
        help="table size of the second scale figures (0: skip the scale figures)",
    )
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


def setup(http: httpx.Client, rounds: int) -> None:
    measures = [{"name": "temperature", "units": "K", "datatype": "float"}]
    check(http.post("/sensor/insert-sensor-type", json={"name": "T", "measures": measures}))
    ingest = [f"{kind}-{r}" for r in range(rounds) for kind in INGEST_KINDS]
    for uid in ("big", *ingest):
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


def settle(dsn: str) -> float:
    """Do now the work ingest leaves for later, so that it does not land in the next
    figure's time: roll up the new readings (the backend's refresher is off here) and
    VACUUM ANALYZE them (autovacuum would). Returns the seconds the rollups took."""
    with psycopg.connect(dsn, autocommit=True) as connection:
        begin = time.perf_counter()
        with psycopg.connect(dsn, options="-c timezone=UTC") as rolling:
            rollups.refresh_all(rolling)
        elapsed = time.perf_counter() - begin
        connection.execute("VACUUM ANALYZE sensor_reading")
    return elapsed


def ids(dsn: str, uid: str) -> tuple[int, int]:
    with psycopg.connect(dsn) as connection:
        row = connection.execute(
            "SELECT s.id, m.id FROM sensor s, sensor_measure m WHERE s.unique_identifier = %s",
            (uid,),
        ).fetchone()
        assert row is not None
        return row[0], row[1]


def copy_rate(
    dsn: str,
    uid: str,
    total: int,
    *,
    trigger: bool = True,
    batch: int | None = None,
    keys_once: bool = False,
) -> float:
    """Direct COPY (binary) of `total` readings into sensor_reading, in one transaction or
    one per `batch` readings. With `trigger=False` the rollup trigger is off (into a sensor
    deleted afterwards). With `keys_once`, the foreign keys are checked once per
    transaction as the API does (`timeseries.foreign_keys`): parents locked, then replica
    mode for the COPY."""
    sensor_id, measure_id = ids(dsn, uid)
    rows = [
        (sensor_id, measure_id, stamp, 290.0 + i % 1000 / 7)
        for i, stamp in enumerate(stamps(0, total))
    ]
    with psycopg.connect(dsn) as connection:
        if not trigger:
            connection.execute(
                "ALTER TABLE sensor_reading DISABLE TRIGGER sensor_reading_rollup_insert"
            )
        begin = time.perf_counter()
        step = batch or total
        for start in range(0, total, step):
            if keys_once:
                connection.execute(
                    "SELECT FROM sensor s, sensor_measure m WHERE s.id = %s AND m.id = %s"
                    " FOR KEY SHARE",
                    (sensor_id, measure_id),
                )
                connection.execute("SET LOCAL session_replication_role = replica")
            with (
                connection.cursor() as cursor,
                cursor.copy(
                    "COPY sensor_reading (sensor_id, measure_id, timestamp, value_float)"
                    " FROM STDIN (FORMAT BINARY)"
                ) as copy,
            ):
                copy.set_types(["int4", "int4", "timestamptz", "float8"])
                for row in rows[start : start + step]:
                    copy.write_row(row)
            connection.commit()
        rate = total / (time.perf_counter() - begin)
    if not trigger:
        with psycopg.connect(dsn) as connection:
            # ALWAYS, as the migrations leave it: the API's ingest writes in replica mode.
            connection.execute(
                "ALTER TABLE sensor_reading ENABLE ALWAYS TRIGGER sensor_reading_rollup_insert"
            )
            # Not kept: these readings have no rollups.
            connection.execute("DELETE FROM sensor WHERE id = %s", (sensor_id,))
    return rate


def server_insert_rate(dsn: str, total: int, *, trigger: bool) -> float:
    """INSERT ... SELECT generate_series of `total` readings in the server (no client
    cost, so the trigger's share shows), rolled back."""
    sensor_id, measure_id = ids(dsn, "copy-0")
    with psycopg.connect(dsn) as connection:
        if not trigger:
            connection.execute(
                "ALTER TABLE sensor_reading DISABLE TRIGGER sensor_reading_rollup_insert"
            )
        begin = time.perf_counter()
        connection.execute(
            'INSERT INTO sensor_reading (sensor_id, measure_id, "timestamp", value_float)'
            " SELECT %s, %s, %s::timestamptz + i * interval '1 second', i / 7.0"
            " FROM generate_series(1, %s) AS i",
            (sensor_id, measure_id, T0 + timedelta(days=400), total),
        )
        elapsed = time.perf_counter() - begin
        connection.rollback()
    return total / elapsed


def direct_fetch(dsn: str, sensor_id: int, measure_id: int, count: int) -> Callable[[], Any]:
    def fetch() -> bytes:
        with psycopg.connect(dsn, options="-c timezone=UTC") as connection:
            rows = connection.execute(
                'SELECT "timestamp", value_float FROM sensor_reading WHERE sensor_id = %s'
                ' AND measure_id = %s AND "timestamp" >= %s AND "timestamp" <= %s'
                ' ORDER BY "timestamp"',
                (sensor_id, measure_id, T0, T0 + timedelta(seconds=count - 1)),
                binary=True,
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


Row = tuple[str, str, str, str]


def measure(http: httpx.Client, pid: int, dsn: str, args: argparse.Namespace) -> list[Row]:
    setup(http, args.repeat)
    rows: list[Row] = []
    idle = rss_mib(pid)
    # Rounds of each ingest and its references in turn, each into a fresh sensor: the
    # medians are less at the mercy of one slow moment of a shared machine.
    rates: dict[str, list[float]] = {kind: [] for kind in INGEST_KINDS}
    rollup_seconds: list[float] = []
    for r in range(args.repeat):
        settle(dsn)
        rates["ingest-1k"].append(ingest_rate(http, f"ingest-1k-{r}", args.ingest, 1_000))
        rollup_seconds.append(settle(dsn))
        rates["ingest-10k"].append(ingest_rate(http, f"ingest-10k-{r}", args.ingest, 10_000))
        settle(dsn)
        rates["copy"].append(copy_rate(dsn, f"copy-{r}", args.ingest))
        settle(dsn)
        rates["copy-bare"].append(copy_rate(dsn, f"copy-bare-{r}", args.ingest, trigger=False))
        settle(dsn)
        rates["copy-1k"].append(copy_rate(dsn, f"copy-1k-{r}", args.ingest, batch=1_000))
        settle(dsn)
        rates["copy-once"].append(copy_rate(dsn, f"copy-once-{r}", args.ingest, keys_once=True))
    settle(dsn)
    rate_1k, rate_10k, rate_copy, rate_bare, rate_copy_1k, rate_once = (
        statistics.median(rates[kind]) for kind in INGEST_KINDS
    )
    rows.append(ratio_row("ingest, 1,000 per request", rate_1k, rate_copy, "/s"))
    # What a transaction of 1,000 costs whoever writes it: a fairer yardstick for small
    # requests, shown beside the (one COPY of everything).
    rows.append(
        ratio_row(
            "ingest, 1,000 per request / COPY in transactions of 1,000",
            rate_1k,
            rate_copy_1k,
            "/s",
        )
    )
    rows.append(ratio_row("ingest, 10,000 per request", rate_10k, rate_copy, "/s"))
    # The API checks foreign keys once per request, not once per row: the same done to
    # the direct COPY shows how much of the gain is that, and what the API itself costs.
    rows.append(
        ratio_row(
            "direct COPY, foreign keys checked once / once per row",
            rate_once,
            rate_copy,
            "/s",
        )
    )
    rows.append(
        ratio_row(
            "ingest, 10,000 per request / COPY with keys checked once",
            rate_10k,
            rate_once,
            "/s",
        )
    )
    rows.append(
        ratio_row("direct COPY with the rollup trigger / without", rate_copy, rate_bare, "/s")
    )
    rolled_up = args.ingest / statistics.median(rollup_seconds)
    rows.append(
        ratio_row(
            "rolling up new readings (the refresher's work) / their ingest",
            rolled_up,
            rate_1k,
            "/s",
        )
    )
    server = [server_insert_rate(dsn, 500_000, trigger=on) for on in (True, False, True, False)]
    rows.append(
        ratio_row(
            "server-side INSERT of 500,000 with the trigger / without (best of 2)",
            max(server[0::2]),
            max(server[1::2]),
            "/s",
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
        rows.append(ratio_row(f"sensor-readings, {count:,}", api, ref, "ms"))
    full = timed(api_read(http, args.readings), 1)
    ref = timed(direct_fetch(dsn, sensor_id, measure_id, args.readings), 1)
    rows.append(ratio_row(f"sensor-readings, {args.readings:,}", full, ref, "ms"))
    down = timed(api_read(http, args.readings, max_points=1000), args.repeat)
    rows.append(
        (
            f"downsampled to 1,000 of {args.readings:,}",
            f"{down * 1000:.1f} ms",
            f"{ref * 1000:.0f} ms (full fetch)",
            f"{down / ref:.2f}x",
        )
    )
    if args.large_table:
        rows.extend(scale(http, pid, dsn, args))
    rows.append(
        ("backend RSS idle / peak", f"{idle:.0f} MiB", f"{rss_mib(pid, 'VmHWM'):.0f} MiB peak", "")
    )
    return rows


def ratio_row(name: str, value: float, reference: float, unit: str) -> Row:
    if unit == "ms":
        digits = 1 if value < 1 else 0
        shown = [f"{v * 1000:.{digits}f} ms" for v in (value, reference)]
    else:
        shown = [f"{v:,.0f} {unit}" for v in (value, reference)]
    return (name, shown[0], shown[1], f"{value / reference:.2f}x")


# Scale: the same figures with 1 million and 20 million readings in the table, and
# downsampled reads over one sensor's 10 million readings.

TEN_M_START = datetime(2021, 1, 1, tzinfo=UTC)


def table_size(dsn: str) -> int:
    with psycopg.connect(dsn) as connection:
        row = connection.execute("SELECT count(*) FROM sensor_reading").fetchone()
        return int(row[0]) if row else 0


def generate(dsn: str, uid: str, first: int, count: int, start: datetime = T0) -> None:
    """`count` readings of `uid`, one a second from `start` + `first` seconds, generated in
    the server (through the same trigger as any insert), a million per statement."""
    sensor_id, measure_id = ids(dsn, uid)
    with psycopg.connect(dsn) as connection:
        for low in range(first, first + count, 1_000_000):
            high = min(low + 1_000_000, first + count) - 1
            connection.execute(
                'INSERT INTO sensor_reading (sensor_id, measure_id, "timestamp", value_float)'
                " SELECT %s, %s, %s::timestamptz + i * interval '1 second',"
                " 290 + 10 * sin(i / 3600.0) + (i %% 7) / 10.0"
                " FROM generate_series(%s::bigint, %s::bigint) AS i",
                (sensor_id, measure_id, start, low, high),
            )
            connection.commit()


def fill_to(dsn: str, size: int, state: dict[str, int]) -> None:
    """Top the table up to `size` readings with the filler sensor's, then VACUUM ANALYZE
    it: figures taken while autovacuum works through the new rows would measure that."""
    missing = size - table_size(dsn)
    if missing > 0:
        generate(dsn, "filler", state["filler"], missing)
        state["filler"] += missing
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE sensor_reading")


def drop_ingest_sensors(dsn: str, rounds: int) -> None:
    """Delete the ingest figures' sensors with their readings, and compact the table: the
    first scale figures are then taken at `--small-table` rows (the issue's 1 million),
    not at whatever the ingest figures left."""
    uids = [f"{kind}-{r}" for r in range(rounds) for kind in INGEST_KINDS]
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("DELETE FROM sensor WHERE unique_identifier = ANY(%s)", (uids,))
        connection.execute("VACUUM FULL ANALYZE sensor_reading")


def scale_figures(
    http: httpx.Client, args: argparse.Namespace, uid: str
) -> tuple[float, float, float]:
    """Ingest rate through the API (10,000 per request), a 10,000 reading read and a
    downsampled read of the big series, at the table's current size."""
    rate = ingest_rate(http, uid, args.ingest, 10_000)
    read = timed(api_read(http, 10_000), args.repeat)
    down = timed(api_read(http, args.readings, max_points=1000), args.repeat)
    return rate, read, down


def raw_downsample(
    dsn: str, sensor_id: int, measure_id: int, start: datetime, end: datetime, width: timedelta
) -> list[tuple[Any, ...]]:
    """The downsampling of dtbase before rollups: date_bin over the raw readings."""
    with psycopg.connect(dsn, options="-c timezone=UTC") as connection:
        return connection.execute(
            'SELECT date_bin(%s, "timestamp", %s) AS b, avg(value_float), min(value_float),'
            " max(value_float), count(*) FROM sensor_reading WHERE sensor_id = %s"
            ' AND measure_id = %s AND "timestamp" >= %s AND "timestamp" <= %s'
            " GROUP BY b ORDER BY b",
            (width, datetime(1970, 1, 1, tzinfo=UTC), sensor_id, measure_id, start, end),
        ).fetchall()


def ten_million_windows(
    http: httpx.Client, dsn: str, args: argparse.Namespace
) -> list[tuple[str, float, float, int]]:
    """(window, API seconds, raw date_bin seconds, points) for windows over the 10M series,
    after checking that the API's buckets equal the raw computation's."""
    from dtbase.backend.sensors.readings import bucket_width

    span = timedelta(seconds=args.ten_million - 1)
    windows = {
        "whole": (TEN_M_START, TEN_M_START + span),
        "30 days": (TEN_M_START + timedelta(days=17, hours=3, minutes=7, seconds=11.5), None),
        "1 day": (TEN_M_START + timedelta(days=50, hours=5, minutes=13, seconds=1.25), None),
        "6 h 1 min": (TEN_M_START + timedelta(days=80, minutes=59, seconds=59.999), None),
    }
    lengths = {"30 days": timedelta(days=30), "1 day": timedelta(days=1)}
    lengths["6 h 1 min"] = timedelta(hours=6, minutes=1, seconds=3)
    sensor_id, measure_id = ids(dsn, "ten-m")
    found = []
    for name, (start, given_end) in windows.items():
        end = given_end or start + lengths[name]
        body = {
            "measure_name": "temperature",
            "unique_identifier": "ten-m",
            "dt_from": start.isoformat(),
            "dt_to": end.isoformat(),
            "max_points": 1000,
        }

        def read(body: dict[str, Any] = body) -> list[dict[str, Any]]:
            result: list[dict[str, Any]] = check(
                http.post("/sensor/sensor-readings", json=body)
            ).json()
            return result

        api = timed(read, args.repeat)
        width = bucket_width(dt_from=start, dt_to=end, max_points=1000, bucket_seconds=None)
        raw: list[tuple[Any, ...]] = []

        def reference(
            start: datetime = start,
            end: datetime = end,
            width: timedelta = width,
            raw: list[tuple[Any, ...]] = raw,
        ) -> None:
            raw[:] = raw_downsample(dsn, sensor_id, measure_id, start, end, width)

        ref = timed(reference, 1 if name == "whole" else args.repeat)
        got = read()
        assert len(got) <= 1000
        assert [(item["count"], item["min"], item["max"]) for item in got] == [
            (count, low, high) for _, _, low, high, count in raw
        ], name
        found.append((name, api, ref, len(got)))
    return found


def peak_rss_while(pid: int, action: Callable[[], Any]) -> float:
    """The backend's largest RSS sampled every 5 ms while `action` runs."""
    peak = rss_mib(pid)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_mib(pid))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        action()
    finally:
        done.set()
        sampler.join()
    return peak


def scale(http: httpx.Client, pid: int, dsn: str, args: argparse.Namespace) -> list[Row]:
    drop_ingest_sensors(dsn, args.repeat)
    for uid in ("scale-small", "scale-large", "ten-m", "filler"):
        check(http.post("/sensor/insert-sensor", json={"type_name": "T", "unique_identifier": uid}))
    state = {"filler": 0}
    fill_to(dsn, args.small_table, state)
    small_size = table_size(dsn)
    small = scale_figures(http, args, "scale-small")

    begin = time.perf_counter()
    generate(dsn, "ten-m", 0, args.ten_million, TEN_M_START)
    fill_to(dsn, args.large_table - args.ingest, state)
    load = time.perf_counter() - begin
    loaded = table_size(dsn)
    # The first downsampled read after the load: what the background refresher has not
    # rolled up yet, it rolls up.
    whole = {
        "measure_name": "temperature",
        "unique_identifier": "ten-m",
        "dt_from": TEN_M_START.isoformat(),
        "dt_to": (TEN_M_START + timedelta(seconds=args.ten_million)).isoformat(),
        "max_points": 1000,
    }
    begin = time.perf_counter()
    check(http.post("/sensor/sensor-readings", json=whole))
    first = time.perf_counter() - begin
    windows = ten_million_windows(http, dsn, args)
    large = scale_figures(http, args, "scale-large")
    large_size = table_size(dsn)

    million = {
        "measure_name": "temperature",
        "unique_identifier": "ten-m",
        "dt_from": TEN_M_START.isoformat(),
        "dt_to": (TEN_M_START + timedelta(seconds=999_999)).isoformat(),
    }
    before = rss_mib(pid)
    peak = peak_rss_while(pid, lambda: check(http.post("/sensor/sensor-readings", json=million)))

    ten = f"{args.ten_million / 1e6:g}M"
    rows: list[Row] = [
        (
            f"load {loaded - small_size:,} readings (server-side INSERT, trigger on)",
            f"{(loaded - small_size) / load:,.0f} /s",
            "",
            "",
        ),
        (f"first downsampled read of the {ten} series after its load", f"{first:.1f} s", "", ""),
    ]
    for name, api, ref, points in windows:
        rows.append(ratio_row(f"downsample {ten}, {name}, {points} points", api, ref, "ms"))
    worst = max(windows, key=lambda window: window[1])
    rows.append(ratio_row(f"downsample {ten}, worst window ({worst[0]})", worst[1], worst[2], "ms"))
    labels = ("ingest, 10,000 per request", "sensor-readings, 10,000", "downsampled big series")
    sizes = f"{small_size / 1e6:.1f}M rows -> {large_size / 1e6:.1f}M rows"
    for label, at_small, at_large in zip(labels, small, large, strict=True):
        unit = "/s" if label.startswith("ingest") else "ms"
        row = ratio_row(f"{label} ({sizes})", at_large, at_small, unit)
        rows.append((row[0], row[1], row[2] + f" at {small_size / 1e6:.1f}M", row[3]))
    rows.append(
        ("backend RSS serving 1M readings", f"{peak:.0f} MiB", f"{before:.0f} MiB before", "")
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
