"""The Dockerfiles, docker-compose.yml, .env.example and .dockerignore, read and checked
without a Docker engine: entry points that exist (run here with --help), ports that agree
everywhere, environment variables dtbase reads, small non-root images, health-based order.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dtbase.core.settings import BackendSettings, DatabaseSettings, FrontendSettings
from infrastructure import apps as stack_apps
from tests.infrastructure.deploy_files import (
    COMPOSE_FILE,
    DOCKERFILES,
    ROOT,
    Dockerfile,
    commands,
    dockerignore_patterns,
    dtbase_environment_variables,
    env_example,
    exec_form,
    healthcheck_command,
    ignored,
    interpolate,
    interpolations,
    load_compose,
    option_value,
    parse_dockerfile,
)

DTBASE = Path(sys.executable).with_name("dtbase")
# Read by uvicorn, which serves the backend (`dtbase serve backend`), not by dtbase.
UVICORN_VARIABLES = frozenset({"FORWARDED_ALLOW_IPS"})

# The port each image serves on, as dtbase's settings (or the Functions host) define it.
PORTS = {
    "backend": BackendSettings.model_fields["backend_port"].default,
    "frontend": FrontendSettings.model_fields["frontend_port"].default,
    "functions": stack_apps.FUNCTIONS_PORT,
}
PULUMI_PORTS = {
    "backend": stack_apps.BACKEND_PORT,
    "frontend": stack_apps.FRONTEND_PORT,
    "functions": stack_apps.FUNCTIONS_PORT,
}
# The compose service built from each Dockerfile, serving on its port.
COMPOSE_SERVICES = {"backend": "backend", "frontend": "frontend", "functions": "services"}
# Example values for the variables compose takes from .env.
ENV_VALUES = {
    "POSTGRES_PASSWORD": "pg pass/with:reserved@chars",
    "DT_JWT_SECRET_KEY": "a-compose-jwt-secret-that-is-long-enough-0123456789",
    "DT_FRONT_SECRET_KEY": "a-compose-frontend-secret-long-enough-0123456789",
    "DT_DEFAULT_USER_PASS": "compose-default-user-password",
    "DT_OPENWEATHERMAP_APIKEY": "",
}


@pytest.fixture(scope="module")
def dockerfiles() -> dict[str, Dockerfile]:
    return {part: parse_dockerfile(path) for part, path in DOCKERFILES.items()}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


def dtbase_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The compose services that run a dtbase image (built from this repository)."""
    return {name: s for name, s in compose["services"].items() if "build" in s}


def service_commands(
    dockerfiles: dict[str, Dockerfile], compose: dict[str, Any]
) -> list[list[str]]:
    """Every dtbase command an image or compose service runs."""
    found: list[list[str]] = []
    for file in dockerfiles.values():
        cmd = file.final.last("CMD")
        if cmd is not None:
            words = exec_form(cmd.value)
            assert words is not None, f"{file.path.name}: CMD in exec form, so signals reach it"
            found += commands(words)
    for service in dtbase_services(compose).values():
        if "command" in service:
            assert isinstance(service["command"], list), "compose commands as lists"
            found += commands(service["command"])
    return [words for words in found if words[0] == "dtbase"]


