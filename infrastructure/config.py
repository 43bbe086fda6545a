"""The stack's configuration: every `pulumi config` key the program reads, in one place.

`Pulumi.example.yaml` documents each key with an example value. Secrets are read with
`require_secret` / `get_secret`, so they stay Pulumi secrets (encrypted in the stack file and
the state, masked in logs) whether or not they were set with `--secret`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi

# Used in Azure resource names: lowercase letters, digits and hyphens, starting with a letter.
NAME_PREFIX = re.compile(r"^[a-z][a-z0-9-]{1,20}[a-z0-9]$")
POSTGRES_ADMIN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class Images:
    """Container images the apps run, e.g. `ghcr.io/OWNER/dtbase-backend:1.2.0`."""

    backend: str
    frontend: str
    functions: str


@dataclass(frozen=True)
class Registry:
    """Where the images are pulled from; credentials only for a private registry."""

    url: str
    username: str | None
    password: pulumi.Output[str] | None


@dataclass(frozen=True)
class Postgres:
    """Azure Database for PostgreSQL flexible server: size, version, access."""

    version: str
    sku: str
    tier: str
    storage_gb: int
    admin: str
    database: str
    allow_azure_services: bool
    allowed_ips: tuple[str, ...]


@dataclass(frozen=True)
class AppService:
    """The Linux App Service plan that runs the backend, the frontend and the functions."""

    sku: str
    instances: int


@dataclass(frozen=True)
class Secrets:
    postgres_password: pulumi.Output[str]
    jwt_secret_key: pulumi.Output[str]
    frontend_secret_key: pulumi.Output[str]
    default_user_password: pulumi.Output[str]
    openweathermap_api_key: pulumi.Output[str] | None


@dataclass(frozen=True)
class StackConfig:
    name_prefix: str
    location: str
    images: Images
    registry: Registry
    postgres: Postgres
    app_service: AppService
    secrets: Secrets


def load(config: pulumi.Config | None = None) -> StackConfig:
    """Read and check the stack configuration (namespace: the project name, `dtbase`)."""
    config = config or pulumi.Config()
    name_prefix = config.require("namePrefix")
    if not NAME_PREFIX.match(name_prefix):
        raise ValueError(
            f"namePrefix {name_prefix!r}: use 3-22 lowercase letters, digits and hyphens, "
            "starting with a letter (it prefixes Azure resource names)."
        )
    admin = config.get("postgresAdmin") or "dtbaseadmin"
    if not POSTGRES_ADMIN.match(admin) or admin in {"admin", "postgres", "root", "azure_su"}:
        raise ValueError(f"postgresAdmin {admin!r} is not a login Azure accepts.")
    instances = config.get_int("appServiceInstances", 1)
    if instances < 1:
        raise ValueError("appServiceInstances must be at least 1.")
    storage_gb = config.get_int("postgresStorageGb", 32)
    if storage_gb < 32:
        raise ValueError("postgresStorageGb must be at least 32 (Azure's smallest disk).")
    return StackConfig(
        name_prefix=name_prefix,
        location=config.require("location"),
        images=Images(
            backend=config.require("backendImage"),
            frontend=config.require("frontendImage"),
            functions=config.require("functionsImage"),
        ),
        registry=Registry(
            url=config.get("registryUrl") or "https://ghcr.io",
            username=config.get("registryUsername"),
            password=config.get_secret("registryPassword"),
        ),
        postgres=Postgres(
            version=config.get("postgresVersion") or "17",
            sku=config.get("postgresSku") or "Standard_B1ms",
            tier=config.get("postgresTier") or "Burstable",
            storage_gb=storage_gb,
            admin=admin,
            database=config.get("databaseName") or "dtbase",
            allow_azure_services=config.get_bool("postgresAllowAzureServices", True),
            allowed_ips=_ip_list(config.get("postgresAllowedIps")),
        ),
        app_service=AppService(
            sku=config.get("appServiceSku") or "B1",
            instances=instances,
        ),
        secrets=Secrets(
            postgres_password=config.require_secret("postgresPassword"),
            jwt_secret_key=config.require_secret("jwtSecretKey"),
            frontend_secret_key=config.require_secret("frontendSecretKey"),
            default_user_password=config.require_secret("defaultUserPassword"),
            openweathermap_api_key=config.get_secret("openWeatherMapApiKey"),
        ),
    )


def _ip_list(value: str | None) -> tuple[str, ...]:
    """`"1.2.3.4, 5.6.7.8"` -> `("1.2.3.4", "5.6.7.8")`, without duplicates, order kept."""
    if not value:
        return ()
    return tuple(dict.fromkeys(ip.strip() for ip in value.split(",") if ip.strip()))
