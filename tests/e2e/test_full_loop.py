"""The whole loop, as a newcomer runs it: `dtbase up --demo`, offline.

`up --demo` starts the shipped fake OpenWeatherMap (services/weather/fake_provider.py),
points the weather service at it and registers the demo's schedules; the backend's
scheduler (ticking every half second here) then runs weather ingress, ARIMA on the weather
sensor and the FDB export by themselves. Everything is real: `dtbase up` in a subprocess
(embedded PostgreSQL, migrations, backend, services host, the fake provider on a port), the
scheduler's runs, the FDB on disk; the test reads only through `dtbase.client` and the FDB.

Then the two cases the issue found broken, through schedules of the same `up`: one ARIMA
call forecasting three sensors (three runs of one creation time, each its own field set in
the FDB, reading back its own values), one of them with its last reading hours old (its
forecast starts before the run's creation time: exported all the same).
"""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import TypeVar

import pytest

from dtbase import demo_loop
from dtbase.client import Client
from dtbase.devdb import free_port
from dtbase.schemas.models import ModelRun
from dtbase.schemas.sensors import SensorMeasure
from dtbase.schemas.services import ServiceRunDetails
from dtbase.schemas.values import ValueDatatype
from services.weather.fake_provider import weather_at

HOUR = timedelta(hours=1)
# Generous: the machine is shared, and nothing here measures speed.
DEADLINE_SECONDS = 300
T = TypeVar("T")
Series = dict[str, list[tuple[datetime, float]]]

LOOP_TYPE = "Loop thermometer"
TEMPERATURE = SensorMeasure(
    name="temperature", units="degrees Celsius", datatype=ValueDatatype.float
)
STEP = timedelta(minutes=30)
STALE = timedelta(hours=3)  # LOOP3's last reading is this old


@pytest.fixture
def up_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DT_")}
    env.update(
        DT_DATA_DIR=str(tmp_path / "data"),
        DT_EMBEDDED_PORT=str(free_port()),
        DT_BACKEND_PORT=str(free_port()),
        DT_FRONTEND_PORT=str(free_port()),
        DT_SERVICES_PORT=str(free_port()),
        DT_SCHEDULER_INTERVAL_SECONDS="0.5",
        DT_SERVICE_TIMEOUT_SECONDS="240",
    )
    return env


@contextmanager
def _up(env: dict[str, str]) -> Iterator[tuple[str, str, str]]:
    """`dtbase up --demo` until the block ends (then Ctrl-C); (backend URL, email, password)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "dtbase", "up", "--demo"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    printed = ""
    deadline = time.monotonic() + DEADLINE_SECONDS
    try:
        while "Application startup complete" not in printed:
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                pytest.fail(f"dtbase up stopped:\n{printed}")
            assert time.monotonic() < deadline, printed
            printed += line
    except BaseException:
        process.kill()
        raise
    backend = re.search(r"backend\s+(http://\S+)", printed)
    login = re.search(r"login\s+(\S+) / (\S+)", printed)
    fake = re.search(
        r"weather\s+(http://127\.0\.0\.1:\d+/data/3\.0)\s+\(fake OpenWeatherMap\)", printed
    )
    assert backend, printed
    assert login, printed
    assert fake, printed
    # Drain the output, so a chatty backend never blocks on a full pipe.
    output: list[str] = []
    drain = threading.Thread(target=lambda: output.extend(process.stdout or []), daemon=True)
    drain.start()
    try:
        yield backend.group(1), login.group(1), login.group(2)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=DEADLINE_SECONDS)
        drain.join(timeout=10)
    everything = printed + "".join(output)
    assert process.returncode == 0, everything
    assert "Demo schedules: weather every 10 min (at once); arima every 30 min" in everything


def _eventually(ask: Callable[[], T | None], what: str) -> T:
    """The first answer of `ask` that is not None, polled until the deadline."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while (answer := ask()) is None:
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)
    return answer


def _finished_run(
    client: Client, service: str, schedule: str
) -> Callable[[], ServiceRunDetails | None]:
    def ask() -> ServiceRunDetails | None:
        runs = [
            r for r in client.services.list_runs_details(service) if r.schedule_name == schedule
        ]
        assert len(runs) <= 1, runs
        return runs[0] if runs and runs[0].status != "pending" else None

    return ask


