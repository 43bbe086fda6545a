"""`dtbase up`: the whole platform on one machine, for development and demos."""

from __future__ import annotations

import os
import secrets
import signal
import threading
import time
import traceback
from collections.abc import Callable
from contextlib import suppress
from importlib.util import find_spec
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import httpx
import typer

from dtbase.cli.db import database
from dtbase.core.settings import (
    DEFAULT_SERVICE_URL_ALLOWLIST,
    DEFAULT_USER_EMAIL,
    BackendSettings,
    DatabaseSettings,
    FrontendSettings,
    ServicesHostSettings,
)

if TYPE_CHECKING:
    from frontend.server import FrontendServer
    from services.host import BackgroundHost
    from services.weather.fake_provider import FakeOpenWeatherMap

NO_FRONTEND = "the frontend extra is not installed (pip install 'dtbase[frontend]')"


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
    from dtbase.cli.up_server import DrainingServer
    from dtbase.mqtt import platform as mqtt_ingress

    _sigterm_as_ctrl_c()
    settings = _development_settings()
    host = host or settings.backend_host
    port = port or settings.backend_port
    base = f"http://{host}:{port}"
    # Without Flask (a base install) there is no frontend, and `up` says so.
    front_settings = _frontend_settings(settings, backend_url=base) if find_spec("flask") else None
    with database(settings) as url:
        backend = create_app(settings, database_url=url)
        frontend = _start_frontend(front_settings) if front_settings else None
        password = settings.default_user_pass
        secret = password.get_secret_value() if password else None
        weather = _start_fake_weather() if demo else None
        services = _start_services(base, secret)
        mqtt = mqtt_ingress.start(base, secret)
        if demo and secret is not None:
            _in_background("load the demo data", lambda: _load_demo(base, secret, services.url))
        provider = ""
        if weather is not None:
            provider = f"  weather   {weather.base_url}   (fake OpenWeatherMap)\n"
        front = frontend.url if frontend is not None else f"not started: {NO_FRONTEND}"
        typer.echo(
            f"\ndtbase is starting.\n"
            f"  frontend  {front}\n"
            f"  backend   {base}   (API docs: {base}/docs)\n"
            f"  services  {services.url}/api/<name>\n"
            f"{provider}"
            f"  mqtt      {mqtt.line}\n"
            f"  database  {_display_url(url)}\n"
            f"  login     {DEFAULT_USER_EMAIL} / "
            f"{password.get_secret_value() if password else '(default user disabled)'}\n"
            f"Press Ctrl-C to stop.\n"
        )
        try:
            config = uvicorn.Config(backend, host=host, port=port, log_level="info")
            # The signal uvicorn raises again once stopped (as `uvicorn.run` does).
            with suppress(KeyboardInterrupt):
                DrainingServer(config, backend).run()
        finally:
            mqtt.stop()
            services.stop()
            if frontend is not None:
                frontend.stop()
            if weather is not None:
                weather.stop()
    typer.echo("dtbase stopped.")


def _sigterm_as_ctrl_c() -> None:
    """SIGTERM (systemd, `docker stop`, `kill`) stops `up` as Ctrl-C does: with everything
    it started, the embedded PostgreSQL and Mosquitto included.

    uvicorn shuts down on SIGTERM, then raises the signal again for the handler it found:
    Python's default one ends the process on the spot, before `up` stops what it started.
    A second SIGTERM while stopping is ignored, so that it cannot cut the stopping short.
    """

    def stop(_signum: int, _frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


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
        _in_background(
            "register the services with the backend",
            lambda: _register_services(backend_url, password, host.url),
        )
    return host


def _register_services(backend_url: str, password: str, services_url: str) -> None:
    from services.host import register

    _with_backend(backend_url, password, lambda client: register(client, services_url))


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
        lines = demo_loop.schedule(client, extras=demo_loop.installed_extras())
        typer.echo("Demo schedules: " + "; ".join(lines))

    _with_backend(backend_url, password, load)


def _in_background(what: str, work: Callable[[], object]) -> threading.Thread:
    """Run `work` in a daemon thread. If it fails, the user reads `Could not <what>: <the
    error>` and the traceback: a thread must not end in silence."""

    def run() -> None:
        try:
            work()
        except Exception as error:
            traceback.print_exc()
            typer.echo(f"Could not {what}: {type(error).__name__}: {error}", err=True)

    thread = threading.Thread(target=run, name=what, daemon=True)
    thread.start()
    return thread


def _with_backend(backend_url: str, password: str, work: Callable[[Any], object]) -> None:
    """Run `work(client)` as the default user once the backend answers; tried again for a
    minute while the backend cannot be reached or answers with an error, which is then
    raised."""
    from dtbase.client import ApiError, Client

    deadline = time.monotonic() + 60
    while True:
        try:
            with Client.logged_in(backend_url, DEFAULT_USER_EMAIL, password) as client:
                work(client)
                return
        except (httpx.TransportError, ApiError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _start_frontend(settings: FrontendSettings) -> FrontendServer:
    from frontend.server import start

    return start(settings)


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


def _display_url(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
