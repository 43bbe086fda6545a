"""Settings for each deployable, read from `DT_`-prefixed environment variables.

DTBase's variable names (`DT_SQL_*`, `DT_DEFAULT_USER_PASS`, `DT_JWT_SECRET_KEY`,
`DT_BACKEND_URL`, `DT_FRONT_SECRET_KEY`) keep their meaning, so an existing DTBase
environment file works unchanged. Nothing here reads the environment at import time:
callers build settings once (`BackendSettings()`) and pass them on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self
from urllib.parse import quote

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["development", "production"]
BackendJobs = Literal["process", "inline", "off"]

# Secrets shorter than this are refused outside development: HS256 keys should carry at
# least as many bits as the hash (RFC 7518, section 3.2), i.e. 32 bytes.
MIN_SECRET_LENGTH = 32
PLACEHOLDER_SECRETS = frozenset({"changethis", "secret", "password", "dev", "development"})
# A long secret of few different characters (32 spaces) is long but not random.
MIN_SECRET_DISTINCT_CHARACTERS = 12
# Passwords of new accounts and changed passwords (DTBase's own tests use 8 characters).
MIN_PASSWORD_LENGTH = 8

DEFAULT_USER_EMAIL = "default_user@localhost"

# The local services host (`dtbase services serve`, `dtbase up`) on its default port.
DEFAULT_SERVICE_URL_ALLOWLIST = "localhost:7071,127.0.0.1:7071,[::1]:7071"

# `npm ci` at the top of a checkout installs the JavaScript and CSS that dtbase serves.
CHECKOUT_ASSETS = Path(__file__).resolve().parents[2] / "node_modules"


class DtSettings(BaseSettings):
    """What every deployable shares: the environment and where local data lives."""

    model_config = SettingsConfigDict(env_prefix="DT_", extra="ignore")

    environment: Environment = "production"
    data_dir: Path = Path(".dtbase")
    assets_dir: Path = CHECKOUT_ASSETS

    @property
    def kept_password_file(self) -> Path:
        """Where `dtbase up` keeps the default user's generated password."""
        return self.data_dir / "default_user_password"


class DatabaseSettings(DtSettings):
    """Where the database is: a full URL, DTBase's parts, or else the embedded server."""

    database_url: str | None = None
    sql_host: str | None = None
    sql_port: int = 5432
    sql_user: str = "postgres"
    sql_pass: SecretStr = SecretStr("")
    sql_dbname: str = "dtbase"
    embedded_port: int = Field(default=5433, ge=1, le=65535)

    def external_database_url(self) -> str | None:
        """The URL of a database that dtbase does not run itself, if one is configured."""
        if self.database_url:
            return _with_psycopg_driver(self.database_url)
        if self.sql_host:
            # Quoted once (DTBase quoted twice, breaking passwords with reserved characters).
            password = quote(self.sql_pass.get_secret_value(), safe="")
            user = quote(self.sql_user, safe="")
            return (
                f"postgresql+psycopg://{user}:{password}@{self.sql_host}:{self.sql_port}"
                f"/{self.sql_dbname}"
            )
        return None


