"""`dtbase services schedule list|add|enable|disable|delete`: service schedules from the
command line, through the API of a running backend (found and logged in to as every such
command does: see `dtbase.cli.options`).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any

import typer

from dtbase.cli.options import BackendOption, EmailOption, PasswordOption, logged_in, utc_time
from dtbase.core.settings import DEFAULT_USER_EMAIL
from dtbase.schemas.services import Schedule

schedule_app = typer.Typer(help="Service schedules, through the API of a running backend.")

EVERY = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _seconds(every: str) -> int:
    match = EVERY.match(every)
    if match is None or int(match.group(1)) < 1:
        raise typer.BadParameter(
            f"{every!r}: give a whole number of seconds, or with a unit: 90s, 10m, 1h, 1d",
            param_hint="--every",
        )
    return int(match.group(1)) * UNIT_SECONDS[match.group(2)]


def _json_parameters(text: str) -> Any:
    try:
        parameters = json.loads(text)
    except ValueError as error:
        raise typer.BadParameter(f"not JSON: {error}", param_hint="--parameters") from error
    if not isinstance(parameters, dict | list):
        raise typer.BadParameter("must be a JSON object or array", param_hint="--parameters")
    return parameters


def _start(text: str) -> datetime:
    try:
        return utc_time(text)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--start-at") from error


def _timing(schedule: Schedule) -> str:
    if schedule.cron is not None:
        return f"cron {schedule.cron!r} ({schedule.time_zone})"
    return f"every {schedule.interval_seconds} s"


def _when(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else "-"


@schedule_app.command("list")
def list_schedules(
    service: Annotated[str | None, typer.Option(help="Only this service's schedules.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    backend_url: BackendOption = None,
    email: EmailOption = DEFAULT_USER_EMAIL,
    password: PasswordOption = None,
) -> None:
    """The schedules, oldest first, with their next and last runs."""
    with logged_in(backend_url, email, password) as client:
        schedules = client.services.list_schedules(service)
    if as_json:
        typer.echo(json.dumps([s.model_dump(mode="json") for s in schedules], indent=2))
        return
    for s in schedules:
        parameters = (
            f"set {s.parameter_set_name!r}"
            if s.parameter_set_name is not None
            else ("no parameters" if s.parameters is None else "own parameters")
        )
        state = "enabled" if s.enabled else "disabled"
        typer.echo(
            f"{s.service_name}/{s.name}  {_timing(s)}  {parameters}  {state}  "
            f"next {_when(s.next_run_at)}  last {_when(s.last_run_at)}"
        )
    if not schedules:
        typer.echo("No schedules.")


@schedule_app.command("add")
def add(
    service: Annotated[str, typer.Argument(help="The service to run.")],
    name: Annotated[str, typer.Argument(help="The schedule's name (unique per service).")],
    cron: Annotated[
        str | None, typer.Option(help="Five fields: minute hour day month weekday.")
    ] = None,
    every: Annotated[
        str | None, typer.Option(help="An interval: seconds, or 90s, 10m, 1h, 1d.")
    ] = None,
    time_zone: Annotated[str, typer.Option(help="The IANA zone cron is read in.")] = "UTC",
    parameter_set: Annotated[
        str | None, typer.Option(help="Send this parameter set's parameters.")
    ] = None,
    parameters: Annotated[
        str | None, typer.Option(help="Send these parameters (JSON).", show_default=False)
    ] = None,
    start_at: Annotated[
        str | None,
        typer.Option(help="An interval's first run (ISO 8601; default: one interval from now)."),
    ] = None,
    enabled: Annotated[bool, typer.Option("--enabled/--disabled", help="Start enabled.")] = True,
    backend_url: BackendOption = None,
    email: EmailOption = DEFAULT_USER_EMAIL,
    password: PasswordOption = None,
) -> None:
    """Schedule a service: --cron or --every, and --parameter-set or --parameters (or none)."""
    if (cron is None) == (every is None):
        raise typer.BadParameter("give either --cron or --every", param_hint="--cron/--every")
    if parameter_set is not None and parameters is not None:
        raise typer.BadParameter(
            "give either --parameter-set or --parameters", param_hint="--parameters"
        )
    with logged_in(backend_url, email, password) as client:
        client.services.insert_schedule(
            service,
            name,
            cron=cron,
            interval_seconds=_seconds(every) if every is not None else None,
            time_zone=time_zone,
            parameter_set_name=parameter_set,
            parameters=_json_parameters(parameters) if parameters is not None else None,
            enabled=enabled,
            start_at=_start(start_at) if start_at is not None else None,
        )
        [schedule] = [s for s in client.services.list_schedules(service) if s.name == name]
    typer.echo(
        f"Scheduled {service}/{name}: {_timing(schedule)}, next {_when(schedule.next_run_at)}."
    )


def _set_enabled(
    service: str,
    name: str,
    enabled: bool,
    backend_url: str | None,
    email: str,
    password: str | None,
) -> None:
    with logged_in(backend_url, email, password) as client:
        client.services.edit_schedule(service, name, enabled=enabled)
    typer.echo(f"{'Enabled' if enabled else 'Disabled'} {service}/{name}.")


ServiceArgument = Annotated[str, typer.Argument(help="The schedule's service.")]
NameArgument = Annotated[str, typer.Argument(help="The schedule's name.")]


@schedule_app.command("enable")
def enable(
    service: ServiceArgument,
    name: NameArgument,
    backend_url: BackendOption = None,
    email: EmailOption = DEFAULT_USER_EMAIL,
    password: PasswordOption = None,
) -> None:
    """Enable a schedule: it runs next at its next future time (missed ones are skipped)."""
    _set_enabled(service, name, True, backend_url, email, password)


@schedule_app.command("disable")
def disable(
    service: ServiceArgument,
    name: NameArgument,
    backend_url: BackendOption = None,
    email: EmailOption = DEFAULT_USER_EMAIL,
    password: PasswordOption = None,
) -> None:
    """Disable a schedule (kept, with its timing)."""
    _set_enabled(service, name, False, backend_url, email, password)


@schedule_app.command("delete")
def delete(
    service: ServiceArgument,
    name: NameArgument,
    backend_url: BackendOption = None,
    email: EmailOption = DEFAULT_USER_EMAIL,
    password: PasswordOption = None,
) -> None:
    """Delete a schedule; its runs stay in the run log."""
    with logged_in(backend_url, email, password) as client:
        client.services.delete_schedule(service, name)
    typer.echo(f"Deleted {service}/{name}.")
