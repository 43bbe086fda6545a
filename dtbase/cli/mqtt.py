"""`dtbase mqtt`: the local broker, device credentials, the bridge and its counters."""

from __future__ import annotations

import json
import logging
import signal
import threading
from contextlib import suppress
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dtbase.cli.options import BackendOption, EmailOption, PasswordOption, fail, logged_in
from dtbase.client import ApiError
from dtbase.core.settings import DEFAULT_USER_EMAIL
from dtbase.mqtt.broker import BrokerError, LocalBroker
from dtbase.mqtt.config import MqttSettings

if TYPE_CHECKING:
    from dtbase.mqtt.bridge import Bridge

mqtt_app = typer.Typer(help="MQTT ingress: broker, device credentials, bridge.")
device_app = typer.Typer(help="Device credentials at the local broker (one per sensor).")
mqtt_app.add_typer(device_app, name="device")


@mqtt_app.command("broker")
def broker() -> None:
    """Run the local Mosquitto in the foreground (as `dtbase up` does)."""
    local = LocalBroker(_settings())
    try:
        local.start()
    except BrokerError as error:
        fail(str(error))
    typer.echo(f"Mosquitto on {local.url}, files in {local.dir}. Press Ctrl-C to stop.")
    with suppress(KeyboardInterrupt):
        signal.pause()
    local.stop()


@mqtt_app.command("bridge")
def bridge(
    backend_url: BackendOption = None,
    email: EmailOption = DEFAULT_USER_EMAIL,
    password: PasswordOption = None,
) -> None:
    """Store what devices publish: subscribe, check, batch, write through the API."""
    from dtbase.mqtt.bridge import Bridge

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = _settings()
    try:
        settings.broker()
    except ValueError as error:
        fail(str(error))
    with logged_in(backend_url, email, password) as client:
        running = Bridge(settings, client)
        typer.echo(f"MQTT bridge: {settings.broker().url} -> {client.http.base_url}")
        _run_until_stopped(running)


def _run_until_stopped(running: Bridge) -> None:
    """Run the bridge in a thread of its own until it ends or a signal stops it. A signal
    handler runs in the main thread, between two of its steps: had the main thread run
    the bridge, it could hold the very lock `stop()` takes, and never stop."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            running.run()
        except BaseException as error:
            failures.append(error)

    worker = threading.Thread(target=run, name="dtbase-bridge")
    signal.signal(signal.SIGTERM, lambda *_: running.stop())
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.5)
    except KeyboardInterrupt:
        running.stop()
        worker.join()
    if failures:
        raise failures[0]


@mqtt_app.command("status")
def status(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """The bridge's counters (as it last wrote them, every second)."""
    settings = _settings()
    try:
        report: dict[str, Any] = json.loads(settings.status_file.read_text())
    except FileNotFoundError:
        fail(f"No bridge has run here ({settings.status_file} is missing)")
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    counters, errors = report["counters"], report["errors"]
    state = "connected" if report["connected"] else "NOT connected"
    typer.echo(
        f"Bridge (pid {report['pid']}) {state} to {report['broker']}, "
        f"updated {report['updated_at']}\n"
        f"  messages {counters.get('messages', 0)}, stored "
        f"{counters.get('messages_stored', 0)} ({counters.get('readings_stored', 0)} readings "
        f"in {counters.get('batches', 0)} batches), waiting {report['waiting']}, "
        f"backend retries {counters.get('backend_retries', 0)}"
    )
    for cause, count in sorted(errors.items()):
        typer.echo(f"  errors {cause}: {count}")


@device_app.command("add")
def device_add(
    sensor: Annotated[str, typer.Argument(help="The sensor's unique identifier.")],
    backend_url: BackendOption = None,
    email: EmailOption = DEFAULT_USER_EMAIL,
    password: PasswordOption = None,
) -> None:
    """Credentials for the sensor's device: it may publish that sensor's readings only."""
    from dtbase.mqtt import devices

    settings = _settings()
    _local_only(settings)
    with logged_in(backend_url, email, password) as client:
        try:
            client.mqtt.sensor_activity(sensor)  # 400 for a sensor that does not exist
        except ApiError as error:
            fail(f"Sensor {sensor!r}: {error.description}")
    local = LocalBroker(settings)
    try:
        secret = devices.add(local, sensor)
    except (devices.DeviceError, BrokerError) as error:
        fail(str(error))
    topic = settings.readings_topic(sensor)
    typer.echo(
        f"Device {sensor!r}: user {sensor!r}, password {secret} (shown once)\n"
        f"Publish: mosquitto_pub -h {settings.mqtt_host} -p {settings.mqtt_port} -q 1 "
        f"-u '{sensor}' -P '{secret}' -t '{topic}' "
        '-m \'[{"n":"<measure>","v":21.5}]\''
    )


@device_app.command("list")
def device_list() -> None:
    """The sensors whose devices have credentials."""
    from dtbase.mqtt import devices

    names = devices.devices(LocalBroker(_settings()))
    typer.echo("\n".join(names) if names else "No devices.")


@device_app.command("remove")
def device_remove(
    sensor: Annotated[str, typer.Argument(help="The sensor's unique identifier.")],
) -> None:
    """Remove the sensor's device credentials (the broker refuses its next connection)."""
    from dtbase.mqtt import devices

    settings = _settings()
    _local_only(settings)
    try:
        devices.remove(LocalBroker(settings), sensor)
    except devices.DeviceError as error:
        fail(str(error))
    typer.echo(f"Removed the credentials of {sensor!r}.")


def _local_only(settings: MqttSettings) -> None:
    if settings.mqtt_url:
        fail(
            "DT_MQTT_URL points at another broker: manage its devices there "
            "(docs/mqtt.md, 'Moving to a managed broker')"
        )


def _settings() -> MqttSettings:
    """The DT_MQTT_* settings, or the command ends saying which one is wrong."""
    from pydantic import ValidationError

    try:
        return MqttSettings()
    except ValidationError as error:
        fail("; ".join(str(e["msg"]).removeprefix("Value error, ") for e in error.errors()))
