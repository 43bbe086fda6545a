"""The whole deployment: resource group, database, apps, and the stack's outputs."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import resources

from infrastructure.apps import Apps, create_apps
from infrastructure.config import StackConfig
from infrastructure.database import Database, create_database


@dataclass(frozen=True)
class Deployment:
    group: resources.ResourceGroup
    database: Database
    apps: Apps


def define_stack(config: StackConfig) -> Deployment:
    """Declare every resource and export the URLs; `__main__.py` calls this."""
    group = resources.ResourceGroup(f"{config.name_prefix}-rg", location=config.location)
    database = create_database(config, group)
    apps = create_apps(config, group, database)
    pulumi.export("resourceGroupName", group.name)
    pulumi.export("backendUrl", apps.backend_url)
    pulumi.export("frontendUrl", apps.frontend_url)
    pulumi.export("functionsUrl", apps.functions_url)
    pulumi.export("apiDocsUrl", apps.backend_url.apply(lambda url: f"{url}/docs"))
    pulumi.export("postgresHost", database.host)
    pulumi.export("databaseName", database.database.name)
    return Deployment(group=group, database=database, apps=apps)
