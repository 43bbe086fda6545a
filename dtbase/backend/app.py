"""The FastAPI application: routers, error handlers and the start-up work."""

from __future__ import annotations

import gc
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from dtbase.backend import db, thread_names
from dtbase.backend.async_reads import AsyncReads
from dtbase.backend.auth.passwords import MAX_WAITING, PasswordQueue
from dtbase.backend.auth.routes import refresh_router
from dtbase.backend.auth.routes import router as auth_router
from dtbase.backend.auth.throttle import LoginLimits
from dtbase.backend.auth.tokens import TokenConfig
from dtbase.backend.docs import install_docs
from dtbase.backend.errors import install_error_handlers
from dtbase.backend.events.listen import Notifications
from dtbase.backend.events.routes import router as events_router
from dtbase.backend.events.stream import EventHub
from dtbase.backend.events.stream_routes import router as events_stream_router
from dtbase.backend.events.subscriptions_routes import router as subscriptions_router
from dtbase.backend.events.triggers_routes import router as triggers_router
from dtbase.backend.fdb_codes.routes import router as fdb_codes_router
from dtbase.backend.jobs import Jobs
from dtbase.backend.locations.routes import router as locations_router
from dtbase.backend.lone_surrogates import RefuseLoneSurrogates
from dtbase.backend.models.routes import router as models_router
from dtbase.backend.mqtt.routes import router as mqtt_router
from dtbase.backend.one_thread import OneThreadRoute, reads_only
from dtbase.backend.sensors.routes import router as sensors_router
from dtbase.backend.server_timing import ServerTiming
from dtbase.backend.services.routes import router as services_router
from dtbase.backend.services.runs import BackgroundRuns
from dtbase.backend.users import store as users_store
from dtbase.backend.users.routes import router as users_router
from dtbase.core.settings import BackendSettings

logger = logging.getLogger(__name__)

DESCRIPTION = """\
The dtbase API: users, locations, sensors and readings, digital-twin models and their runs,
and services. Wire-compatible with the Alan Turing Institute's DTBase.

Log in with `POST /auth/login`, then send `Authorization: Bearer <access_token>`.
"""


def create_app(settings: BackendSettings, *, database_url: str, jobs: bool = True) -> FastAPI:
    """The backend; with `jobs`, it runs the background jobs too (`dtbase.backend.jobs`),
    as `dtbase up` and the tests serve it. `dtbase serve backend` runs them in a process
    of its own instead (`DT_BACKEND_JOBS`)."""
    engine = db.make_engine(database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        default_password = settings.default_user_pass
        with app.state.session_factory.begin() as session:
            users_store.ensure_default_user(
                session,
                password=default_password.get_secret_value() if default_password else None,
            )
        # Fails runs a stopped backend left pending, then keeps this process's alive
        # (those of `run-service` with "wait": false, and the jobs' if they run here).
        app.state.background_runs.start()
        await app.state.async_reads.open()
        app.state.notifications.start()
        await app.state.event_hub.start()
        if jobs:
            app.state.jobs.start()
        thread_names.show()
        yield
        app.state.jobs.stop()
        await app.state.event_hub.stop()
        app.state.notifications.stop()
        app.state.background_runs.shutdown()
        engine.dispose()
        await app.state.async_reads.close()

    app = FastAPI(
        title="dtbase",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.async_reads = AsyncReads(database_url)
    app.state.session_factory = db.make_session_factory(
        engine, ingest_fk_shortcut=settings.ingest_fk_shortcut
    )
    # Service calls that do not block a request: scheduled runs, run-service "wait": false.
    app.state.background_runs = BackgroundRuns.from_settings(app.state.session_factory, settings)
    app.state.token_config = TokenConfig(
        secret=_jwt_secret(settings),
        access_seconds=settings.jwt_access_token_expires_seconds,
        refresh_grace_seconds=settings.jwt_refresh_token_grace_seconds,
    )
    app.state.login_limits = LoginLimits(
        per_account=settings.login_failures_per_account,
        per_address=settings.login_failures_per_address,
        window=timedelta(seconds=settings.login_window_seconds),
    )
    app.state.password_queue = PasswordQueue(settings.password_hash_workers, MAX_WAITING)
    # One LISTEN connection per process wakes every deliverer of events (`events.listen`).
    app.state.notifications = Notifications(engine)
    app.state.event_hub = EventHub(app.state.session_factory, app.state.notifications)
    app.state.jobs = Jobs(
        settings,
        engine=engine,
        session_factory=app.state.session_factory,
        runs=app.state.background_runs,
        notifications=app.state.notifications,
    )
    app.state.scheduler = app.state.jobs.scheduler
    app.state.webhook_deliverer = app.state.jobs.deliverer
    app.add_middleware(RefuseLoneSurrogates)
    # The error handlers' last resort for server faults wraps the middleware, but for
    # `ServerTiming`, which times every answer.
    install_error_handlers(app)
    app.add_middleware(ServerTiming, stamps=settings.backend_timing_stamps)
    # Routes are matched in order, one by one (FastAPI compares a request with every route
    # of an included router, whatever its prefix): health first, which load balancers ask
    # every few seconds and which came after 86 others (0.2 ms), then the busiest.
    app.router.add_api_route(
        "/health", health, methods=["GET"], tags=["health"], route_class_override=OneThreadRoute
    )
    install_docs(app, settings.assets_dir / "swagger-ui-dist")
    for router in (
        sensors_router,
        models_router,
        auth_router,
        refresh_router,
        users_router,
        locations_router,
        services_router,
        fdb_codes_router,
        mqtt_router,
        events_router,
        events_stream_router,
        subscriptions_router,
        triggers_router,
    ):
        app.include_router(router)

    return app


@reads_only
def health(session: db.SessionDep) -> dict[str, str]:
    """Liveness and database reachability, for load balancers and compose."""
    # As text to the driver: `session.execute(text(...))` also builds a cache key and an
    # execution context for SQLAlchemy's result processing, 8% of health's time in
    # process (docs/performance.md); the engine's events and its 503s still apply.
    session.connection().exec_driver_sql("SELECT 1")
    return {"status": "ok"}


def _jwt_secret(settings: BackendSettings) -> str:
    if settings.jwt_secret_key is not None and settings.jwt_secret_key.get_secret_value():
        return settings.jwt_secret_key.get_secret_value()
    # Only reachable in development: settings refuse a missing secret elsewhere.
    logger.warning("DT_JWT_SECRET_KEY is unset: tokens will not survive a restart")
    return secrets.token_urlsafe(48)


def app_from_environment() -> FastAPI:
    """Entry point for `uvicorn --factory` (containers): an external database is required."""
    settings = BackendSettings()
    url = settings.external_database_url()
    if url is None:
        raise RuntimeError("Set DT_DATABASE_URL or DT_SQL_HOST to the database to serve.")
    # `dtbase serve backend` says "off" to its workers when its jobs process runs them.
    app = create_app(settings, database_url=url, jobs=settings.backend_jobs != "off")
    # What the process holds now (modules, routes, schemas: about 170,000 objects) lives
    # as long as it does: out of the garbage collector's sight, its full passes, which stop
    # every request of the process, stop walking it (measured: a full pass 90 ms of CPU ->
    # nothing; GC pauses within a request at 32 clients, p99 131-507 ms -> 35-114 ms in
    # five figures of six; docs/performance.md). Here, not in `create_app`: tests make many
    # apps in one process, and would keep every one of them.
    gc.collect()
    gc.freeze()
    return app
