"""Chart benchmark (issue 6): the time-series page at 100,000 and 1,000,000 readings in
headless Chromium.

Starts its own embedded PostgreSQL, a backend process and the frontend (in this process),
loads one sensor's 1,000,000 readings (one every 30 seconds, about 11 months, with a daily
cycle and noise) straight into the database, and opens the time-series page in Debian's
Chromium through Playwright. For a range holding 100,000 and then all 1,000,000 readings
it measures, in the page:

- first chart: from the start of navigation to the chart drawn (the page fetches at most
  one point per pixel, downsampled by the backend);
- zoom: from a click on "Zoom in" to the new window fetched and drawn again.

The reference, in the same browser and run: uPlot drawing the same number of raw points
handed to it in the page (no fetch), and zooming into them (`setScale`).

    .venv/bin/python bench/charts.py [--readings 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import psycopg
from playwright.sync_api import Browser, Page, sync_playwright
from pydantic import SecretStr

from dtbase.backend import migrate
from dtbase.core.settings import DEFAULT_USER_EMAIL, FrontendSettings
from dtbase.devdb import EmbeddedPostgres, free_port
from frontend import create_app
from frontend.server import FrontendServer

PASSWORD = "bench-password-long-enough"  # as in readings.py, whose backend process is used
READINGS = Path(__file__).with_name("readings.py")
FRONT_SECRET = "a-bench-frontend-secret-long-enough-to-sign-sessions"
T0 = datetime(2020, 1, 1, tzinfo=UTC)
STEP_SECONDS = 30
SIZES = (100_000, 1_000_000)

# Debian's Chromium with the browser tests' flags (tests/browser/conftest.py).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
CHART = "[data-testid='chart-temperature']"

# Resolves with performance.now() once the chart is drawn (checked every frame).
FIRST_CHART = """(selector) => {
  const chart = document.querySelector(selector);
  return chart && chart.dataset.state === "ready" && chart.querySelector("canvas")
    ? performance.now() : false;
}"""

# Where the first chart's time went: the page itself, and the chart's data request.
BREAKDOWN = """() => {
  const [navigation] = performance.getEntriesByType("navigation");
  const data = performance.getEntriesByType("resource")
    .filter((entry) => entry.name.includes("/timeseries/data"));
  return {
    page: navigation.domContentLoadedEventEnd,
    data: data.length ? data[0].responseEnd - data[0].startTime : NaN,
  };
}"""

# Clicks "Zoom in" and resolves with the milliseconds until the new window is drawn.
ZOOM = """async (selector) => {
  const chart = document.querySelector(selector);
  const button = chart.closest(".chart-card").querySelector("[data-action='zoom-in']");
  const start = performance.now();
  button.click();
  while (chart.dataset.state !== "ready") {
    await new Promise((resolve) => requestAnimationFrame(resolve));
  }
  await new Promise((resolve) => requestAnimationFrame(resolve));
  return { ms: performance.now() - start, points: Number(chart.dataset.points) };
}"""

# The reference: uPlot alone, drawing `count` raw points it is handed, then zooming into
# the middle half of them. The data are made before the clock starts.
RAW_UPLOT = """async ({ count, width }) => {
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  const t = new Float64Array(count);
  const y = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    t[i] = 1577836800 + i * 30;
    y[i] = 290 + 10 * Math.sin((2 * Math.PI * i * 30) / 86400) + ((i * 7919) % 100) / 50;
  }
  const host = document.createElement("div");
  document.body.append(host);
  await frame();
  const options = {
    width, height: 320,
    series: [{}, { label: "raw", stroke: "#0f766e", width: 1.5, points: { show: false } }],
    scales: { x: { time: true } },
  };
  const start = performance.now();
  const plot = new uPlot(options, [t, y], host);
  await frame();
  const drawn = performance.now() - start;
  const span = t[count - 1] - t[0];
  const zoomStart = performance.now();
  plot.setScale("x", { min: t[0] + span / 4, max: t[0] + (3 * span) / 4 });
  await frame();
  const zoomed = performance.now() - zoomStart;
  plot.destroy();
  host.remove();
  return { drawn, zoomed };
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--readings", type=int, default=SIZES[-1], help="readings loaded")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit("The chart benchmark needs Debian's Chromium: apt-get install -y chromium")
    with tempfile.TemporaryDirectory(prefix="dtbase-bench-charts-") as folder:
        run(Path(folder), args)


def run(folder: Path, args: argparse.Namespace) -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    database = EmbeddedPostgres(folder / "pgdata", free_port())
    url = database.start()
    migrate.upgrade(url)
    port = free_port()
    backend = subprocess.Popen(
        # The readings benchmark's backend process, with the same password.
        [sys.executable, str(READINGS), "--serve", url, str(port), str(folder / "data")]
    )
    frontend: FrontendServer | None = None
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(base)
        setup(base)
        began = time.perf_counter()
        generate(url.replace("postgresql+psycopg", "postgresql"), args.readings)
        loaded = time.perf_counter() - began
        settings = FrontendSettings(
            backend_url=base,
            front_secret_key=SecretStr(FRONT_SECRET),
            environment="production",
        )
        frontend = FrontendServer(create_app(settings)).start()
        rows = measure(frontend.url, args)
        print_table(rows, args, loaded)
    finally:
        if frontend is not None:
            frontend.stop()
        backend.terminate()
        backend.wait(timeout=30)
        database.stop()


