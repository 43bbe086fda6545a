"""The `dtbase` command as a newcomer uses it, in real subprocesses."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from alembic.script import ScriptDirectory

from dtbase.backend import migrate
from dtbase.devdb import EmbeddedPostgres, free_port
from tests.utils.cli import cli_environment, started_up
from tests.utils.processes import interruptible
from tests.utils.settings import DEFAULT_PASSWORD

LOGIN_LINE = re.compile(r"login\s+(\S+) / (\S+)")


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    return cli_environment(tmp_path / "data")


def _dtbase(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "dtbase", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@contextmanager
def _up(
    env: dict[str, str], *options: str, output: list[str] | None = None
) -> Iterator[tuple[str, str | None, str, str]]:
    """Run `dtbase up`; yield (backend URL, frontend URL or None when it is not started,
    email, password); stop: Ctrl-C. All it printed is appended to `output`."""
    process, printed = started_up(env, *options, timeout=60)
    backend = re.search(r"backend\s+(http://\S+)", printed)
    frontend = re.search(r"frontend\s+(http://\S+)", printed)
    login = LOGIN_LINE.search(printed)
    assert backend, printed
    assert login, printed
    try:
        yield (
            backend.group(1),
            frontend.group(1) if frontend else None,
            login.group(1),
            login.group(2),
        )
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    if output is not None:
        output.append(printed + rest)
    assert process.returncode == 0, printed + rest
    assert "dtbase stopped." in rest


def test_up_serves_a_backend_that_keeps_its_users_across_restarts(
    cli_env: dict[str, str],
) -> None:
    with _up(cli_env) as (url, frontend, email, password):
        assert email == "default_user@localhost"
        assert frontend == f"http://127.0.0.1:{cli_env['DT_FRONTEND_PORT']}"
        login_page = httpx.get(f"{frontend}/login")
        assert login_page.status_code == 200
        assert "csrf_token" in login_page.text
        tokens = httpx.post(f"{url}/auth/login", json={"email": email, "password": password})
        assert tokens.status_code == 200
        auth = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
        created = httpx.post(
            f"{url}/user/create-user",
            json={"email": "kept@example.com", "password": "kept-password"},
            headers=auth,
        )
        assert created.status_code == 201
        assert httpx.get(f"{url}/docs").status_code == 200
        services = _registered_services(url, auth)
        assert services, "up registers the example services with the backend"
        for service in services:
            assert service["url"].startswith(f"http://127.0.0.1:{cli_env['DT_SERVICES_PORT']}/api/")

    pgdata = Path(cli_env["DT_DATA_DIR"]).resolve() / "pgdata"
    assert EmbeddedPostgres(pgdata, int(cli_env["DT_EMBEDDED_PORT"])).running_port() is None

    with _up(cli_env, "--demo") as (url, _, _, second_password):
        assert second_password == password
        login = {"email": "kept@example.com", "password": "kept-password"}
        assert httpx.post(f"{url}/auth/login", json=login).status_code == 200
        assert _eventually(
            lambda: httpx.post(f"{url}/sensor/list-sensors", json={}, headers=auth).json()
        )


# A base install (`pip install dtbase`): none of the extras' packages can be imported.
BASE_INSTALL = """
import sys
from importlib.machinery import PathFinder

HIDDEN = {"numpy", "scipy", "statsmodels", "pandas", "pyfdb", "eccodes", "flask", "azure"}


class BaseInstall(PathFinder):
    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if fullname.partition(".")[0] in HIDDEN:
            return None
        return super().find_spec(fullname, path, target)