def _api_values(client: Client, run: ModelRun) -> Series:
    values = client.models.get_model_run(run.id)
    return {
        name: [(point.timestamp, float(point.value)) for point in points]
        for name, points in values.items()
    }


def _fdb_values(client: Client, data_dir: Path, run: ModelRun) -> Series:
    """The FDB's copy of an API run, found by the run's own keys."""
    from dtbase.fdb.api_registry import ApiCodeRegistry
    from dtbase.fdb.bridge import read_back
    from dtbase.fdb.from_api import measures_by_name, to_model_run
    from dtbase.fdb.store import FdbStore

    wanted = to_model_run(client, run, measures=measures_by_name(client))
    held = read_back(FdbStore(data_dir=data_dir), ApiCodeRegistry(client), wanted)
    return {measure.name: sorted(measure.points) for measure in held.measures}


def _fdb_listing(client: Client, data_dir: Path) -> list[tuple[str, str]]:
    """(sensor, sensor measure) of each run the FDB lists."""
    from dtbase.fdb.api_registry import ApiCodeRegistry
    from dtbase.fdb.bridge import list_runs
    from dtbase.fdb.store import FdbStore

    listed = list_runs(FdbStore(data_dir=data_dir), ApiCodeRegistry(client), model="Arima")
    return [(run.sensor.sensor, run.sensor.measure) if run.sensor else ("", "") for run in listed]


def _loop_readings(now: datetime, sensor: int) -> tuple[list[datetime], list[float]]:
    """14 days of half-hourly temperatures: a daily cycle, different for each sensor."""
    end = now.replace(minute=0, second=0, microsecond=0) - (STALE if sensor == 3 else STEP)
    times = [end - i * STEP for i in range(14 * 48)][::-1]
    values = [
        round(
            10 + 3 * sensor + 4 * math.sin(2 * math.pi * (t.hour - 9) / 24) + 0.3 * math.sin(i), 3
        )
        for i, t in enumerate(times)
    ]
    return times, values


