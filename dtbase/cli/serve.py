"""`dtbase serve` and `dtbase services`: one part of dtbase at a time, as containers run
them, and the local services host with its schedules."""

from __future__ import annotations

import os
import signal
from contextlib import suppress
from typing import Annotated, TypeVar

import typer

from dtbase.cli.options import fail
from dtbase.cli.schedules import schedule_app
from dtbase.core.settings import (
    BackendSettings,
    DtSettings,
    FrontendSettings,
    ServicesHostSettings,
)

S = TypeVar("S", bound=DtSettings)

serve_app = typer.Typer(help="Serve one part of dtbase (as containers do).")
services_app = typer.Typer(
    help="The local services host (the Azure Functions app's handlers) and schedules."
)
services_app.add_typer(schedule_app, name="schedule")


@services_app.command("serve")
def services_serve(
    host: Annotated[str | None, typer.Option(help="Host [DT_SERVICES_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [DT_SERVICES_PORT].")] = None,
) -> None:
    """Serve every service at /api/<name>, as the Azure Functions app does."""
    from services.host import serve

    settings = ServicesHostSettings()
    serve(host=host or settings.services_host, port=port or settings.services_port)


@services_app.command("fake-weather")
def services_fake_weather(
    host: Annotated[str, typer.Option(help="Host.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 7072,
    api_key: Annotated[
        str | None, typer.Option(help="Accept only this key (default: any non-empty one).")
    ] = None,
) -> None:
    """Serve a fake OpenWeatherMap (One Call 3.0, recorded London weather) for offline runs."""
    from services.weather.fake_provider import FakeOpenWeatherMap

    provider = FakeOpenWeatherMap(host, port, api_key=api_key)
    typer.echo(
        f"Fake OpenWeatherMap on {provider.base_url}\n"
        f"Point the weather service at it: DT_OPENWEATHERMAP_URL={provider.base_url}\n"
        "Press Ctrl-C to stop."
    )
    with suppress(KeyboardInterrupt):
        provider.serve_forever()


@serve_app.command("backend")
def serve_backend(
    host: Annotated[str | None, typer.Option(help="Host [DT_BACKEND_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [DT_BACKEND_PORT].")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1, max=64, help="Worker processes [DT_BACKEND_WORKERS, else one per core]."
        ),
    ] = None,
    access_log: Annotated[
        bool | None,
        typer.Option(
            "--access-log/--no-access-log",
            help="A log line per request [DT_BACKEND_ACCESS_LOG, else off].",
        ),
    ] = None,
    jobs: Annotated[
        bool | None,
        typer.Option(
            "--jobs/--no-jobs",
            help="Run the background jobs in a process beside the workers; --no-jobs: not "
            "here, `dtbase serve jobs` runs them elsewhere [DT_BACKEND_JOBS, else --jobs].",
        ),
    ] = None,
) -> None:
    """Serve the backend against DT_DATABASE_URL / DT_SQL_HOST (migrate first: db upgrade).

    One process serves on one core, so several are started, each with its own connection
    pool. The background jobs (scheduler, rollups, webhooks, triggers) run in one more
    process, restarted if it dies, so that they take no time from requests; they claim
    their work in the database, so several replicas may each run theirs.
    """
    import uvicorn

    from dtbase.cli.jobs_process import supervised

    settings = _checked_settings(BackendSettings)
    where = settings.backend_jobs if jobs is None else "process" if jobs else "off"
    if where != "inline":
        # The workers read their settings from the environment (uvicorn starts them).
        os.environ["DT_BACKEND_JOBS"] = "off"
    # uvicorn serving in this process (one worker) raises the SIGTERM it took again once
    # it has stopped, which would end the process there: end it as Ctrl-C does instead,
    # so that the jobs process is stopped too.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with supervised(where == "process"):
        uvicorn.run(
            "dtbase.backend.app:app_from_environment",
            factory=True,
            host=host or settings.backend_host,
            port=port or settings.backend_port,
            workers=workers or settings.backend_workers or usable_cores(),
            proxy_headers=True,
            access_log=settings.backend_access_log if access_log is None else access_log,
            timeout_keep_alive=settings.backend_keep_alive_seconds,
        )


@serve_app.command("jobs")
def serve_jobs(
    parent: Annotated[
        int | None,
        typer.Option(hidden=True, help="Stop when this process is gone (serve backend's)."),
    ] = None,
) -> None:
    """Run the background jobs (scheduler, rollups, webhooks, triggers, pruning) against
    DT_DATABASE_URL / DT_SQL_HOST until SIGTERM or Ctrl-C, serving no HTTP: for a
    container of their own, beside backends served with --no-jobs. Any number may run."""
    import logging

    from dtbase.backend import jobs

    settings = _checked_settings(BackendSettings)
    url = settings.external_database_url()
    if url is None:
        fail("Set DT_DATABASE_URL or DT_SQL_HOST to the database whose jobs to run.")
    # What the jobs say (started, stopped, failed); of the libraries, only warnings.
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("dtbase").setLevel(logging.INFO)
    jobs.serve(settings, database_url=url, parent=parent)


@serve_app.command("frontend")
def serve_frontend(
    host: Annotated[str | None, typer.Option(help="Host [DT_FRONTEND_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [DT_FRONTEND_PORT].")] = None,
) -> None:
    """Serve the web frontend; it reaches the backend at DT_BACKEND_URL."""
    from frontend.server import serve

    settings = _checked_settings(FrontendSettings)
    overrides = {"frontend_host": host, "frontend_port": port}
    serve(settings.model_copy(update={k: v for k, v in overrides.items() if v is not None}))


def usable_cores() -> int:
    """The cores this process may run on (a container's CPU set, not the host's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _checked_settings(kind: type[S]) -> S:
    """Settings from the environment, or a clear message saying which variable is wrong."""
    from pydantic import ValidationError

    try:
        return kind()
    except ValidationError as error:
        problems = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in error.errors())
        raise typer.BadParameter(problems) from error