def run_help(words: list[str]) -> subprocess.CompletedProcess[str]:
    """`dtbase ... --help` from this checkout's environment (options are still parsed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DT_")}
    return subprocess.run(
        [str(DTBASE), *words[1:], "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


# --- entry points ---------------------------------------------------------------------


def test_entry_points(dockerfiles: dict[str, Dockerfile], compose: dict[str, Any]) -> None:
    found = service_commands(dockerfiles, compose)
    found.append(["dtbase", "services", "serve"])  # the services' local host
    assert {tuple(w[1:3]) for w in found} >= {
        ("db", "upgrade"),
        ("serve", "backend"),
        ("serve", "frontend"),
    }
    for words in found:
        result = run_help(words)
        assert result.returncode == 0, f"{' '.join(words)}: {result.stderr}"
        assert "Usage:" in result.stdout


def test_functions_image_serves_the_services_app() -> None:
    assert (ROOT / "services" / "function_app.py").is_file()
    assert (ROOT / "services" / "host.json").is_file()
    assert "DT_OPENWEATHERMAP_APIKEY" in dtbase_environment_variables()


def test_images_migrate_before_serving(dockerfiles: dict[str, Dockerfile]) -> None:
    cmd = dockerfiles["backend"].final.last("CMD")
    assert cmd is not None
    words = exec_form(cmd.value)
    assert words is not None
    assert [w[:3] for w in commands(words)] == [
        ["dtbase", "db", "upgrade"],
        ["dtbase", "serve", "backend"],
    ]
    assert "&& exec dtbase serve" in words[-1], "the server replaces the shell (signals)"


# --- images ---------------------------------------------------------------------------


@pytest.mark.parametrize("part", list(DOCKERFILES))
def test_images_are_multi_stage_and_small(dockerfiles: dict[str, Dockerfile], part: str) -> None:
    file = dockerfiles[part]
    assert len(file.stages) >= 2
    final = file.final
    build = [s for s in file.stages[:-1] if s.name == "build"]
    assert build, "a stage named build installs dtbase"
    assert final.base == build[0].base, "the final stage starts from the build stage's base"
    assert any("--from=build" in c.value for c in final.all("COPY")), "installed in build"
    for run in final.all("RUN"):
        for tool in ("pip install", "apt-get install", "npm", "gcc", "build-essential"):
            assert tool not in run.value, f"{file.path.name}: {tool} in the final stage"
    for stage in file.stages:
        assert ":" in stage.base, "a tagged base image"
        assert not stage.base.endswith(":latest"), "a pinned base image"


@pytest.mark.parametrize("part", list(DOCKERFILES))
def test_images_run_as_a_plain_user(dockerfiles: dict[str, Dockerfile], part: str) -> None:
    final = dockerfiles[part].final
    user = final.last("USER")
    assert user is not None, "USER in the final stage"
    name = user.value.split(":")[0]
    assert name not in {"root", "0"}
    assert final.instructions.index(user) > max(
        final.instructions.index(i) for i in final.all("RUN") + final.all("COPY")
    ), "USER comes after the last RUN/COPY"


@pytest.mark.parametrize("part", list(DOCKERFILES))
def test_ports_agree_everywhere(
    dockerfiles: dict[str, Dockerfile], compose: dict[str, Any], part: str
) -> None:
    """EXPOSE = the settings' default = the command's --port = the health check = compose's
    container port = the Azure app's WEBSITES_PORT."""
    final = dockerfiles[part].final
    port = PORTS[part]
    assert final.exposed_ports() == {port}
    assert PULUMI_PORTS[part] == port
    health = healthcheck_command(final)
    assert health is not None, "HEALTHCHECK in the final stage"
    assert re.search(rf"http://127\.0\.0\.1:{port}/", " ".join(health))
    service = compose["services"][COMPOSE_SERVICES[part]]
    container_ports = {int(str(p).rsplit(":", 1)[-1]) for p in service["ports"]}
    assert container_ports == {port}
    cmd = final.last("CMD")
    if cmd is not None:
        words = exec_form(cmd.value)
        assert words is not None
        assert option_value(commands(words)[-1], "--port") == str(port)
    if "command" in service:
        assert option_value(service["command"], "--port") == str(port)
    if part == "functions":
        assert final.env()["ASPNETCORE_URLS"] == f"http://+:{port}"


@pytest.mark.parametrize("part", list(DOCKERFILES))
def test_image_variables_are_ones_dtbase_reads(
    dockerfiles: dict[str, Dockerfile], part: str
) -> None:
    variables = {n for n in dockerfiles[part].final.env() if n.startswith("DT_")}
    assert variables <= dtbase_environment_variables()


def test_images_ship_the_npm_packages_their_apps_serve(
    dockerfiles: dict[str, Dockerfile],
) -> None:
    # Imported by name: this test's type check stays independent of the frontend's.
    vendor_packages: frozenset[str] = importlib.import_module("frontend.app").VENDOR_PACKAGES
    package = json.loads((ROOT / "package.json").read_text())
    for part, needed in (("backend", {"swagger-ui-dist"}), ("frontend", set(vendor_packages))):
        final = dockerfiles[part].final
        assets = final.env()["DT_ASSETS_DIR"]
        copied = set()
        for copy in final.all("COPY"):
            match = re.fullmatch(
                rf"--from=assets /build/node_modules/([\w.-]+) {assets}/\1", copy.value
            )
            if match:
                copied.add(match.group(1))
        assert copied == needed, part
        assert copied <= set(package["dependencies"]), "installed by npm ci from the lock file"
    for part in ("backend", "frontend"):
        npm = dockerfiles[part].stages[0]
        assert npm.name == "assets"
        assert any("npm ci" in r.value for r in npm.all("RUN")), "npm ci: the lock file"


def test_dockerignore_keeps_the_context_small() -> None:
    patterns = dockerignore_patterns()
    for path in (
        ".venv/bin/python",
        "node_modules/x/index.js",
        ".git/HEAD",
        ".dtbase/pg",
        ".env",
        "tests/test_cli.py",
        "dtbase/__pycache__/cli.cpython-311.pyc",
        "services/local.settings.json",
        "infrastructure/__main__.py",
    ):
        assert ignored(path, patterns), path
    for file in DOCKERFILES.values():
        for stage in parse_dockerfile(file).stages:
            for copy in stage.all("COPY"):
                if copy.value.startswith("--from"):
                    continue
                for source in copy.value.split()[:-1]:
                    probe = source.rstrip("/")
                    if (ROOT / probe).is_dir():
                        probe += "/__init__.py"
                    assert not ignored(probe, patterns), f"{file.name} copies {source}"


