"""`dtbase services schedule list|add|enable|disable|delete`: service schedules from the
command line, through the API of a running backend.

The backend is `--backend-url` or `DT_BACKEND_URL`; the commands log in as the default user
with `--password`, `DT_DEFAULT_USER_PASS`, or the password `dtbase up` keeps in the data
directory (so they work beside `up` with nothing set).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, NoReturn

import httpx
import typer
from pydantic import SecretStr

from dtbase.client import ApiError, Client
from dtbase.core.settings import DEFAULT_USER_EMAIL, ClientSettings, DtSettings
from dtbase.schemas.services import Schedule

schedule_app = typer.Typer(help="Service schedules, through the API of a running backend.")

BackendOption = Annotated[
    str | None, typer.Option("--backend-url", help="Backend URL [DT_BACKEND_URL].")
]
EmailOption = Annotated[str, typer.Option(help="Log in as this user.")]
PasswordOption = Annotated[
    str | None,
    typer.Option(
        help="Password [DT_DEFAULT_USER_PASS, or the one `dtbase up` keeps].", show_default=False
    ),
]
EVERY = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class _Settings(ClientSettings, DtSettings):
    default_user_pass: SecretStr | None = None


@contextmanager
def _client(backend_url: str | None, email: str, password: str | None) -> Iterator[Client]:
    settings = _Settings()
    url = backend_url or settings.backend_url
    secret = password
    if secret is None and settings.default_user_pass is not None:
        secret = settings.default_user_pass.get_secret_value()
    kept = settings.kept_password_file
    if not secret and kept.is_file():
        secret = kept.read_text().strip()
    if not secret:
        _fail("No password: give --password or set DT_DEFAULT_USER_PASS")
    try:
        client = Client.logged_in(url, email, secret)
    except ApiError as error:
        _fail(f"Cannot log in to {url}: {_detail(error)}")
    except httpx.TransportError as error:
        _fail(f"Cannot reach the backend at {url} ({error}): is it running?")
    try:
        yield client
    except ApiError as error:
        _fail(_detail(error))
    finally:
        client.close()


def _fail(message: str) -> NoReturn:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(1)


def _detail(error: ApiError) -> str:
    return error.description


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
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise typer.BadParameter(
            f"{text!r} is not an ISO 8601 time", param_hint="--start-at"
        ) from error
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


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
    with _client(backend_url, email, password) as client:
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
    with _client(backend_url, email, password) as client:
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
    with _client(backend_url, email, password) as client:
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
    with _client(backend_url, email, password) as client:
        client.services.delete_schedule(service, name)
    typer.echo(f"Deleted {service}/{name}.")