def wait_for(base: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{base}/docs", timeout=5)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def setup(base: str) -> None:
    with httpx.Client(base_url=base, timeout=60) as http:
        login = http.post("/auth/login", json={"email": DEFAULT_USER_EMAIL, "password": PASSWORD})
        login.raise_for_status()
        http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        measures = [{"name": "temperature", "units": "K", "datatype": "float"}]
        for path, body in (
            ("/sensor/insert-sensor-type", {"name": "bench", "measures": measures}),
            ("/sensor/insert-sensor", {"type_name": "bench", "unique_identifier": "s-1"}),
        ):
            response = http.post(path, json=body)
            if response.status_code >= 300:
                raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")


def generate(dsn: str, count: int) -> None:
    """`count` readings of s-1, one every 30 s from T0, made in the server through the same
    trigger as any insert (its rollups feed the downsampling)."""
    with psycopg.connect(dsn) as connection:
        row = connection.execute(
            "SELECT s.id, m.id FROM sensor s, sensor_measure m WHERE s.unique_identifier = 's-1'"
        ).fetchone()
        assert row is not None
        connection.execute(
            'INSERT INTO sensor_reading (sensor_id, measure_id, "timestamp", value_float)'
            " SELECT %s, %s, %s::timestamptz + i * %s * interval '1 second',"
            " 290 + 10 * sin(2 * pi() * i * %s / 86400.0) + ((i * 7919) %% 100) / 50.0"
            " FROM generate_series(0::bigint, %s - 1) AS i",
            (row[0], row[1], T0, STEP_SECONDS, STEP_SECONDS, count),
        )
        connection.commit()


Row = tuple[str, str, str, str]


def measure(frontend_url: str, args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = logged_in_page(browser, frontend_url)
            for size in (s for s in SIZES if s <= args.readings):
                rows.extend(figures(page, size, args.repeat))
        finally:
            browser.close()
    return rows


def logged_in_page(browser: Browser, frontend_url: str) -> Page:
    context = browser.new_context(base_url=frontend_url, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto("/login")
    page.get_by_label("Email").fill(DEFAULT_USER_EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/home/index")
    return page


def figures(page: Page, size: int, repeat: int) -> list[Row]:
    end = T0 + timedelta(seconds=size * STEP_SECONDS)
    query = urlencode(
        {
            "type": "bench",
            "sensors": "s-1",
            "from": T0.strftime("%Y-%m-%dT%H:%M"),
            "to": end.strftime("%Y-%m-%dT%H:%M"),
        }
    )
    first: list[float] = []
    loaded: list[float] = []
    fetched: list[float] = []
    zoom: list[float] = []
    shown = zoomed_points = 0
    for _ in range(repeat):
        page.goto(f"/timeseries/index?{query}")
        first.append(page.wait_for_function(FIRST_CHART, arg=CHART, polling="raf").json_value())
        shown = int(page.locator(CHART).get_attribute("data-points") or 0)
        parts: dict[str, float] = page.evaluate(BREAKDOWN)
        loaded.append(parts["page"])
        fetched.append(parts["data"])
        answer: dict[str, Any] = page.evaluate(ZOOM, CHART)
        zoom.append(answer["ms"])
        zoomed_points = int(answer["points"])
    width = int(page.evaluate(f"document.querySelector({CHART!r}).clientWidth"))
    raw_draw, raw_zoom = reference(page, size, width, repeat)
    label = f"{size:,} readings"
    return [
        ms_row(f"{label}: first chart ({shown:,} points drawn)", first, raw_draw),
        ("  of which the page (DOMContentLoaded)", f"{statistics.median(loaded):.0f} ms", "", ""),
        ("  of which /timeseries/data", f"{statistics.median(fetched):.0f} ms", "", ""),
        ms_row(f"{label}: zoom in ({zoomed_points:,} points drawn)", zoom, raw_zoom),
    ]


def reference(page: Page, size: int, width: int, repeat: int) -> tuple[list[float], list[float]]:
    drawn, zoomed = [], []
    for _ in range(repeat):
        answer: dict[str, float] = page.evaluate(RAW_UPLOT, {"count": size, "width": width})
        drawn.append(answer["drawn"])
        zoomed.append(answer["zoomed"])
    return drawn, zoomed


def ms_row(name: str, values: list[float], references: list[float]) -> Row:
    value, ref = statistics.median(values), statistics.median(references)
    return (name, f"{value:.0f} ms", f"{ref:.0f} ms", f"{value / ref:.2f}x")


def print_table(rows: list[Row], args: argparse.Namespace, loaded: float) -> None:
    header = ("figure", "dtbase page", "reference: uPlot on the raw points", "ratio")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    line = "| " + " | ".join(f"{{:<{w}}}" for w in widths) + " |"
    print(
        f"\nChart benchmark: {args.readings:,} readings of one sensor (loaded in {loaded:.1f} s),"
        f" headless Chromium, median of {args.repeat}"
    )
    print(line.format(*header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line.format(*row))


if __name__ == "__main__":
    main()
