"""`dtbase fdb export|list|read`: the FDB bridge from the command line.

The commands reach the backend as every such command does (`--backend-url`, `--email`,
`--password`: see `dtbase.cli.options`) and the FDB given by `DT_FDB_CONFIG`
(a YAML file) or the local store under `DT_DATA_DIR`. Mount with
`app.add_typer(fdb_app, name="fdb")`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dtbase.cli.options import (
    BackendOption,
    EmailOption,
    PasswordOption,
    fail,
    logged_in,
    utc_time,
)
from dtbase.client.client import Client
from dtbase.client.errors import ApiError
from dtbase.core.settings import DEFAULT_USER_EMAIL
from dtbase.fdb.api_export import FdbExportSettings, RunOutcome, SinkKind
from dtbase.fdb.errors import FdbError
from dtbase.fdb.runs import SensorLink

if TYPE_CHECKING:
    from dtbase.fdb.store import FdbStore

fdb_app = typer.Typer(help="The FDB bridge: model runs as GRIB2 in ECMWF's FDB.")

ConfigOption = Annotated[
    Path | None, typer.Option("--fdb-config", help="FDB configuration (YAML) [DT_FDB_CONFIG].")
]
DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="Local FDB store's parent [DT_DATA_DIR].")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@dataclass
class _Context:
    client: Client
    store: FdbStore


@contextmanager
def _opened(
    backend_url: str | None,
    email: str,
    password: str | None,
    fdb_config: Path | None,
    data_dir: Path | None,
) -> Iterator[_Context]:
    updates: dict[str, object] = {}
    if fdb_config is not None:
        updates["fdb_config"] = fdb_config
    if data_dir is not None:
        updates["data_dir"] = data_dir
    settings = FdbExportSettings().model_copy(update=updates)
    with logged_in(backend_url, email, password) as client:
        try:
            yield _Context(client, settings.store())
        except (FdbError, ApiError, ValueError) as error:
            fail(str(error))


def _time(value: str | None, default: datetime) -> datetime:
    if value is None:
        return default
    try:
        return utc_time(value)
    except ValueError as error:
        fail(str(error))


@fdb_app.command("export")
def export(
    dt_from: Annotated[
        str | None, typer.Option("--from", help="Start (ISO; default -24h).")
    ] = None,
    dt_to: Annotated[str | None, typer.Option("--to", help="End (ISO; default now).")] = None,
    model: Annotated[list[str] | None, typer.Option(help="Only this model (repeatable).")] = None,
    sink: Annotated[str, typer.Option(help="pyfdb or multio.")] = "pyfdb",
    backend_url: BackendOption = None,
    email: EmailOption = DEFAULT_USER_EMAIL,
    password: PasswordOption = None,
    fdb_config: ConfigOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Export every model run of the window that the FDB does not hold yet.

    Each run is exported, skipped (the FDB holds it with the same values) or failed (with
    its reason); the command exits with 1 when any run failed.
    """
    from dtbase.fdb.api_export import export_window
    from dtbase.fdb.errors import InvalidRun

    if sink not in ("pyfdb", "multio"):
        fail(f"--sink must be pyfdb or multio, not {sink!r}")
    kind: SinkKind = "multio" if sink == "multio" else "pyfdb"
    now = datetime.now(UTC)
    start, end = _time(dt_from, now - timedelta(hours=24)), _time(dt_to, now)
    with _opened(backend_url, email, password, fdb_config, data_dir) as context:
        try:
            summary = export_window(
                context.client,
                context.store,
                dt_from=start,
                dt_to=end,
                models=model or None,
                sink=kind,
            )
        except InvalidRun as error:
            fail("; ".join(error.problems))
    if as_json:
        typer.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        for outcome in summary.exported:
            typer.echo(f"exported  run {outcome.run_id} {_run(outcome)}: {outcome.messages} fields")
        for outcome in summary.skipped:
            typer.echo(f"skipped   run {outcome.run_id} {_run(outcome)}: {outcome.reason}")
        for outcome in summary.failed:
            typer.echo(f"FAILED    run {outcome.run_id} {_run(outcome)}: {outcome.reason}")
        typer.echo(
            f"{len(summary.exported)} exported ({summary.messages} fields), "
            f"{len(summary.skipped)} skipped, {len(summary.failed)} failed"
        )
    if not summary.ok:
        raise typer.Exit(1)


