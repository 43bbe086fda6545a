"""The local broker: Eclipse Mosquitto (the Debian package), with its configuration,
persistence, password file and ACL under `<DT_DATA_DIR>/mosquitto`.

Anonymous clients are refused. The ACL gives the bridge its topics, and every device
(an account named after its sensor, see `dtbase.mqtt.devices`) its own: it may publish
to `<prefix>/<sensor>/readings` and read `<prefix>/<sensor>/errors`, nothing else.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from dtbase.mqtt.config import BRIDGE_USER, MqttSettings

INSTALL_HINT = (
    "Mosquitto is not installed: `apt-get install mosquitto mosquitto-clients` (make up "
    "does it), or point DT_MQTT_URL at another broker."
)


class BrokerError(RuntimeError):
    pass


def installed() -> bool:
    return shutil.which("mosquitto") is not None and shutil.which("mosquitto_passwd") is not None


class LocalBroker:
    def __init__(self, settings: MqttSettings) -> None:
        self.settings = settings
        self.dir = settings.broker_dir
        self.config = self.dir / "mosquitto.conf"
        self.passwords = self.dir / "passwords"
        self.acl = self.dir / "acl"
        self.pid_file = self.dir / "mosquitto.pid"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.settings.mqtt_host}:{self.settings.mqtt_port}"

    def prepare(self) -> None:
        """Write the configuration and the ACL, and give the bridge its account."""
        if not installed():
            raise BrokerError(INSTALL_HINT)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config.write_text(self._config())
        self.acl.write_text(self._acl())
        self.passwords.touch(mode=0o600)
        broker = self.settings.broker()
        set_password(self.passwords, BRIDGE_USER, broker.password or "")

    def start(self, timeout: float = 10.0) -> LocalBroker:
        """Run Mosquitto as a child process until `stop()`; wait until it listens."""
        self.prepare()
        log = (self.dir / "mosquitto.log").open("ab")
        self._process = subprocess.Popen(
            ["mosquitto", "-c", str(self.config)], stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while not self._listening():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise BrokerError(
                    f"Mosquitto did not start on {self.url}; see {self.dir / 'mosquitto.log'}"
                )
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def reload(self) -> bool:
        """Make a running Mosquitto read its password file and ACL again (SIGHUP); False
        when none runs."""
        try:
            pid = int(self.pid_file.read_text().strip())
            os.kill(pid, signal.SIGHUP)
        except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
            return False
        return True

    def running(self) -> bool:
        return self._listening()

    def _listening(self) -> bool:
        try:
            with socket.create_connection(
                (self.settings.mqtt_host, self.settings.mqtt_port), timeout=0.5
            ):
                return True
        except OSError:
            return False

    def _config(self) -> str:
        # Queued messages: Mosquitto drops QoS 1 messages for an offline client beyond
        # max_queued_messages (1,000 by default), though it acknowledged them to the device.
        # The bridge's session must hold everything sent while it is away.
        return (
            "# Written by dtbase (dtbase.mqtt.broker) at every start: edit the code, not this.\n"
            f"listener {self.settings.mqtt_port} {self.settings.mqtt_host}\n"
            "allow_anonymous false\n"
            f"password_file {self.passwords}\n"
            f"acl_file {self.acl}\n"
            "persistence true\n"
            f"persistence_location {self.dir}/\n"
            "autosave_interval 10\n"
            "max_queued_messages 0\n"
            "max_inflight_messages 0\n"
            f"pid_file {self.pid_file}\n"
            f"user {getpass.getuser()}\n"
            f"log_dest file {self.dir / 'mosquitto.log'}\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
        )

    def _acl(self) -> str:
        prefix = self.settings.mqtt_topic_prefix
        return (
            "# Written by dtbase at every start.\n"
            f"user {BRIDGE_USER}\n"
            f"topic read {prefix}/+/readings\n"
            f"topic write {prefix}/+/errors\n\n"
            "# Every device: its own sensor's topics (the account is named after the sensor).\n"
            f"pattern write {prefix}/%u/readings\n"
            f"pattern read {prefix}/%u/errors\n"
        )


def set_password(passwords: Path, user: str, password: str) -> None:
    """Add or change an account in a Mosquitto password file (hashed by mosquitto_passwd)."""
    subprocess.run(
        ["mosquitto_passwd", "-b", str(passwords), user, password],
        check=True,
        capture_output=True,
    )


def remove_account(passwords: Path, user: str) -> None:
    subprocess.run(
        ["mosquitto_passwd", "-D", str(passwords), user], check=True, capture_output=True
    )


def accounts(passwords: Path) -> list[str]:
    if not passwords.exists():
        return []
    lines = passwords.read_text().splitlines()
    return [line.split(":", 1)[0] for line in lines if ":" in line]
