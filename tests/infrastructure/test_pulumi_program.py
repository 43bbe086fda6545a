"""The Pulumi program, run under `pulumi.runtime.set_mocks`: every resource, the wiring
between them, and the secrets, with no Pulumi CLI and no cloud."""

from __future__ import annotations

import json
import re
import sys
from urllib.parse import urlsplit

import pulumi
import pytest
import yaml
from sqlalchemy.engine import make_url

from dtbase.core.settings import BackendSettings
from infrastructure import apps as stack_apps
from infrastructure import config as stack_config
from tests.infrastructure.deploy_files import dtbase_environment_variables
from tests.infrastructure.pulumi_mocks import (
    EXAMPLE_STACK,
    FQDN_SUFFIX,
    HOST_SUFFIX,
    INFRASTRUCTURE,
    PROJECT,
    TEST_SECRETS,
    ProgramRun,
    Registration,
    example_config,
    run_program,
    unwrap,
)

GROUP = "azure-native:resources:ResourceGroup"
SERVER = "azure-native:dbforpostgresql:Server"
DATABASE = "azure-native:dbforpostgresql:Database"
FIREWALL_RULE = "azure-native:dbforpostgresql:FirewallRule"
PLAN = "azure-native:web:AppServicePlan"
WEB_APP = "azure-native:web:WebApp"
STORAGE = "azure-native:storage:StorageAccount"

# (app, setting) pairs that must be Pulumi secrets, and some that must not be.
SECRET_SETTINGS = [
    ("backend", "DT_DATABASE_URL"),
    ("backend", "DT_JWT_SECRET_KEY"),
    ("backend", "DT_DEFAULT_USER_PASS"),
    ("frontend", "DT_FRONT_SECRET_KEY"),
    ("functions", "DT_DEFAULT_USER_PASS"),
    ("functions", "DT_OPENWEATHERMAP_APIKEY"),
    ("functions", "AzureWebJobsStorage"),
]
PLAIN_SETTINGS = [
    ("frontend", "DT_BACKEND_URL"),
    ("functions", "DT_BACKEND_URL"),
    ("backend", "WEBSITES_PORT"),
]


@pytest.fixture(scope="module")
def run() -> ProgramRun:
    """The program with the example stack's configuration and the test secrets."""
    return run_program(example_config())


def web_app(run: ProgramRun, part: str) -> Registration:
    return run.one(WEB_APP, f"-{part}")


def app_setting(registration: Registration, name: str) -> str:
    settings = registration.plain("siteConfig")["appSettings"]
    values = [s["value"] for s in settings if s["name"] == name]
    assert len(values) == 1, f"{registration.name} sets {name} {len(values)} times"
    return str(values[0])


def test_every_resource_is_declared(run: ProgramRun) -> None:
    counts = {t: len(run.of_type(t)) for t in {r.type for r in run.registrations}}
    assert counts == {
        GROUP: 1,
        SERVER: 1,
        DATABASE: 1,
        FIREWALL_RULE: 2,  # Azure services + the example's one client IP
        PLAN: 1,
        WEB_APP: 3,
        STORAGE: 1,
    }
    group = run.one(GROUP)
    assert group.plain("location") == "uksouth"
    for registration in run.registrations:
        if registration.type != GROUP:
            assert registration.plain("resourceGroupName") == group.name, registration.name


def test_the_database_is_created_on_the_server(run: ProgramRun) -> None:
    server = run.one(SERVER)
    database = run.one(DATABASE)
    assert database.plain("serverName") == server.name
    assert database.plain("databaseName") == "dtbase"
    assert (database.plain("charset"), database.plain("collation")) == ("UTF8", "en_US.utf8")
    assert server.name in database.depends_on
    assert server.plain("version") == "17"
    assert server.plain("administratorLogin") == "dtbaseadmin"
    assert server.is_secret("administratorLoginPassword")
    assert server.plain("administratorLoginPassword") == TEST_SECRETS["postgresPassword"]
    assert server.plain("network") == {"publicNetworkAccess": "Enabled"}


def test_firewall_admits_azure_services_and_the_client_ips(run: ProgramRun) -> None:
    server = run.one(SERVER)
    rules = run.of_type(FIREWALL_RULE)
    assert {(r.plain("startIpAddress"), r.plain("endIpAddress")) for r in rules} == {
        ("0.0.0.0", "0.0.0.0"),
        ("203.0.113.10", "203.0.113.10"),
    }
    assert all(r.plain("serverName") == server.name for r in rules)


def test_operations_on_the_server_run_one_after_another(run: ProgramRun) -> None:
    """DTBase issue 242: the server refuses concurrent operations, so none may overlap."""
    database = run.one(DATABASE)
    first, second = run.of_type(FIREWALL_RULE)
    assert database.name in first.depends_on
    assert first.name in second.depends_on
    backend = web_app(run, "backend")
    assert {database.name, first.name, second.name} <= backend.depends_on


