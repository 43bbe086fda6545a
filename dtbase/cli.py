"""The `dtbase` command: run the platform, manage its database and its users."""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import httpx
import typer

from dtbase.core.settings import (
    DEFAULT_SERVICE_URL_ALLOWLIST,
    DEFAULT_USER_EMAIL,
    BackendSettings,
    DatabaseSettings,
    DtSettings,
    FrontendSettings,
    ServicesHostSettings,
)
from dtbase.fdb.commands import fdb_app
from dtbase.schedule_commands import schedule_app
from dtbase.schemas.users import Role

if TYPE_CHECKING:
    from pydantic import BaseModel

    from dtbase.devdb import EmbeddedPostgres
    from services.host import BackgroundHost
    from services.weather.fake_provider import FakeOpenWeatherMap

T = TypeVar("T")
M = TypeVar("M", bound="BaseModel")
S = TypeVar("S", bound=DtSettings)

app = typer.Typer(help="dtbase: a forkable platform for digital twins.", no_args_is_help=True)
services_app = typer.Typer(
    help="The local services host (the Azure Functions app's handlers) and schedules."
)
serve_app = typer.Typer(help="Serve one part of dtbase (as containers do).")
db_app = typer.Typer(help="The database: URL, migrations, the embedded server.")
user_app = typer.Typer(help="Users, straight in the database (no running backend needed).")
services_app.add_typer(schedule_app, name="schedule")
app.add_typer(serve_app, name="serve")
app.add_typer(services_app, name="services")
app.add_typer(fdb_app, name="fdb")
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")


@app.command()
def up(
    host: Annotated[str | None, typer.Option(help="Backend host [DT_BACKEND_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Backend port [DT_BACKEND_PORT].")] = None,
    demo: Annotated[
        bool,
        typer.Option(
            help="Load a small demo twin (idempotent), serve a fake OpenWeatherMap and "
            "schedule weather ingress, ARIMA and the FDB export."
        ),
    ] = False,
) -> None:
    """Start the database, migrate, ensure the default user, serve backend and frontend."""
    import uvicorn

    from dtbase.backend.app import create_app
    from frontend.server import start as start_frontend

    settings = _development_settings()
    host = host or settings.backend_host
    port = port or settings.backend_port
    base = f"http://{host}:{port}"
    front_settings = _frontend_settings(settings, backend_url=base)
    with _database(settings) as url:
        backend = create_app(settings, database_url=url)
        frontend = start_frontend(front_settings)
        password = settings.default_user_pass
        secret = password.get_secret_value() if password else None
        weather = _start_fake_weather() if demo else None
        services = _start_services(base, secret)
        if demo and secret is not None:
            threading.Thread(
                target=_load_demo, args=(base, secret, services.url), daemon=True
            ).start()
        provider = ""
        if weather is not None:
            provider = f"  weather   {weather.base_url}   (fake OpenWeatherMap)\n"
        typer.echo(
            f"\ndtbase is starting.\n"
            f"  frontend  {frontend.url}\n"
            f"  backend   {base}   (API docs: {base}/docs)\n"
            f"  services  {services.url}/api/<name>\n"
            f"{provider}"
            f"  database  {_display_url(url)}\n"
            f"  login     {DEFAULT_USER_EMAIL} / "
            f"{password.get_secret_value() if password else '(default user disabled)'}\n"
            f"Press Ctrl-C to stop.\n"
        )
        try:
            uvicorn.run(backend, host=host, port=port, log_level="info")
        finally:
            services.stop()
            frontend.stop()
            if weather is not None:
                weather.stop()
    typer.echo("dtbase stopped.")


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
) -> None:
    """Serve the backend against DT_DATABASE_URL / DT_SQL_HOST (migrate first: db upgrade)."""
    import uvicorn

    settings = _checked_settings(BackendSettings)
    uvicorn.run(
        "dtbase.backend.app:app_from_environment",
        factory=True,
        host=host or settings.backend_host,
        port=port or settings.backend_port,
        proxy_headers=True,
    )


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


@db_app.command("url")
def db_url() -> None:
    """Print the SQLAlchemy URL of the database in use."""
    settings = DatabaseSettings()
    typer.echo(settings.external_database_url() or _embedded(settings).url)


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="An Alembic revision id.")] = "head",
) -> None:
    """Apply migrations (starting the embedded database for the time it takes)."""
    with _database(DatabaseSettings(), revision=revision):
        pass
    typer.echo(f"Database migrated to {revision}.")