class BackendSettings(DatabaseSettings):
    """Settings of the FastAPI backend."""

    jwt_secret_key: SecretStr | None = None
    jwt_access_token_expires_seconds: int = Field(default=3600, gt=0)
    jwt_refresh_token_grace_seconds: int = Field(default=3600, ge=0)
    default_user_pass: SecretStr | None = None
    service_timeout_seconds: float = Field(default=30.0, gt=0)
    # The backend runs due service schedules (several backends on one database may).
    scheduler_enabled: bool = True
    scheduler_interval_seconds: float = Field(default=5.0, gt=0)
    # Roll up newly written readings in the background every so many seconds (0: only when
    # a downsampled read needs them).
    rollup_refresh_seconds: float = Field(default=10.0, ge=0)
    # Event triggers (docs/events.md, "Triggers"): whether this backend runs the worker
    # that starts their runs (several backends on one database may), how often it looks,
    # and the loop guard's default cap on a trigger's runs within an hour.
    trigger_worker_enabled: bool = True
    trigger_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    trigger_max_runs_per_hour: int = Field(default=60, ge=1, le=100_000)
    # Threads recording the answers of scheduled runs and run-service with "wait": false
    # (the calls themselves wait on an event loop, not on threads).
    background_run_workers: int = Field(default=4, ge=1, le=64)
    # Bulk ingest checks foreign keys once per request instead of once per row, where the
    # database role may (see dtbase.backend.timeseries.foreign_keys); false: always per row.
    ingest_fk_shortcut: bool = True
    # Events (docs/events.md) older than this are deleted in the background.
    events_retention_days: float = Field(default=7.0, gt=0)
    # --- outbound service calls (docs/services.md, "Calling services safely") ---
    # Where services may be registered: comma-separated host names (`services`,
    # `*.example.org`), `host:port`, IP addresses or networks (`10.0.0.0/8`), or `*`.
    service_url_allowlist: str = DEFAULT_SERVICE_URL_ALLOWLIST
    # The largest reply of a service that is read and stored; a larger one fails the run.
    service_reply_max_bytes: int = Field(default=1_000_000, ge=1024, le=50_000_000)
    # Background and scheduled runs of one service called at once; more wait their turn.
    service_concurrent_runs: int = Field(default=4, ge=1, le=256)
    # --- webhooks (docs/events.md, "Webhooks") ---
    # Where webhooks may be sent, by the rules of DT_SERVICE_URL_ALLOWLIST (unset: its value).
    webhook_url_allowlist: str | None = None
    # This backend process delivers webhooks (several processes on one database may).
    webhook_delivery_enabled: bool = True
    # Subscriptions delivered at once by this process (one connection to the database each).
    webhook_workers: int = Field(default=2, ge=1, le=8)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    # Failed deliveries in a row that disable a subscription.
    webhook_max_failures: int = Field(default=10, ge=1, le=1000)
    # The wait before the first retry; it doubles after each failure, up to the maximum.
    webhook_retry_seconds: float = Field(default=5.0, gt=0)
    webhook_retry_max_seconds: float = Field(default=3600.0, gt=0)
    # The CloudEvents `source` of every event sent: set it to the backend's public URL.
    webhook_source: str = Field(default="dtbase", min_length=1)
    # Login throttling, shared by every backend process through the database: failed
    # logins per account and per client address within a window get 429 and Retry-After.
    login_failures_per_account: int = Field(default=10, ge=1)
    login_failures_per_address: int = Field(default=100, ge=1)
    login_window_seconds: int = Field(default=900, ge=1)
    # Passwords hashed or checked at once (argon2 is deliberately slow); more logins and
    # password changes wait in a queue of their own, not in the threads that serve others.
    password_hash_workers: int = Field(default=1, ge=1, le=16)
    backend_host: str = "127.0.0.1"
    backend_port: int = Field(default=5000, ge=1, le=65535)
    # uvicorn worker processes of `dtbase serve backend` (the image); None: one per core.
    backend_workers: int | None = Field(default=None, ge=1, le=64)
    # Where the background jobs (scheduler, rollups, webhooks, triggers, pruning) run for
    # `dtbase serve backend`: "process", one jobs process beside its workers, which run
    # none; "inline", in each worker; "off", not in this backend (`dtbase serve jobs`
    # runs them elsewhere). A backend served otherwise (`uvicorn --factory`) runs them
    # in-process unless "off" (docs/deployment.md, "Background jobs").
    backend_jobs: BackendJobs = "process"
    # uvicorn's access log (a line per request) in `dtbase serve backend`: off by default,
    # as it costs every request time in the event loop (see docs/performance.md).
    backend_access_log: bool = False
    # How long `dtbase serve backend` keeps an idle kept-alive connection open. It must be
    # longer than the idle timeout of whatever is in front of it (a proxy, a load balancer,
    # a client's pool), or one of them reuses a connection the server is closing that moment
    # and gets an error, not knowing whether its request was applied. uvicorn's own
    # default is 5 s; 75 s is nginx's.
    backend_keep_alive_seconds: int = Field(default=75, ge=1, le=3600)
    # For `bench/load.py`: each answer says when (CLOCK_MONOTONIC, shared by every process
    # of the machine) the application got the request and began its answer, so that a
    # client on the same machine can tell waiting outside the backend from time in it.
    backend_timing_stamps: bool = False

    @model_validator(mode="after")
    def _refuse_weak_secret_outside_development(self) -> Self:
        if self.environment == "development":
            return self
        problem = secret_problem(self.jwt_secret_key)
        if problem:
            raise ValueError(
                f"DT_JWT_SECRET_KEY {problem}. Outside development (DT_ENVIRONMENT="
                f"{self.environment}) the backend needs a random secret of at least "
                f"{MIN_SECRET_LENGTH} characters, e.g. from "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
            )
        password = self.default_user_pass
        if password is not None and len(password.get_secret_value()) < MIN_PASSWORD_LENGTH:
            raise ValueError(
                f"DT_DEFAULT_USER_PASS is shorter than {MIN_PASSWORD_LENGTH} characters. "
                "Outside development the default admin needs a real password (or leave it "
                "unset to disable the default user)."
            )
        return self