def test_up_demo_runs_weather_arima_and_the_fdb_export_by_itself_offline(
    up_env: dict[str, str],
) -> None:
    data_dir = Path(up_env["DT_DATA_DIR"])
    with (
        _up(up_env) as (backend, email, password),
        Client.logged_in(backend, email, password) as client,
    ):
        # Weather ingress from the fake provider, on the demo's schedule, first at once.
        weather = _eventually(_finished_run(client, "weather", "demo-weather"), "weather")
        assert weather.status == "succeeded", weather.response_json
        assert weather.parameter_set_name == "demo-london"
        summary = weather.response_json
        assert summary["ok"] is True, summary
        assert summary["history"]["records"] == summary["history"]["requests"] in (72, 73)
        assert summary["forecast"]["records"] >= 46
        now = datetime.now(UTC)
        observed = client.sensors.sensor_readings(
            "temperature", "OpenWeatherMapHistory", now - 4 * 24 * HOUR, now
        )
        assert len(observed) == summary["history"]["records"]
        assert all(b.timestamp - a.timestamp == HOUR for a, b in pairwise(observed))
        for reading in observed:
            expected = weather_at(int(reading.timestamp.timestamp()))["temp"]
            assert reading.value == pytest.approx(expected)

        # ARIMA on the weather sensor's two measures: one call, two runs of one time.
        arima = _eventually(_finished_run(client, "arima", "demo-arima"), "ARIMA")
        assert arima.status == "succeeded", arima.response_json
        assert arima.parameters == demo_loop.ARIMA_PARAMETERS
        assert arima.response_json["ok"] is True, arima.response_json
        recent = client.models.list_model_runs("Arima", dt_from=now - HOUR)
        weather_runs = [r for r in recent if r.sensor_unique_id == "OpenWeatherMapHistory"]
        # The demo twin's forecasts start at its last reading, minutes before now.
        demo_runs = [r for r in recent if r not in weather_runs]
        assert sorted(r.sensor_unique_id or "" for r in demo_runs) == [
            f"demo-climate-{room}" for room in ("lab", "office", "store")
        ]
        assert len(weather_runs) == 2
        assert {run.sensor_unique_id for run in weather_runs} == {"OpenWeatherMapHistory"}
        assert {run.sensor_measure.name for run in weather_runs if run.sensor_measure} == {
            "temperature",
            "relative humidity",
        }
        assert len({run.time_created for run in weather_runs}) == 1
        mean = _api_values(client, weather_runs[0])
        assert len(mean) == 5
        assert all(len(points) >= 24 for points in mean.values())

        # The FDB export on its schedule: both runs, nothing skipped or failed.
        export = _eventually(_finished_run(client, "fdb_export", "demo-fdb-export"), "export")
        assert export.status == "succeeded", export.response_json
        assert export.response_json["ok"] is True, export.response_json
        assert export.response_json["failed"] == []
        assert export.response_json["skipped"] == []
        exported = {outcome["run_id"] for outcome in export.response_json["exported"]}
        assert exported == {run.id for run in [*weather_runs, *demo_runs]}

        # The two cases: three sensors in one ARIMA call, LOOP3's last reading hours old.
        client.sensors.insert_sensor_type(LOOP_TYPE, [TEMPERATURE])
        for number in (1, 2, 3):
            sensor = f"LOOP{number}"
            client.sensors.insert_sensor(LOOP_TYPE, sensor)
            times, values = _loop_readings(now, number)
            client.sensors.insert_sensor_readings("temperature", sensor, values, times)
        loop_parameters = {
            "sensors": ["LOOP1", "LOOP2", "LOOP3"],
            "measures": ["temperature"],
            "training_days": 14,
            "horizon_hours": 12,
        }
        start = datetime.now(UTC).replace(microsecond=0)
        client.services.insert_schedule(
            "arima", "loop", interval_seconds=86400, parameters=loop_parameters, start_at=start
        )
        loop = _eventually(_finished_run(client, "arima", "loop"), "the three-sensor ARIMA run")
        assert loop.status == "succeeded", loop.response_json
        assert loop.response_json["ok"] is True, loop.response_json
        loop_runs = [
            run
            for run in client.models.list_model_runs("Arima", dt_from=start)
            if run.sensor_unique_id in {"LOOP1", "LOOP2", "LOOP3"}
        ]
        assert [run.sensor_unique_id for run in loop_runs] == ["LOOP1", "LOOP2", "LOOP3"]
        assert len({run.time_created for run in loop_runs}) == 1
        stale = _api_values(client, loop_runs[2])["Mean temperature"]
        assert stale[0][0] < loop_runs[2].time_created - 2 * HOUR  # starts before its run

        client.services.insert_schedule(
            "fdb_export",
            "loop",
            interval_seconds=86400,
            parameters={"dt_from": "-2h", "dt_to": "present"},
            start_at=datetime.now(UTC).replace(microsecond=0),
        )
        again = _eventually(_finished_run(client, "fdb_export", "loop"), "the second export")
        assert again.status == "succeeded", again.response_json
        assert again.response_json["failed"] == []
        assert {o["run_id"] for o in again.response_json["exported"]} == {
            run.id for run in loop_runs
        }
        # The weather and demo runs are in the FDB already, with the same values: skipped,
        # honestly.
        assert {o["run_id"] for o in again.response_json["skipped"]} == exported

        # Every run, read back from the FDB by its own keys, is the API's.
        for run in [*weather_runs, *demo_runs, *loop_runs]:
            assert _fdb_values(client, data_dir, run) == _api_values(client, run), run
        firsts = [_fdb_values(client, data_dir, run)["Mean temperature"][0] for run in loop_runs]
        assert len(set(firsts)) == 3  # each sensor's own values
        # The FDB's own listing: eight runs, each its own field set with its sensor link.
        listed = _fdb_listing(client, data_dir)
        assert sorted(listed) == sorted(
            [
                ("OpenWeatherMapHistory", "temperature"),
                ("OpenWeatherMapHistory", "relative humidity"),
            ]
            + [(f"LOOP{number}", "temperature") for number in (1, 2, 3)]
            + [(f"demo-climate-{room}", "temperature") for room in ("lab", "office", "store")]
        )
