"""The apps: a Linux App Service plan running the backend, the frontend and the services.

Each app runs one of the images built from the repository's Dockerfiles and is configured
only through app settings, which App Service hands to the container as environment
variables: the same `DT_*` variables as `docker-compose.yml` and `.env.example`. Secret
values stay Pulumi secrets all the way into the settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import resources, storage, web

from infrastructure.config import StackConfig
from infrastructure.database import Database

# The ports the images listen on (EXPOSE in the Dockerfiles, the settings' defaults).
BACKEND_PORT = 5000
FRONTEND_PORT = 8000
FUNCTIONS_PORT = 7071

AppSettings = Mapping[str, pulumi.Input[str]]


@dataclass(frozen=True)
class Apps:
    plan: web.AppServicePlan
    storage_account: storage.StorageAccount
    backend: web.WebApp
    frontend: web.WebApp
    functions: web.WebApp
    backend_settings: AppSettings
    frontend_settings: AppSettings
    functions_settings: AppSettings
    backend_url: pulumi.Output[str]
    frontend_url: pulumi.Output[str]
    functions_url: pulumi.Output[str]


def create_apps(config: StackConfig, group: resources.ResourceGroup, database: Database) -> Apps:
    plan = web.AppServicePlan(
        f"{config.name_prefix}-plan",
        resource_group_name=group.name,
        location=group.location,
        kind="Linux",
        reserved=True,
        sku=web.SkuDescriptionArgs(
            name=config.app_service.sku, capacity=config.app_service.instances
        ),
    )

    backend_settings: dict[str, pulumi.Input[str]] = {
        **_container_settings(config, BACKEND_PORT),
        "DT_ENVIRONMENT": "production",
        "DT_DATABASE_URL": database.url,
        "DT_JWT_SECRET_KEY": config.secrets.jwt_secret_key,
        "DT_DEFAULT_USER_PASS": config.secrets.default_user_password,
        # The functions app's name is only known once it exists (Pulumi adds a suffix), so
        # the backend may call any App Service host over https; narrow it to the stack's
        # functionsUrl host once deployed (docs/services.md).
        "DT_SERVICE_URL_ALLOWLIST": "*.azurewebsites.net:443",
    }
    backend = _web_app(
        f"{config.name_prefix}-backend",
        group,
        plan,
        image=config.images.backend,
        settings=backend_settings,
        health_check_path="/health",
        # The backend connects at start-up: wait for the database and its firewall.
        depends_on=database.ready,
    )
    backend_url = _https_url(backend)

    frontend_settings: dict[str, pulumi.Input[str]] = {
        **_container_settings(config, FRONTEND_PORT),
        "DT_ENVIRONMENT": "production",
        "DT_BACKEND_URL": backend_url,
        "DT_FRONT_SECRET_KEY": config.secrets.frontend_secret_key,
    }
    frontend = _web_app(
        f"{config.name_prefix}-frontend",
        group,
        plan,
        image=config.images.frontend,
        settings=frontend_settings,
        health_check_path="/login",
    )

    # The Functions host keeps its keys and triggers' state in a storage account.
    account = storage.StorageAccount(
        _storage_account_name(config.name_prefix),
        resource_group_name=group.name,
        location=group.location,
        kind=storage.Kind.STORAGE_V2,
        sku=storage.SkuArgs(name=storage.SkuName.STANDARD_LRS),
        allow_blob_public_access=False,
        minimum_tls_version=storage.MinimumTlsVersion.TLS1_2,
        enable_https_traffic_only=True,
    )
    functions_settings: dict[str, pulumi.Input[str]] = {
        **_container_settings(config, FUNCTIONS_PORT),
        "AzureWebJobsStorage": _storage_connection_string(group, account),
        "FUNCTIONS_EXTENSION_VERSION": "~4",
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "DT_BACKEND_URL": backend_url,
        "DT_DEFAULT_USER_PASS": config.secrets.default_user_password,
    }
    if config.secrets.openweathermap_api_key is not None:
        functions_settings["DT_OPENWEATHERMAP_APIKEY"] = config.secrets.openweathermap_api_key
    functions = _web_app(
        f"{config.name_prefix}-functions",
        group,
        plan,
        image=config.images.functions,
        settings=functions_settings,
        kind="functionapp,linux,container",
    )
    return Apps(
        plan=plan,
        storage_account=account,
        backend=backend,
        frontend=frontend,
        functions=functions,
        backend_settings=backend_settings,
        frontend_settings=frontend_settings,
        functions_settings=functions_settings,
        backend_url=backend_url,
        frontend_url=_https_url(frontend),
        functions_url=_https_url(functions),
    )


def _container_settings(config: StackConfig, port: int) -> dict[str, pulumi.Input[str]]:
    """What App Service needs to run a container: its port and where to pull it from."""
    settings: dict[str, pulumi.Input[str]] = {
        "WEBSITES_PORT": str(port),
        "WEBSITES_ENABLE_APP_SERVICE_STORAGE": "false",
        "DOCKER_REGISTRY_SERVER_URL": config.registry.url,
    }
    if config.registry.username and config.registry.password is not None:
        settings["DOCKER_REGISTRY_SERVER_USERNAME"] = config.registry.username
        settings["DOCKER_REGISTRY_SERVER_PASSWORD"] = config.registry.password
    return settings


def _web_app(
    name: str,
    group: resources.ResourceGroup,
    plan: web.AppServicePlan,
    *,
    image: str,
    settings: AppSettings,
    kind: str = "app,linux,container",
    health_check_path: str | None = None,
    depends_on: list[pulumi.Resource] | None = None,
) -> web.WebApp:
    """A Linux container app; `image` is a full reference such as `ghcr.io/o/i:tag`."""
    return web.WebApp(
        name,
        resource_group_name=group.name,
        location=group.location,
        server_farm_id=plan.id,
        kind=kind,
        reserved=True,
        https_only=True,
        site_config=web.SiteConfigArgs(
            linux_fx_version=f"DOCKER|{image}",
            app_settings=[
                web.NameValuePairArgs(name=key, value=value)
                for key, value in sorted(settings.items())
            ],
            always_on=True,
            health_check_path=health_check_path,
            http20_enabled=True,
            min_tls_version=web.SupportedTlsVersions.SUPPORTED_TLS_VERSIONS_1_2,
            ftps_state=web.FtpsState.DISABLED,
        ),
        opts=pulumi.ResourceOptions(depends_on=depends_on or []),
    )


def _https_url(app: web.WebApp) -> pulumi.Output[str]:
    url: pulumi.Output[str] = app.default_host_name.apply(lambda host: f"https://{host}")
    return url


def _storage_account_name(prefix: str) -> str:
    """Storage accounts take 3-24 lowercase letters and digits; Pulumi adds 8 random ones."""
    return ("".join(c for c in prefix if c.isalnum()) + "fn")[:16]


def _storage_connection_string(
    group: resources.ResourceGroup, account: storage.StorageAccount
) -> pulumi.Output[str]:
    keys = storage.list_storage_account_keys_output(
        resource_group_name=group.name, account_name=account.name
    )
    connection = pulumi.Output.all(account.name, keys.keys[0].value).apply(
        lambda parts: (
            f"DefaultEndpointsProtocol=https;AccountName={parts[0]};AccountKey={parts[1]};"
            "EndpointSuffix=core.windows.net"
        )
    )
    return pulumi.Output.secret(connection)