# --- docker-compose.yml ---------------------------------------------------------------


def test_postgres_is_pinned_and_keeps_its_data(compose: dict[str, Any]) -> None:
    postgres = compose["services"]["postgres"]
    assert re.fullmatch(r"postgres:\d+\.\d+(-[a-z]+)?", postgres["image"])
    major = int(postgres["image"].split(":")[1].split(".")[0])
    volume, _, target = postgres["volumes"][0].partition(":")
    assert volume in compose["volumes"], "a named volume"
    # The image's data directory moved in 18 (PGDATA=/var/lib/postgresql/18/docker).
    assert target == ("/var/lib/postgresql" if major >= 18 else "/var/lib/postgresql/data")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])


def test_start_order_follows_health(
    compose: dict[str, Any], dockerfiles: dict[str, Dockerfile]
) -> None:
    services = compose["services"]
    healthy = {n for n, s in services.items() if "healthcheck" in s}
    for part, service in COMPOSE_SERVICES.items():
        if healthcheck_command(dockerfiles[part].final):
            healthy.add(service)
    for name, service in services.items():
        for target, condition in service.get("depends_on", {}).items():
            assert condition["condition"] in {"service_healthy", "service_completed_successfully"}
            if condition["condition"] == "service_healthy":
                assert target in healthy, f"{name} waits for {target}, which has no check"
            else:
                assert services[target].get("restart") == "no", f"{target} is a one-shot"
    assert services["migrate"]["command"] == ["dtbase", "db", "upgrade"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    backend = services["backend"]["depends_on"]
    assert backend["migrate"]["condition"] == "service_completed_successfully"
    for name in ("frontend", "services"):
        assert services[name]["depends_on"]["backend"]["condition"] == "service_healthy"


def test_compose_builds_the_dockerfiles(compose: dict[str, Any]) -> None:
    built = {s["build"]["dockerfile"] for s in dtbase_services(compose).values()}
    assert built == {p.name for p in DOCKERFILES.values()}
    for service in dtbase_services(compose).values():
        assert service["build"]["context"] == "."


def test_compose_variables_are_ones_dtbase_reads(compose: dict[str, Any]) -> None:
    known = dtbase_environment_variables() | UVICORN_VARIABLES
    for name, service in dtbase_services(compose).items():
        variables = set(service.get("environment", {}))
        assert variables <= known, f"{name} sets variables dtbase does not read"


def test_compose_wiring_satisfies_dtbase_settings(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each container's environment, from an example .env, is accepted by its settings
    class in production mode, and points at the right place."""
    services = compose["services"]
    postgres = services["postgres"]["environment"]

    def environment(service: str) -> None:
        for key in [k for k in os.environ if k.startswith("DT_")]:
            monkeypatch.delenv(key)
        for key, value in services[service]["environment"].items():
            monkeypatch.setenv(key, interpolate(str(value), ENV_VALUES))

    for service in ("migrate", "backend"):
        environment(service)
        url = DatabaseSettings().external_database_url()
        password = ENV_VALUES["POSTGRES_PASSWORD"]
        assert interpolate(postgres["POSTGRES_PASSWORD"], ENV_VALUES) == password
        from sqlalchemy.engine import make_url

        parsed = make_url(url or "")
        assert (parsed.host, parsed.port) == ("postgres", 5432)
        assert (parsed.username, parsed.password) == (postgres["POSTGRES_USER"], password)
        assert parsed.database == postgres["POSTGRES_DB"]
    environment("backend")
    assert BackendSettings().environment == "production"  # accepts the JWT secret
    environment("frontend")
    frontend = FrontendSettings()
    assert frontend.backend_url == f"http://backend:{PORTS['backend']}"
    assert services["services"]["environment"]["DT_BACKEND_URL"] == frontend.backend_url


def test_env_example_documents_every_compose_variable() -> None:
    used = interpolations(COMPOSE_FILE.read_text())
    documented = env_example()
    assert set(used) == set(documented)
    assert set(ENV_VALUES) <= set(documented)
    for name, modifier in used.items():
        if ENV_VALUES.get(name):
            assert modifier.startswith(":?"), f"compose must refuse to start without {name}"
            assert documented[name] == "", f".env.example must not carry a value for {name}"
    for name in ("BACKEND_PORT", "FRONTEND_PORT", "SERVICES_PORT"):
        part = {"BACKEND": "backend", "FRONTEND": "frontend", "SERVICES": "functions"}[
            name.split("_")[0]
        ]
        assert documented[name] == str(PORTS[part]) == used[name].removeprefix(":-")