@pytest.mark.parametrize(
    ("allow_azure", "ips", "expected"),
    [
        ("true", "", {"0.0.0.0"}),
        ("false", "198.51.100.7, 198.51.100.8,198.51.100.7", {"198.51.100.7", "198.51.100.8"}),
    ],
)
def test_firewall_rules_follow_the_configuration(
    allow_azure: str, ips: str, expected: set[str]
) -> None:
    config = {
        **example_config(),
        "postgresAllowAzureServices": allow_azure,
        "postgresAllowedIps": ips,
    }
    run = run_program(config)
    rules = run.of_type(FIREWALL_RULE)
    assert {r.plain("startIpAddress") for r in rules} == expected
    assert len(rules) == len(expected)
    assert len({r.plain("firewallRuleName") for r in rules}) == len(rules)


def test_backend_reaches_the_database_by_the_server_fqdn(run: ProgramRun) -> None:
    server = run.one(SERVER)
    fqdn = f"{server.name}{FQDN_SUFFIX}"
    setting = run.settings["backend"]["DT_DATABASE_URL"]
    assert setting.secret
    url = make_url(setting.value)
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port, url.database) == (fqdn, 5432, "dtbase")
    assert (url.username, url.password) == ("dtbaseadmin", TEST_SECRETS["postgresPassword"])
    assert url.query["sslmode"] == "require"
    # The value reaches the app and dtbase's own settings read it unchanged.
    assert app_setting(web_app(run, "backend"), "DT_DATABASE_URL") == setting.value
    settings = BackendSettings(
        database_url=setting.value,
        jwt_secret_key=run.settings["backend"]["DT_JWT_SECRET_KEY"].value,
    )
    assert settings.external_database_url() == setting.value
    assert run.outputs["postgresHost"] == (fqdn, False)


def test_frontend_and_functions_reach_the_backend_url(run: ProgramRun) -> None:
    backend = web_app(run, "backend")
    backend_url = f"https://{backend.name}{HOST_SUFFIX}"
    for part in ("frontend", "functions"):
        assert run.settings[part]["DT_BACKEND_URL"].value == backend_url
        assert app_setting(web_app(run, part), "DT_BACKEND_URL") == backend_url
        assert backend.name in web_app(run, part).depends_on


@pytest.mark.parametrize(("app", "name"), SECRET_SETTINGS)
def test_secret_settings_are_pulumi_secrets(run: ProgramRun, app: str, name: str) -> None:
    assert run.settings[app][name].secret


@pytest.mark.parametrize(("app", "name"), PLAIN_SETTINGS)
def test_plain_settings_stay_readable(run: ProgramRun, app: str, name: str) -> None:
    assert not run.settings[app][name].secret


def test_secrets_reach_the_engine_only_as_secrets(run: ProgramRun) -> None:
    """No secret value is sent to the engine (and so to the state) in a plain input."""
    secrets = list(TEST_SECRETS.values())
    for registration in run.registrations:
        for key, value in registration.inputs.items():
            if registration.is_secret(key):
                continue
            text = json.dumps(unwrap(value))
            leaked = [s for s in secrets if s in text]
            assert not leaked, f"{registration.name}.{key} carries a secret in clear"
    for part in ("backend", "frontend", "functions"):
        assert web_app(run, part).is_secret("siteConfig")


def test_apps_run_the_images_with_their_ports(run: ProgramRun) -> None:
    config = example_config()
    expected = {
        "backend": (config["backendImage"], stack_apps.BACKEND_PORT, "app,linux,container"),
        "frontend": (config["frontendImage"], stack_apps.FRONTEND_PORT, "app,linux,container"),
        "functions": (
            config["functionsImage"],
            stack_apps.FUNCTIONS_PORT,
            "functionapp,linux,container",
        ),
    }
    plan = run.one(PLAN)
    assert plan.plain("reserved") is True
    assert plan.plain("sku")["capacity"] == 1
    for part, (image, port, kind) in expected.items():
        app = web_app(run, part)
        site = app.plain("siteConfig")
        assert site["linuxFxVersion"] == f"DOCKER|{image}"
        assert app.plain("kind") == kind
        assert app.plain("httpsOnly") is True
        assert app.plain("serverFarmId") == f"/mock/{PLAN}/{plan.name}"
        assert app_setting(app, "WEBSITES_PORT") == str(port)
    assert web_app(run, "backend").plain("siteConfig")["healthCheckPath"] == "/health"


def test_functions_keep_their_state_in_the_storage_account(run: ProgramRun) -> None:
    account = run.one(STORAGE)
    assert re.fullmatch(r"[a-z0-9]{3,16}", account.name)  # Pulumi adds 8 characters
    connection = run.settings["functions"]["AzureWebJobsStorage"].value
    assert f"AccountName={account.name};" in connection
    assert "AccountKey=" in connection
    assert run.settings["functions"]["FUNCTIONS_EXTENSION_VERSION"].value == "~4"