sys.meta_path[sys.meta_path.index(PathFinder)] = BaseInstall
"""


@pytest.fixture
def base_install_env(cli_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """`cli_env` in which the extras are not installed, as far as Python can tell."""
    site = tmp_path / "base-install"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BASE_INSTALL)
    paths = [str(site), *filter(None, [cli_env.get("PYTHONPATH")])]
    env = {**cli_env, "PYTHONPATH": os.pathsep.join(paths)}
    probe = subprocess.run(
        [sys.executable, "-c", "import numpy"], env=env, capture_output=True, text=True
    )
    assert "No module named 'numpy'" in probe.stderr
    return env


def test_up_demo_runs_in_a_base_install_and_says_what_it_skips(
    base_install_env: dict[str, str],
) -> None:
    """Issue 17: the demo needed numpy; its thread died with a traceback nobody read."""
    output: list[str] = []
    with _up(base_install_env, "--demo", output=output) as (url, frontend, email, password):
        assert frontend is None
        tokens = httpx.post(f"{url}/auth/login", json={"email": email, "password": password})
        auth = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
        now = datetime.now(UTC)
        latest = {
            "measure_name": "temperature",
            "unique_identifier": "demo-climate-lab",
            "dt_from": (now - timedelta(minutes=10)).isoformat(),
            "dt_to": (now + timedelta(minutes=1)).isoformat(),
        }
        readings = _eventually(
            lambda: httpx.post(f"{url}/sensor/sensor-readings", json=latest, headers=auth).json(),
            seconds=120,
        )
        # The demo ends when it is loaded: its last reading is less than 10 minutes old.
        assert readings, "no demo reading in the last 10 minutes"
        schedules = _eventually(
            lambda: httpx.post(f"{url}/service/list-schedules", json={}, headers=auth).json()
        )
        assert [s["name"] for s in schedules] == ["demo-weather"]

    [printed] = output
    assert "frontend  not started: the frontend extra is not installed" in printed
    assert "Demo data added: " in printed
    assert "arima not scheduled: the arima extra is not installed" in printed
    assert "fdb_export not scheduled: the fdb extra is not installed" in printed
    assert "Traceback" not in printed
    # A scheduled weather run that is under way when Ctrl-C stops every server at once
    # fails (its service cannot log in to a backend that has stopped listening), and says
    # so; until then nothing could not be done.
    before_stopping, _ = printed.split("Shutting down", 1)
    assert "Could not" not in before_stopping


def test_a_failure_in_up_s_background_work_is_told(capfd: pytest.CaptureFixture[str]) -> None:
    from dtbase.cli import up

    def work() -> None:
        raise ModuleNotFoundError("No module named 'numpy'")

    up._in_background("load the demo data", work).join(timeout=10)

    err = capfd.readouterr().err
    assert "Traceback" in err
    assert err.endswith(
        "Could not load the demo data: ModuleNotFoundError: No module named 'numpy'\n"
    )


def _registered_services(url: str, auth: dict[str, str]) -> list[dict[str, str]]:
    services: list[dict[str, str]] = _eventually(
        lambda: httpx.get(f"{url}/service/list-services", headers=auth).json()
    )
    return services


def _eventually(ask: Callable[[], Any], seconds: float = 60) -> Any:
    """The first non-empty answer to `ask` within `seconds` (work done in the background)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = ask()
        if answer:
            return answer
        time.sleep(0.2)
    return ask()


def test_user_and_db_commands(cli_env: dict[str, str]) -> None:
    port = cli_env["DT_EMBEDDED_PORT"]
    assert _dtbase(cli_env, "db", "url").strip() == (
        f"postgresql+psycopg://postgres@127.0.0.1:{port}/dtbase"
    )
    url = _dtbase(cli_env, "db", "start").strip().replace("+psycopg", "")
    try:
        assert "0002" in _dtbase(cli_env, "db", "upgrade", "0002")
        assert _schema_revision(url) == "0002"
        _dtbase(cli_env, "db", "upgrade")
        assert _schema_revision(url) == _head(url)
    finally:
        _dtbase(cli_env, "db", "stop")

    _dtbase(
        cli_env,
        "user",
        "create",
        "ana@example.com",
        "--role",
        "viewer",
        stdin="password\npassword\n",
    )
    _dtbase(cli_env, "user", "create", "bo@example.com", "--password", "password")
    _dtbase(cli_env, "user", "set-password", "bo@example.com", "--password", "new password")
    _dtbase(cli_env, "user", "delete", "ana@example.com")

    assert _dtbase(cli_env, "user", "list").splitlines() == ["bo@example.com\tuser"]