@db_app.command("revision")
def db_revision(message: str) -> None:
    """Write a new migration from the difference between the ORM tables and the database."""
    from dtbase.backend.migrate import revision

    with _database(DatabaseSettings()) as url:
        revision(url, message)


@db_app.command("start")
def db_start() -> None:
    """Start the embedded database and leave it running (for psql, notebooks, tools)."""
    settings = DatabaseSettings()
    typer.echo(_embedded(settings).start())


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded database."""
    _embedded(DatabaseSettings()).stop()


@user_app.command("create")
def user_create(
    email: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
    role: Role = Role.user,
) -> None:
    """Create a user."""
    from dtbase.backend.auth.passwords import hash_password
    from dtbase.schemas.users import CreateUserRequest

    request = _validated(CreateUserRequest, email=email, password=password, role=role)
    password_hash = hash_password(request.password)
    _in_session(
        lambda s, store: store.create(
            s, email=request.email, password_hash=password_hash, role=request.role
        )
    )
    typer.echo(f"Created {email} ({role}).")


@user_app.command("list")
def user_list() -> None:
    """List users with their roles."""
    users = _in_session(lambda s, store: [(u.email, u.role) for u in store.list_all(s)])
    for email, role in users:
        typer.echo(f"{email}\t{role}")


@user_app.command("set-password")
def user_set_password(
    email: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
) -> None:
    """Set a user's password (their login sessions end)."""
    from dtbase.backend.auth.passwords import hash_password
    from dtbase.schemas.users import ChangePasswordRequest

    request = _validated(ChangePasswordRequest, email=email, password=password)
    password_hash = hash_password(request.password)
    _in_session(
        lambda s, store: store.set_password(s, email=request.email, password_hash=password_hash)
    )
    typer.echo(f"Password of {email} changed.")


@user_app.command("delete")
def user_delete(email: str) -> None:
    """Delete a user (never the last admin)."""
    _in_session(lambda s, store: store.delete(s, email=email))
    typer.echo(f"Deleted {email}.")


def _development_settings() -> BackendSettings:
    """`up` is the developer's command: development mode unless DT_ENVIRONMENT says otherwise.

    In development, the default user's password and the JWT secret are generated once and
    kept in the data directory, so that logins and tokens survive restarts.
    """
    overrides: dict[str, Any] = {}
    if "DT_ENVIRONMENT" not in os.environ:
        overrides["environment"] = "development"
    base = DatabaseSettings(**overrides)
    if base.environment == "development":
        base.data_dir.mkdir(parents=True, exist_ok=True)
        if not os.environ.get("DT_DEFAULT_USER_PASS"):
            overrides["default_user_pass"] = _kept_secret(base.kept_password_file, 12)
        if not os.environ.get("DT_JWT_SECRET_KEY"):
            overrides["jwt_secret_key"] = _kept_secret(base.data_dir / "jwt_secret", 48)
    if not os.environ.get("DT_SERVICE_URL_ALLOWLIST"):
        # The services host `up` starts may call: wherever DT_SERVICES_HOST/PORT put it.
        services = ServicesHostSettings()
        overrides["service_url_allowlist"] = (
            f"{DEFAULT_SERVICE_URL_ALLOWLIST},{services.services_host}:{services.services_port}"
        )
    try:
        return BackendSettings(**overrides)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error


def _checked_settings(kind: type[S]) -> S:
    """Settings from the environment, or a clear message saying which variable is wrong."""
    from pydantic import ValidationError

    try:
        return kind()
    except ValidationError as error:
        problems = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in error.errors())
        raise typer.BadParameter(problems) from error


def _start_services(backend_url: str, password: str | None) -> BackgroundHost:
    """The services host beside `up`'s backend, registered with it once the backend answers.

    The services log in as the default user and find the backend through the environment,
    read when a service runs, so this process's environment is where they are set.
    """
    from services.host import BackgroundHost

    os.environ["DT_BACKEND_URL"] = backend_url
    if password is not None:
        os.environ["DT_DEFAULT_USER_PASS"] = password
    settings = ServicesHostSettings()
    host = BackgroundHost(settings.services_host, settings.services_port).start()
    if password is not None:
        threading.Thread(
            target=_register_services, args=(backend_url, password, host.url), daemon=True
        ).start()
    return host