def test_outputs_are_the_public_urls(run: ProgramRun) -> None:
    for part in ("backend", "frontend", "functions"):
        url, secret = run.outputs[f"{part}Url"]
        assert url == f"https://{web_app(run, part).name}{HOST_SUFFIX}"
        assert urlsplit(url).scheme == "https"
        assert not secret
    assert run.outputs["apiDocsUrl"][0] == run.outputs["backendUrl"][0] + "/docs"
    assert run.outputs["databaseName"] == ("dtbase", False)


def test_dtbase_settings_are_ones_dtbase_reads(run: ProgramRun) -> None:
    known = dtbase_environment_variables()
    for part, settings in run.settings.items():
        unknown = {n for n in settings if n.startswith("DT_")} - known
        assert not unknown, f"{part} sets variables dtbase does not read: {unknown}"


def test_optional_settings_are_left_out_when_unset() -> None:
    secrets = {k: v for k, v in TEST_SECRETS.items() if k != "openWeatherMapApiKey"}
    run = run_program(example_config(), secrets)
    assert "DT_OPENWEATHERMAP_APIKEY" not in run.settings["functions"]
    assert "DOCKER_REGISTRY_SERVER_PASSWORD" not in run.settings["backend"]


def test_private_registry_credentials_are_secret() -> None:
    config = {**example_config(), "registryUsername": "puller"}
    run = run_program(config, {**TEST_SECRETS, "registryPassword": "registry-token-123"})
    for part in ("backend", "frontend", "functions"):
        assert run.settings[part]["DOCKER_REGISTRY_SERVER_USERNAME"].value == "puller"
        password = run.settings[part]["DOCKER_REGISTRY_SERVER_PASSWORD"]
        assert (password.value, password.secret) == ("registry-token-123", True)


def test_scaling_out_sets_the_plan_capacity() -> None:
    run = run_program({**example_config(), "appServiceInstances": "3"})
    assert run.one(PLAN).plain("sku")["capacity"] == 3


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("namePrefix", "Bad_Prefix"),
        ("postgresAdmin", "admin"),
        ("appServiceInstances", "0"),
        ("postgresStorageGb", "16"),
    ],
)
def test_invalid_configuration_is_refused(key: str, value: str) -> None:
    _configure({**example_config(), key: value, **TEST_SECRETS})
    with pytest.raises(ValueError, match=key):
        stack_config.load(pulumi.Config(PROJECT))


@pytest.mark.parametrize("secret", ["postgresPassword", "jwtSecretKey", "frontendSecretKey"])
def test_required_secrets_must_be_set(secret: str) -> None:
    _configure({**example_config(), **{k: v for k, v in TEST_SECRETS.items() if k != secret}})
    with pytest.raises(pulumi.ConfigMissingError, match=secret):
        stack_config.load(pulumi.Config(PROJECT))


def test_the_example_stack_documents_every_key() -> None:
    source = (INFRASTRUCTURE / "config.py").read_text()
    read = set(re.findall(r'config\.(?:get|require)\w*\(\s*"(\w+)"', source))
    assert read >= set(TEST_SECRETS) | {"namePrefix", "location", "backendImage"}
    documented = set(re.findall(rf"{PROJECT}:(\w+)", EXAMPLE_STACK.read_text()))
    assert read <= documented, f"undocumented keys: {read - documented}"
    assert documented <= read, f"documented keys the program ignores: {documented - read}"
    assert set(TEST_SECRETS) & set(example_config()) == set(), "a secret is in clear"


def test_pulumi_runs_the_same_program(monkeypatch: pytest.MonkeyPatch) -> None:
    """`pulumi up` runs __main__.py as a script from its folder: it declares the same stack."""
    # As under Pulumi: the program's folder first on sys.path, the checkout's root absent,
    # and the `infrastructure` package not yet imported.
    root = str(INFRASTRUCTURE.parent)
    monkeypatch.chdir(INFRASTRUCTURE)
    path = [p for p in sys.path if p not in ("", root)]
    monkeypatch.setattr(sys, "path", [str(INFRASTRUCTURE), *path])
    for name in [m for m in sys.modules if m.split(".")[0] == "infrastructure"]:
        monkeypatch.delitem(sys.modules, name)
    declared = run_program(example_config(), main=True)
    assert root in sys.path, "__main__.py makes the package importable"
    expected = run_program(example_config())
    assert sorted((r.type, r.name) for r in declared.registrations) == sorted(
        (r.type, r.name) for r in expected.registrations
    )


def test_project_file_names_the_project_and_its_environment() -> None:
    project = yaml.safe_load((INFRASTRUCTURE / "Pulumi.yaml").read_text())
    assert project["name"] == PROJECT
    assert project["runtime"]["name"] == "python"
    # The checkout's environment, the one `make install` creates.
    virtualenv = INFRASTRUCTURE / project["runtime"]["options"]["virtualenv"]
    assert virtualenv.resolve() == (INFRASTRUCTURE.parent / ".venv").resolve()


def _configure(values: dict[str, str]) -> None:
    pulumi.runtime.reset_options(project=PROJECT, stack="test")
    pulumi.runtime.set_all_config({f"{PROJECT}:{k}": v for k, v in values.items()})
