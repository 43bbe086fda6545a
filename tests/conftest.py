"""Test fixtures: one real embedded PostgreSQL per test session, a real backend over HTTP.

Each test starts from an empty database (tables truncated, sequences restarted, default
user restored), because the backend runs in a server thread and commits for real.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, make_url, text

from dtbase.backend import migrate
from dtbase.backend.app import create_app
from dtbase.backend.db import make_engine, make_session_factory
from dtbase.backend.tables import Base
from dtbase.backend.users import store as users_store
from dtbase.client import Client
from dtbase.core.settings import DEFAULT_USER_EMAIL, BackendSettings
from dtbase.devdb import FAST_UNSAFE_OPTIONS, EmbeddedPostgres, free_port
from tests.utils.accounts import UserFactory, logged_in
from tests.utils.servers import served
from tests.utils.settings import DEFAULT_PASSWORD, JWT_SECRET, LOCAL_SERVICES
from tests.utils.stub_service import StubService, serve_stub


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = EmbeddedPostgres(
        tmp_path_factory.mktemp("postgres") / "pgdata", free_port(), options=FAST_UNSAFE_OPTIONS
    )
    url = server.start()
    migrate.upgrade(url)
    yield url
    server.stop()


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> BackendSettings:
    return BackendSettings(
        environment="production",
        jwt_secret_key=SecretStr(JWT_SECRET),
        default_user_pass=SecretStr(DEFAULT_PASSWORD),
        data_dir=tmp_path_factory.mktemp("data"),
        # Schedules fire on the real clock; the scheduler's own tests drive it themselves.
        scheduler_enabled=False,
        # Rollups are refreshed by the reads under test; the refresher's own test starts it.
        rollup_refresh_seconds=0,
        service_url_allowlist=LOCAL_SERVICES,
        # Webhooks' own tests start backends that deliver (tests/events/test_webhook*.py).
        webhook_delivery_enabled=False,
    )


@pytest.fixture(scope="session")
def live_backend(superuser_backend: str) -> str:
    """The backend served by uvicorn on a free port, for the whole test session. A module
    whose tests must hold under both kinds of database role overrides it with
    `backend_of_each_role`."""
    return superuser_backend


@pytest.fixture(scope="session")
def superuser_backend(settings: BackendSettings, database_url: str) -> Iterator[str]:
    with served(create_app(settings, database_url=database_url)) as url:
        yield url


PLAIN_ROLE = "dtbase_app"


@pytest.fixture(scope="session")
def plain_role_url(database_url: str, engine: Engine) -> Iterator[str]:
    """The database as a plain role: it may read and write every table but owns nothing
    and may not set `session_replication_role`, as the role an application gets on a
    managed database (Azure, RDS). The tests' own role is a superuser, which takes the
    shortcuts only a superuser may (bulk ingest's foreign keys checked once)."""
    grants = [
        f"CREATE ROLE {PLAIN_ROLE} LOGIN",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {PLAIN_ROLE}",
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {PLAIN_ROLE}",
    ]
    with engine.begin() as connection:
        for grant in grants:
            connection.execute(text(grant))
    yield make_url(database_url).set(username=PLAIN_ROLE).render_as_string(hide_password=False)
    with engine.begin() as connection:
        connection.execute(text(f"DROP OWNED BY {PLAIN_ROLE}"))
        connection.execute(text(f"DROP ROLE {PLAIN_ROLE}"))


@pytest.fixture(scope="session")
def plain_role_backend(settings: BackendSettings, plain_role_url: str) -> Iterator[str]:
    with served(create_app(settings, database_url=plain_role_url)) as url:
        yield url


@pytest.fixture(params=["superuser", "plain role"])
def database_url_of_each_role(request: pytest.FixtureRequest) -> str:
    """The database URL as each kind of role, in turn (see `plain_role_url`)."""
    name = "database_url" if request.param == "superuser" else "plain_role_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture(params=["superuser", "plain role"])
def backend_of_each_role(request: pytest.FixtureRequest) -> str:
    """The live backend connected as each kind of role, in turn (see `plain_role_url`)."""
    name = "superuser_backend" if request.param == "superuser" else "plain_role_backend"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
def clean_database(engine: Engine) -> Iterator[None]:
    yield
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with make_session_factory(engine).begin() as session:
        session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        users_store.ensure_default_user(session, password=DEFAULT_PASSWORD)


@pytest.fixture
def anonymous(live_backend: str, clean_database: None) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_backend, timeout=30) as client:
        yield client


@pytest.fixture
def admin(live_backend: str, clean_database: None) -> Iterator[httpx.Client]:
    """A client logged in as the default user (an admin)."""
    with httpx.Client(base_url=live_backend, timeout=30) as client:
        yield logged_in(client, DEFAULT_USER_EMAIL, DEFAULT_PASSWORD)


@pytest.fixture
def client(live_backend: str, clean_database: None) -> Iterator[Client]:
    """dtbase's own typed client, logged in as the default user (an admin)."""
    with Client.logged_in(live_backend, DEFAULT_USER_EMAIL, DEFAULT_PASSWORD) as client:
        yield client


@pytest.fixture
def user_factory(live_backend: str, admin: httpx.Client) -> Iterator[UserFactory]:
    factory = UserFactory(live_backend, admin)
    yield factory
    factory.close()


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture
def stub() -> Iterator[StubService]:
    """A service the backend can call (see `StubService`), for the test."""
    with serve_stub() as stub:
        yield stub