@fdb_app.command("list")
def list_(
    model: Annotated[str | None, typer.Option(help="Only this model.")] = None,
    date_from: Annotated[str | None, typer.Option("--from", help="First run date.")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last run date.")] = None,
    backend_url: BackendOption = None,
    email: EmailOption = DEFAULT_USER_EMAIL,
    password: PasswordOption = None,
    fdb_config: ConfigOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """The runs the FDB holds, oldest first, by reference time (the creation time, or the
    first value's time when that is earlier)."""
    from dtbase.fdb.api_registry import ApiCodeRegistry
    from dtbase.fdb.bridge import list_runs

    first, last = _date(date_from), _date(date_to)
    with _opened(backend_url, email, password, fdb_config, data_dir) as context:
        registry = ApiCodeRegistry(context.client)
        runs = list_runs(context.store, registry, model=model, date_from=first, date_to=last)
    if as_json:
        rows = [
            {
                "model": run.model,
                "scenario": run.scenario,
                "expver": run.expver,
                "member": run.member,
                "channel": run.channel,
                "sensor": _sensor_json(run.sensor),
                "run_time": run.run_time.isoformat(),
                "fields": run.fields,
                "measures": [
                    {
                        "name": m.name,
                        "units": m.units,
                        "param": m.param,
                        "fields": m.fields,
                        "first_time": m.first_time.isoformat(),
                        "last_time": m.last_time.isoformat(),
                    }
                    for m in run.measures
                ],
            }
            for run in runs
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    for run in runs:
        sensor = _sensor_text(run.sensor) if run.channel else "-"
        typer.echo(
            f"{run.run_time.isoformat()}  {run.model or '?'} (expver {run.expver})  "
            f"scenario {run.scenario if run.member is not None else '-'}  "
            f"sensor {sensor}{f' (channel {run.channel})' if run.channel else ''}  "
            f"{run.fields} fields"
        )
        for m in run.measures:
            typer.echo(
                f"    {m.name or '?'} [{m.units or '?'}] param {m.param}: {m.fields} fields "
                f"{m.first_time.isoformat()} .. {m.last_time.isoformat()}"
            )
    if not runs:
        typer.echo("The FDB holds no run.")


@fdb_app.command("read")
def read(
    model: Annotated[str, typer.Option(help="The model.")],
    run_time: Annotated[
        str, typer.Option("--run-time", help="The reference time `fdb list` shows (ISO 8601).")
    ],
    scenario: Annotated[str | None, typer.Option(help="The scenario (none: no scenario).")] = None,
    sensor: Annotated[
        str | None, typer.Option(help="The sensor the run forecasts (none: no sensor).")
    ] = None,
    sensor_measure: Annotated[
        str,
        typer.Option("--sensor-measure", help="The sensor measure's name, if the run names one."),
    ] = "",
    sensor_units: Annotated[
        str, typer.Option("--sensor-units", help="The sensor measure's units.")
    ] = "",
    backend_url: BackendOption = None,
    email: EmailOption = DEFAULT_USER_EMAIL,
    password: PasswordOption = None,
    fdb_config: ConfigOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """One run read back from the FDB: each measure's (timestamp, value) series."""
    from dtbase.fdb.api_registry import ApiCodeRegistry
    from dtbase.fdb.bridge import read_run

    when = _time(run_time, datetime.now(UTC))
    link = None if sensor is None else SensorLink(sensor, sensor_measure, sensor_units)
    with _opened(backend_url, email, password, fdb_config, data_dir) as context:
        registry = ApiCodeRegistry(context.client)
        run = read_run(
            context.store, registry, model=model, scenario=scenario, run_time=when, sensor=link
        )
    location = None
    if run.location is not None:
        location = {"latitude": run.location.latitude, "longitude": run.location.longitude}
    if as_json:
        data = {
            "model": run.model,
            "scenario": run.scenario,
            "run_time": run.run_time.isoformat(),
            "sensor": _sensor_json(run.sensor),
            "location": location,
            "measures": [
                {
                    "name": m.name,
                    "units": m.units,
                    "timestamps": [when.isoformat() for when, _ in m.points],
                    "values": [value for _, value in m.points],
                }
                for m in run.measures
            ],
        }
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(
        f"{run.model} / {run.scenario or '-'} created {run.run_time.isoformat()}"
        f"{f' for {_sensor_text(run.sensor)}' if run.sensor else ''}"
    )
    if location:
        typer.echo(f"location {location['latitude']}, {location['longitude']}")
    for m in run.measures:
        typer.echo(f"{m.name} [{m.units}]")
        for point_time, value in m.points:
            typer.echo(f"    {point_time.isoformat()}  {value!r}")


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{value!r} is not an ISO date (YYYY-MM-DD)")


def _sensor_json(sensor: SensorLink | None) -> dict[str, str] | None:
    return None if sensor is None else sensor._asdict()


def _sensor_text(sensor: SensorLink | None) -> str:
    if sensor is None:
        return "-"
    return sensor.sensor + (f" / {sensor.measure} [{sensor.units}]" if sensor.measure else "")


def _run(outcome: RunOutcome) -> str:
    return f"{outcome.model}/{outcome.scenario or '-'} {outcome.run_time.isoformat()}"
