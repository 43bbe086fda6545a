"""Azure Database for PostgreSQL (flexible server): the server, dtbase's database, firewall.

DTBase's program failed to create the database (DTBase issue 242, pulumi-azure-native
issue 2916: "resource partially created but read failed ... flexibleServers/databases ...
not found"). A flexible server runs one management operation at a time and answers others
with errors, while DTBase created the database and its firewall rules at the same moment
(some of them inside an `apply`). Here every operation on the server waits for the one
before it: the database is created once the server exists, the first firewall rule once
the database exists, each further rule after the previous one. No resource is created
inside an `apply`, so `pulumi preview` shows everything that `pulumi up` will create.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import quote

import pulumi
from pulumi_azure_native import dbforpostgresql, resources

from infrastructure.config import StackConfig

POSTGRES_PORT = 5432
# Azure's convention: a rule from 0.0.0.0 to 0.0.0.0 admits connections from Azure services
# (App Service, Functions) without opening the server to the internet.
AZURE_SERVICES_IP = "0.0.0.0"  # noqa: S104 (an address in a rule, not a socket)


@dataclass(frozen=True)
class Database:
    server: dbforpostgresql.Server
    database: dbforpostgresql.Database
    firewall_rules: tuple[dbforpostgresql.FirewallRule, ...]
    host: pulumi.Output[str]
    url: pulumi.Output[str]

    @property
    def ready(self) -> list[pulumi.Resource]:
        """What an app must wait for before it can connect: database and firewall."""
        return [self.database, *self.firewall_rules]


def create_database(config: StackConfig, group: resources.ResourceGroup) -> Database:
    pg = config.postgres
    server = dbforpostgresql.Server(
        f"{config.name_prefix}-postgres",
        resource_group_name=group.name,
        location=group.location,
        version=pg.version,
        sku=dbforpostgresql.SkuArgs(name=pg.sku, tier=pg.tier),
        storage=dbforpostgresql.StorageArgs(
            storage_size_gb=pg.storage_gb,
            auto_grow=dbforpostgresql.StorageAutoGrow.ENABLED,
        ),
        backup=dbforpostgresql.BackupArgs(
            backup_retention_days=7,
            geo_redundant_backup=dbforpostgresql.GeographicallyRedundantBackup.DISABLED,
        ),
        administrator_login=pg.admin,
        administrator_login_password=config.secrets.postgres_password,
        auth_config=dbforpostgresql.AuthConfigArgs(
            password_auth=dbforpostgresql.PasswordBasedAuth.ENABLED,
        ),
        network=dbforpostgresql.NetworkArgs(
            public_network_access=dbforpostgresql.ServerPublicNetworkAccessState.ENABLED,
        ),
        create_mode=dbforpostgresql.CreateMode.CREATE,
    )
    database = dbforpostgresql.Database(
        f"{config.name_prefix}-db",
        database_name=pg.database,
        server_name=server.name,
        resource_group_name=group.name,
        charset="UTF8",
        collation="en_US.utf8",
        opts=pulumi.ResourceOptions(depends_on=[server]),
    )
    rules: list[dbforpostgresql.FirewallRule] = []
    previous: pulumi.Resource = database
    for name, ip in _firewall_openings(config):
        rule = dbforpostgresql.FirewallRule(
            f"{config.name_prefix}-{name}",
            firewall_rule_name=name,
            server_name=server.name,
            resource_group_name=group.name,
            start_ip_address=ip,
            end_ip_address=ip,
            opts=pulumi.ResourceOptions(depends_on=[previous]),
        )
        rules.append(rule)
        previous = rule
    host = server.fully_qualified_domain_name
    return Database(
        server=server,
        database=database,
        firewall_rules=tuple(rules),
        host=host,
        url=database_url(
            admin=pg.admin,
            password=config.secrets.postgres_password,
            host=host,
            database=database.name,
        ),
    )


def database_url(
    *,
    admin: str,
    password: pulumi.Input[str],
    host: pulumi.Input[str],
    database: pulumi.Input[str],
) -> pulumi.Output[str]:
    """The backend's DT_DATABASE_URL: TLS required (Azure's default), password quoted once."""
    url = pulumi.Output.all(password, host, database).apply(
        lambda parts: (
            f"postgresql+psycopg://{quote(admin, safe='')}:{quote(str(parts[0]), safe='')}"
            f"@{parts[1]}:{POSTGRES_PORT}/{quote(str(parts[2]), safe='')}?sslmode=require"
        )
    )
    return pulumi.Output.secret(url)


def _firewall_openings(config: StackConfig) -> list[tuple[str, str]]:
    """(rule name, IP) pairs: Azure services, then each client IP (named by a hash of it)."""
    openings: list[tuple[str, str]] = []
    if config.postgres.allow_azure_services:
        openings.append(("allow-azure-services", AZURE_SERVICES_IP))
    for ip in config.postgres.allowed_ips:
        digest = hashlib.sha256(ip.encode()).hexdigest()[:8]
        openings.append((f"allow-client-{digest}", ip))
    return openings