class FrontendSettings(DtSettings):
    """Settings of the Flask web app; it reaches the backend only over HTTP."""

    backend_url: str = "http://localhost:5000"
    front_secret_key: SecretStr | None = None
    frontend_host: str = "127.0.0.1"
    frontend_port: int = Field(default=8000, ge=1, le=65535)
    # `dtbase serve frontend` (gunicorn): processes, and threads in each.
    frontend_workers: int = Field(default=2, ge=1, le=64)
    frontend_threads: int = Field(default=4, ge=1, le=64)
    # Live pages (event streams relayed from the backend) each process serves at once; each
    # holds a thread of its own, given on top of `frontend_threads`. 0 turns them off.
    frontend_streams: int = Field(default=16, ge=0, le=1000)
    # The session cookie's Secure flag (sent over HTTPS only). None: on, except in
    # development. Turn it off only for a site served over plain HTTP on a trusted network.
    session_cookie_secure: bool | None = None
    # Reverse proxies in front of the frontend that set X-Forwarded-For/-Proto: their
    # headers tell the visitor's address (passed on to the backend's login throttling).
    frontend_proxies: int = Field(default=0, ge=0, le=5)
    # The largest request the frontend takes, in MiB: an uploaded CSV file of readings.
    max_upload_mb: int = Field(default=100, ge=1, le=10_000)

    @model_validator(mode="after")
    def _refuse_weak_secret_outside_development(self) -> Self:
        if self.environment == "development":
            return self
        problem = secret_problem(self.front_secret_key)
        if problem:
            raise ValueError(
                f"DT_FRONT_SECRET_KEY {problem}. Outside development the frontend needs a "
                f"random secret of at least {MIN_SECRET_LENGTH} characters to sign sessions."
            )
        return self


class ServicesHostSettings(DtSettings):
    """Where the local services host listens (Azure Functions' local port by default)."""

    services_host: str = "127.0.0.1"
    services_port: int = Field(default=7071, ge=1, le=65535)


class ClientSettings(BaseSettings):
    """Where a client (frontend, services, scripts) finds the backend."""

    model_config = SettingsConfigDict(env_prefix="DT_", extra="ignore")

    backend_url: str = "http://localhost:5000"


def secret_problem(secret: SecretStr | None) -> str | None:
    """Why a secret is unfit for production, or None when it is fine."""
    if secret is None or not secret.get_secret_value():
        return "is not set"
    value = secret.get_secret_value()
    if value.lower() in PLACEHOLDER_SECRETS:
        return "is a placeholder"
    if len(value) < MIN_SECRET_LENGTH:
        return f"is shorter than {MIN_SECRET_LENGTH} characters"
    if len(set(value)) < MIN_SECRET_DISTINCT_CHARACTERS:
        return f"has fewer than {MIN_SECRET_DISTINCT_CHARACTERS} different characters"
    return None


def _with_psycopg_driver(url: str) -> str:
    """SQLAlchemy picks psycopg2 for a bare postgresql:// URL; dtbase uses psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url
