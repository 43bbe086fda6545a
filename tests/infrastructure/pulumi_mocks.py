"""Run the Pulumi program against `pulumi.runtime.set_mocks`: no CLI, no cloud.

`run_program(config)` declares the whole stack with a mock engine that records every
resource registration (type, name, inputs as the engine would receive them, with secrets
still wrapped) and answers the one provider call the program makes (the storage account's
keys). It returns what the tests look at: the registrations, the stack outputs and each
app setting's value and secretness, all resolved.
"""

from __future__ import annotations

import asyncio
import runpy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

from infrastructure import config as stack_config
from infrastructure.stack import Deployment, define_stack

PROJECT = "dtbase"
INFRASTRUCTURE = Path(__file__).resolve().parents[2] / "infrastructure"
EXAMPLE_STACK = INFRASTRUCTURE / "Pulumi.example.yaml"

# Values for the secrets the example stack file leaves out (they are set with --secret).
TEST_SECRETS = {
    "postgresPassword": "Pg-password/with:reserved@chars%1",
    "jwtSecretKey": "jwt-secret-for-the-infrastructure-tests-0123456789",
    "frontendSecretKey": "frontend-secret-for-the-infrastructure-tests-0123",
    "defaultUserPassword": "default-user-password-for-tests",
    "openWeatherMapApiKey": "owm-api-key-for-tests",
}

FQDN_SUFFIX = ".postgres.database.azure.com"
HOST_SUFFIX = ".azurewebsites.net"
STORAGE_KEY = "bW9jay1zdG9yYWdlLWtleQ=="

# The input that holds each resource type's Azure name, where Azure names it by input.
NAME_INPUTS = {
    "azure-native:dbforpostgresql:Database": "databaseName",
    "azure-native:dbforpostgresql:FirewallRule": "firewallRuleName",
}


@dataclass(frozen=True)
class Registration:
    type: str
    name: str
    inputs: dict[str, Any]  # as sent to the engine: secrets are still wrapped
    depends_on: frozenset[str] = frozenset()  # names of the resources it waits for

    def plain(self, key: str) -> Any:
        """An input's value with every secret wrapper removed."""
        return unwrap(self.inputs.get(key))

    def is_secret(self, key: str) -> bool:
        return rpc.is_rpc_secret(self.inputs.get(key))


@dataclass(frozen=True)
class Setting:
    value: str
    secret: bool


@dataclass
class ProgramRun:
    registrations: list[Registration] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, dict[str, Setting]] = field(default_factory=dict)
    deployment: Deployment | None = None

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_]

    def one(self, type_: str, name_part: str = "") -> Registration:
        found = [r for r in self.of_type(type_) if name_part in r.name]
        assert len(found) == 1, f"expected one {type_} named *{name_part}*, got {found}"
        return found[0]


class RecordingMonitor(MockMonitor):
    """The mock engine, noting which resources each registration depends on."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.recording = mocks

    def RegisterResource(self, request: Any) -> Any:  # the gRPC method's name
        self.recording.dependencies[request.name] = frozenset(
            urn.rsplit("::", 1)[-1] for urn in request.dependencies
        )
        return super().RegisterResource(request)  # type: ignore[no-untyped-call]


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self, run: ProgramRun) -> None:
        self.run = run
        self.dependencies: dict[str, frozenset[str]] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.run.registrations.append(
            Registration(
                args.typ,
                args.name,
                dict(args.inputs),
                self.dependencies.get(args.name, frozenset()),
            )
        )
        state: dict[str, Any] = unwrap(dict(args.inputs))
        state.setdefault("name", state.get(NAME_INPUTS.get(args.typ, ""), args.name))
        if args.typ == "azure-native:dbforpostgresql:Server":
            state["fullyQualifiedDomainName"] = f"{state['name']}{FQDN_SUFFIX}"
        if args.typ == "azure-native:web:WebApp":
            state["defaultHostName"] = f"{state['name']}{HOST_SUFFIX}"
        return f"/mock/{args.typ}/{args.name}", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        if args.token == "azure-native:storage:listStorageAccountKeys":
            keys = [{"keyName": "key1", "value": STORAGE_KEY, "permissions": "Full"}]
            return {"keys": keys}
        raise AssertionError(f"unexpected provider call {args.token}")


def example_config() -> dict[str, str]:
    """The example stack file's settings, keys without the project's namespace."""
    document = yaml.safe_load(EXAMPLE_STACK.read_text())
    return {
        key.removeprefix(f"{PROJECT}:"): str(value)
        for key, value in document["config"].items()
        if key.startswith(f"{PROJECT}:")
    }


def run_program(
    config: Mapping[str, str],
    secrets: Mapping[str, str] = TEST_SECRETS,
    *,
    main: bool = False,
) -> ProgramRun:
    """Declare the stack with `config` (+ `secrets`, set as secret config) under mocks;
    `main=True` runs `infrastructure/__main__.py` as Pulumi does, as a script."""
    _ensure_event_loop()
    run = ProgramRun()
    pulumi.runtime.reset_options(project=PROJECT, stack="test", preview=False)
    mocks = RecordingMocks(run)
    pulumi.runtime.set_mocks(
        mocks, project=PROJECT, stack="test", preview=False, monitor=RecordingMonitor(mocks)
    )
    values = {f"{PROJECT}:{k}": v for k, v in {**config, **secrets}.items()}
    pulumi.runtime.set_all_config(values, secret_keys=[f"{PROJECT}:{k}" for k in secrets])

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def program() -> pulumi.Output[bool] | None:
        if main:
            runpy.run_path(str(INFRASTRUCTURE / "__main__.py"), run_name="__main__")
            return None
        deployment = define_stack(stack_config.load(pulumi.Config(PROJECT)))
        run.deployment = deployment
        resolved: pulumi.Output[bool] = pulumi.Output.from_input(_resolve(run, deployment))
        return resolved

    program()
    return run


def _ensure_event_loop() -> None:
    """Pulumi runs on the thread's current event loop; after an `asyncio.run` in the same
    process (another test's) there is none, and asyncio makes none by itself any more."""
    try:
        asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())


async def _resolve(run: ProgramRun, deployment: Deployment) -> bool:
    apps = deployment.apps
    for app, settings in (
        ("backend", apps.backend_settings),
        ("frontend", apps.frontend_settings),
        ("functions", apps.functions_settings),
    ):
        resolved: dict[str, Setting] = {}
        for key, value in settings.items():
            output = pulumi.Output.from_input(value)
            resolved[key] = Setting(str(await output.future()), await output.is_secret())
        run.settings[app] = resolved
    root = pulumi.runtime.get_root_resource()
    assert isinstance(root, pulumi.runtime.stack.Stack)
    for name, value in root.outputs.items():
        output = pulumi.Output.from_input(value)
        run.outputs[name] = (await output.future(), await output.is_secret())
    return True


def unwrap(value: Any) -> Any:
    """`value` without Pulumi's secret wrappers, at any depth."""
    value = rpc.unwrap_rpc_secret(value)
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value