def _register_services(backend_url: str, password: str, services_url: str) -> None:
    from services.host import register

    if not _with_backend(backend_url, password, lambda client: register(client, services_url)):
        typer.echo("Could not register the services with the backend.", err=True)


def _start_fake_weather() -> FakeOpenWeatherMap | None:
    """For `--demo`: the fake provider on a free port, and the weather service pointed at it
    (through this process's environment, which the services host reads when a service runs).
    A `DT_OPENWEATHERMAP_URL` set by the user wins: then no fake is started."""
    from services.weather.fake_provider import FakeOpenWeatherMap

    if os.environ.get("DT_OPENWEATHERMAP_URL"):
        return None
    provider = FakeOpenWeatherMap(port=0).start()
    os.environ["DT_OPENWEATHERMAP_URL"] = provider.base_url
    os.environ.setdefault("DT_OPENWEATHERMAP_APIKEY", "offline-demo")
    return provider


def _load_demo(backend_url: str, password: str, services_url: str) -> None:
    """The demo twin, then the services and the demo's schedules (the loop)."""
    from dtbase import demo, demo_loop
    from services.host import register

    def load(client: Any) -> None:
        typer.echo(demo.load(client))
        register(client, services_url)
        lines = demo_loop.schedule(client, fdb=demo_loop.fdb_installed())
        typer.echo("Demo schedules: " + "; ".join(lines))

    if not _with_backend(backend_url, password, load):
        typer.echo("Could not load the demo data.", err=True)


def _with_backend(backend_url: str, password: str, work: Callable[[Any], object]) -> bool:
    """Run `work(client)` as the default user once the backend answers (within a minute)."""
    from dtbase.client import ApiError, Client

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with Client.logged_in(backend_url, DEFAULT_USER_EMAIL, password) as client:
                work(client)
                return True
        except (httpx.TransportError, ApiError):
            time.sleep(0.2)
    return False


def _frontend_settings(backend: BackendSettings, *, backend_url: str) -> FrontendSettings:
    """The frontend beside `up`'s backend, with a session secret kept in the data dir."""
    overrides: dict[str, Any] = {"backend_url": backend_url, "environment": backend.environment}
    if backend.environment == "development" and not os.environ.get("DT_FRONT_SECRET_KEY"):
        overrides["front_secret_key"] = _kept_secret(backend.data_dir / "front_secret_key", 48)
    try:
        return FrontendSettings(**overrides)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error


def _kept_secret(path: Path, length: int) -> str:
    """A secret generated once and kept in the data directory, readable only by us."""
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(length)
    path.touch(mode=0o600)
    path.write_text(value + "\n")
    return value


def _embedded(settings: DatabaseSettings) -> EmbeddedPostgres:
    from dtbase.devdb import EmbeddedPostgres

    return EmbeddedPostgres(settings.data_dir.resolve() / "pgdata", settings.embedded_port)


@contextmanager
def _database(settings: DatabaseSettings, revision: str = "head") -> Iterator[str]:
    """The database URL, migrated to `revision`; an embedded server started here is stopped
    on exit."""
    from dtbase.backend.migrate import upgrade

    url = settings.external_database_url()
    if url is not None:
        upgrade(url, revision)
        yield url
        return
    server = _embedded(settings)
    started_here = server.running_port() is None
    url = server.start()
    try:
        upgrade(url, revision)
        yield url
    finally:
        if started_here:
            server.stop()


def _in_session(work: Callable[[Any, Any], T]) -> T:
    """Run `work(session, users_store)` in one transaction on the migrated database."""
    from dtbase.backend.db import make_engine, make_session_factory
    from dtbase.backend.errors import DomainError
    from dtbase.backend.users import store

    with _database(DatabaseSettings()) as url:
        engine = make_engine(url)
        try:
            with make_session_factory(engine).begin() as session:
                return work(session, store)
        except DomainError as error:
            typer.echo(f"Error: {error.detail}", err=True)
            raise typer.Exit(1) from error
        finally:
            engine.dispose()


def _validated(model: type[M], **fields: Any) -> M:
    from pydantic import ValidationError

    try:
        return model(**fields)
    except ValidationError as error:
        problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in error.errors())
        raise typer.BadParameter(problems) from error


def _display_url(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