def test_a_user_created_dtbase_s_way_is_given_the_role_to_manage_users(
    cli_env: dict[str, str], admin: httpx.Client, database_url: str, live_backend: str
) -> None:
    """Issue 17: DTBase has no roles. A user created its way (no role) is a `user` here and
    may not list users, until `dtbase user set-role` (README: Moving from DTBase)."""
    login = {"email": "from-dtbase@example.com", "password": "their password"}
    assert admin.post("/user/create-user", json=login).status_code == 201
    env = {**cli_env, "DT_DATABASE_URL": database_url}
    with httpx.Client(base_url=live_backend) as them:
        token = them.post("/auth/login", json=login).json()["access_token"]
        them.headers["Authorization"] = f"Bearer {token}"
        assert them.get("/user/list-users").status_code == 403

        printed = _dtbase(env, "user", "set-role", "from-dtbase@example.com", "admin")

        assert printed == "from-dtbase@example.com is now admin.\n"
        listed = them.get("/user/list-users")
        assert listed.status_code == 200
        assert "from-dtbase@example.com" in listed.json()

    unknown = _failing(env, "user", "set-role", "ghost@example.com", "admin")
    assert (unknown.returncode, unknown.stderr) == (1, "Error: User doesn't exist\n")
    no_such_role = _failing(env, "user", "set-role", "from-dtbase@example.com", "owner")
    assert no_such_role.returncode == 2
    assert "'owner' is not one of" in no_such_role.stderr
    _dtbase(env, "user", "set-role", "from-dtbase@example.com", "viewer")
    last_admin = _failing(env, "user", "set-role", "default_user@localhost", "user")
    assert (last_admin.returncode, last_admin.stderr) == (
        1,
        "Error: This is the last admin: make another user admin first\n",
    )
    users = _dtbase(env, "user", "list").splitlines()
    assert users == ["default_user@localhost\tadmin", "from-dtbase@example.com\tviewer"]


def _failing(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dtbase", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _head(url: str) -> str | None:
    return ScriptDirectory.from_config(migrate.alembic_config(url)).get_current_head()


def _schema_revision(url: str) -> str:
    with psycopg.connect(url) as connection:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    assert row is not None
    return str(row[0])


def test_cli_errors_are_clear(cli_env: dict[str, str]) -> None:
    bad = subprocess.run(
        [sys.executable, "-m", "dtbase", "user", "delete", "ghost@example.com"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 1
    assert "User doesn't exist" in bad.stderr

    invalid = subprocess.run(
        [sys.executable, "-m", "dtbase", "user", "create", "not-an-email", "--password", "p"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert invalid.returncode == 2
    assert "not a valid email address" in invalid.stderr

    short = subprocess.run(
        [
            sys.executable,
            "-m",
            "dtbase",
            "user",
            "set-password",
            "a@example.com",
            "--password",
            "1",
        ],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert short.returncode == 2
    assert "at least 8 characters" in short.stderr


def test_production_backend_refuses_to_start_without_a_secret(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "DT_ENVIRONMENT": "production", "DT_JWT_SECRET_KEY": "short"}

    result = subprocess.run(
        [sys.executable, "-m", "dtbase", "up"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode != 0
    assert "DT_JWT_SECRET_KEY is shorter than 32 characters" in result.stderr


@pytest.fixture
def schedule_env(cli_env: dict[str, str], client: Any, live_backend: str) -> dict[str, str]:
    """`dtbase services schedule` pointed at the test backend, with one service."""
    client.services.insert_service("svc", "http://127.0.0.1:9/svc", "POST")
    client.services.insert_parameter_set("svc", "set", {"from": "set"})
    return {**cli_env, "DT_BACKEND_URL": live_backend, "DT_DEFAULT_USER_PASS": DEFAULT_PASSWORD}


def _schedule_cli(
    env: dict[str, str], *args: str, code: int = 0
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "dtbase", "services", "schedule", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == code, result.stdout + result.stderr
    return result


def _listed(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    rows = json.loads(_schedule_cli(env, "list", "--json").stdout)
    return {row["name"]: row for row in rows}


def test_schedules_from_the_command_line(schedule_env: dict[str, str], client: Any) -> None:
    start = "2031-01-01T00:02:00Z"
    added = _schedule_cli(
        schedule_env,
        "add",
        "svc",
        "often",
        "--every",
        "10m",
        "--parameters",
        '{"a": 1}',
        "--start-at",
        start,
    )
    assert "Scheduled svc/often: every 600 s, next 2031-01-01T00:02:00+00:00." in added.stdout
    _schedule_cli(
        schedule_env,
        "add",
        "svc",
        "nightly",
        "--cron",
        "0 3 * * *",
        "--time-zone",
        "Europe/London",
        "--parameter-set",
        "set",
        "--disabled",
    )

    schedules = _listed(schedule_env)
    assert schedules["often"]["interval_seconds"] == 600
    assert schedules["often"]["parameters"] == {"a": 1}
    assert schedules["often"]["next_run_at"] == "2031-01-01T00:02:00Z"
    assert schedules["nightly"]["cron"] == "0 3 * * *"
    assert schedules["nightly"]["time_zone"] == "Europe/London"
    assert schedules["nightly"]["parameter_set_name"] == "set"
    assert schedules["nightly"]["enabled"] is False
    # The same through the API: the command wrote what the API lists.
    assert {s.name for s in client.services.list_schedules("svc")} == {"often", "nightly"}
    text = _schedule_cli(schedule_env, "list").stdout
    assert "svc/often  every 600 s  own parameters  enabled" in text
    assert "svc/nightly  cron '0 3 * * *' (Europe/London)  set 'set'  disabled" in text

    _schedule_cli(schedule_env, "enable", "svc", "nightly")
    assert "Disabled svc/often." in _schedule_cli(schedule_env, "disable", "svc", "often").stdout
    schedules = _listed(schedule_env)
    assert schedules["nightly"]["enabled"] is True
    assert schedules["often"]["enabled"] is False

    _schedule_cli(schedule_env, "delete", "svc", "often")
    # Beside `dtbase up`, the password it keeps in the data directory is enough.
    kept = Path(schedule_env["DT_DATA_DIR"]) / "default_user_password"
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_text(DEFAULT_PASSWORD + "\n")
    without_password = {k: v for k, v in schedule_env.items() if k != "DT_DEFAULT_USER_PASS"}
    assert set(_listed(without_password)) == {"nightly"}


def test_schedule_command_errors_are_clear(schedule_env: dict[str, str], client: Any) -> None:
    unknown = _schedule_cli(schedule_env, "add", "ghost", "s", "--every", "60", code=1)
    assert "Error: Service does not exist." in unknown.stderr
    bad_cron = _schedule_cli(schedule_env, "add", "svc", "s", "--cron", "61 * * * *", code=1)
    assert "Error: cron:" in bad_cron.stderr
    both = _schedule_cli(
        schedule_env, "add", "svc", "s", "--every", "60", "--cron", "* * * * *", code=2
    )
    assert "either --cron or --every" in both.stderr
    not_json = _schedule_cli(
        schedule_env, "add", "svc", "s", "--every", "60", "--parameters", "{nope", code=2
    )
    assert "not JSON" in not_json.stderr
    bad_every = _schedule_cli(schedule_env, "add", "svc", "s", "--every", "soon", code=2)
    assert "90s, 10m, 1h, 1d" in bad_every.stderr
    missing = _schedule_cli(schedule_env, "delete", "svc", "ghost", code=1)
    assert "Error: Schedule does not exist." in missing.stderr
    wrong_password = _schedule_cli(schedule_env, "list", "--password", "wrong", code=1)
    assert "Cannot log in" in wrong_password.stderr
    nowhere = {**schedule_env, "DT_BACKEND_URL": f"http://127.0.0.1:{free_port()}"}
    unreachable = _schedule_cli(nowhere, "list", code=1)
    assert "Cannot reach the backend" in unreachable.stderr
    # Nothing was written by the failed commands.
    assert client.services.list_schedules() == []


def test_fake_weather_serves_one_call_until_ctrl_c(cli_env: dict[str, str]) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "dtbase", "services", "fake-weather", "--port", str(port)],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=interruptible,
    )
    assert process.stdout is not None
    try:
        first = process.stdout.readline()
        second = process.stdout.readline()
        base_url = f"http://127.0.0.1:{port}/data/3.0"
        assert first.strip() == f"Fake OpenWeatherMap on {base_url}"
        assert (
            second.strip() == f"Point the weather service at it: DT_OPENWEATHERMAP_URL={base_url}"
        )
        query: dict[str, str | float] = {
            "lat": 51.53,
            "lon": -0.127,
            "units": "metric",
            "appid": "any",
        }
        response = httpx.get(f"{base_url}/onecall", params=query, timeout=10)
        assert response.status_code == 200
        assert len(response.json()["hourly"]) == 48
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    assert process.returncode == 0


def test_demo_points_the_weather_service_at_a_fake_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dtbase.cli import up

    monkeypatch.setenv("DT_OPENWEATHERMAP_URL", "https://api.openweathermap.org/data/3.0")
    assert up._start_fake_weather() is None

    monkeypatch.delenv("DT_OPENWEATHERMAP_URL")
    # Set, then removed: so monkeypatch removes what `up` sets, after the test.
    monkeypatch.setenv("DT_OPENWEATHERMAP_APIKEY", "")
    monkeypatch.delenv("DT_OPENWEATHERMAP_APIKEY")
    fake = up._start_fake_weather()
    assert fake is not None
    try:
        assert os.environ["DT_OPENWEATHERMAP_URL"] == fake.base_url
        key = os.environ["DT_OPENWEATHERMAP_APIKEY"]
        query = {"lat": "51.5", "lon": "0", "units": "metric", "appid": key}
        assert httpx.get(f"{fake.base_url}/onecall", params=query).status_code == 200
    finally:
        fake.stop()


def test_db_revision_writes_the_next_numbered_lint_clean_migration(
    database_url: str, tmp_path: Path, repo_root: Path
) -> None:
    """A forker's first `db revision`: numbered after the head, dated, and clean for ruff."""
    scratch = database_url.rsplit("/", 1)[0] + "/revision_probe"
    admin = psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True)
    admin.execute("DROP DATABASE IF EXISTS revision_probe")
    admin.execute("CREATE DATABASE revision_probe")
    try:
        migrate.upgrade(scratch)
        # The ORM now has what this database lacks: a column and an index's worth of diff.
        with psycopg.connect(scratch.replace("+psycopg", ""), autocommit=True) as probe:
            probe.execute("ALTER TABLE sensor_measure DROP COLUMN units")
        versions = tmp_path / "versions"
        versions.mkdir()
        for script in (migrate.MIGRATIONS / "versions").glob("*.py"):
            (versions / script.name).write_text(script.read_text())
        head = ScriptDirectory.from_config(migrate.alembic_config(scratch)).get_current_head()
        assert head is not None

        written = migrate.revision(scratch, "Sensor measure units again", versions=versions)
    finally:
        admin.execute("DROP DATABASE IF EXISTS revision_probe WITH (FORCE)")
        admin.close()

    number = f"{int(head) + 1:04d}"
    assert re.fullmatch(
        rf"\d{{4}}_\d{{2}}_\d{{2}}_{number}_sensor_measure_units_again\.py", written.name
    )
    text = written.read_text()
    assert f'revision: str = "{number}"' in text
    assert f'down_revision: str | None = "{head}"' in text
    assert 'op.add_column("sensor_measure"' in text
    ruff = [sys.executable, "-m", "ruff"]
    for check in (["check", "--no-cache"], ["format", "--check", "--no-cache"]):
        result = subprocess.run(
            [*ruff, *check, str(written)], cwd=repo_root, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + text


def test_db_revision_refuses_to_number_after_an_unnumbered_head() -> None:
    class Scripts:
        def get_current_head(self) -> str:
            return "1975de39a6ab"

    with pytest.raises(ValueError, match="not numbered"):
        migrate.next_revision_number(Scripts())  # type: ignore[arg-type]


def test_fdb_commands_log_in_with_the_password_up_keeps(
    client: Any, live_backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Like the schedule commands, the FDB commands work beside `up` with nothing set."""
    from typer.testing import CliRunner

    from dtbase.core.settings import DatabaseSettings
    from dtbase.fdb.commands import fdb_app

    monkeypatch.setenv("DT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DT_DEFAULT_USER_PASS", raising=False)
    monkeypatch.delenv("DT_FDB_CONFIG", raising=False)
    kept = DatabaseSettings().kept_password_file
    kept.parent.mkdir(parents=True)
    kept.write_text(DEFAULT_PASSWORD + "\n")

    listed = CliRunner().invoke(fdb_app, ["list", "--backend-url", live_backend])
    assert listed.exit_code == 0, listed.output
    assert "The FDB holds no run." in listed.output

    kept.unlink()
    refused = CliRunner().invoke(fdb_app, ["list", "--backend-url", live_backend])
    assert refused.exit_code == 1
    assert "No password: give --password or set DT_DEFAULT_USER_PASS" in refused.output
