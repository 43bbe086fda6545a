"""MQTT ingress benchmark (issue 19): the bridge against a bare paho subscriber, in one run.

Starts an embedded PostgreSQL, the backend (a process, as `bench/readings.py` serves it),
a Mosquitto of its own and 1,000 sensors, then measures:

1. Drain rate of single-reading QoS 1 messages for 1,000 sensors, queued at the broker
   while the consumer was away: the bridge (stored) against a bare paho subscriber that
   merely receives them, each timed from the first message it receives (target: at
   least 0.5x).
2. Readings stored per second from messages of 100 readings each (target: 50,000/s).
3. Publish-to-stored latency at 1,000 messages/s (target: p99 under 1 s).
4. The bridge's memory (a `dtbase mqtt bridge` process) over a steady 1,000 messages/s,
   sampled every 10 s: the last minute's against the first's (target: flat, about 1.0x).

    .venv/bin/python bench/mqtt.py [--messages 20000] [--memory-seconds 600]
    .venv/bin/python bench/mqtt.py --soak 600     # the memory run alone
    .venv/bin/python bench/mqtt.py --profile DIR  # cProfile of each bridge thread

Besides the rates, the CPU time per message of the bridge's process and of the bare
subscriber: unlike the rates, it barely moves with what else the machine runs.

Devices are simulated by a few MQTT connections publishing to the 1,000 sensors' topics
(one account allowed to publish to all of them: the ACL is not what is measured).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from dtbase.backend import migrate
from dtbase.client import Client
from dtbase.core.settings import DEFAULT_USER_EMAIL
from dtbase.devdb import EmbeddedPostgres, free_port
from dtbase.mqtt import bridge as bridge_module
from dtbase.mqtt.broker import LocalBroker, set_password
from dtbase.mqtt.config import MqttSettings

PASSWORD = "bench-password-long-enough"  # bench/readings.py's backend
LOAD_USER, LOAD_PASSWORD = "bench-load", "bench-load-password"
SENSORS = [f"dev-{n:04d}" for n in range(1000)]
T0_MS = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1000)
CONNECTIONS = 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--messages", type=int, default=20_000, help="messages per drain run")
    parser.add_argument("--memory-seconds", type=int, default=600)
    parser.add_argument(
        "--soak", type=int, metavar="SECONDS", help="measure only the memory, over SECONDS"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FOLDER",
        help="write cProfile statistics of each bridge thread in the drain runs to FOLDER",
    )
    args = parser.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dtbase-bench-mqtt-") as folder:
        run(Path(folder), args)


def run(folder: Path, args: argparse.Namespace) -> None:
    database = EmbeddedPostgres(folder / "pgdata", free_port())
    url = database.start()
    migrate.upgrade(url)
    port = free_port()
    readings_bench = Path(__file__).with_name("readings.py")
    backend = subprocess.Popen(
        [sys.executable, str(readings_bench), "--serve", url, str(port), str(folder / "data")]
    )
    settings = MqttSettings(data_dir=folder / "mqtt", mqtt_port=free_port())
    broker = LocalBroker(settings)
    try:
        base = f"http://127.0.0.1:{port}"
        client = logged_in(base)
        progress("1,000 sensors")
        setup(client)
        broker.start()  # writes its configuration and ACL: the load account comes after
        set_password(broker.passwords, LOAD_USER, LOAD_PASSWORD)
        with broker.acl.open("a") as acl:
            acl.write(f"\nuser {LOAD_USER}\ntopic readwrite {settings.mqtt_topic_prefix}/#\n")
        broker.reload()
        time.sleep(0.5)
        postmaster = int((folder / "pgdata" / "postmaster.pid").read_text().split()[0])
        mosquitto = int(broker.pid_file.read_text().strip())
        rows = measure(settings, base, args, Parts(backend.pid, postmaster, mosquitto))
        print_table(rows)
    finally:
        broker.stop()
        backend.terminate()
        backend.wait(timeout=30)
        database.stop()


def logged_in(base: str) -> Client:
    deadline = time.monotonic() + 60
    while True:
        try:
            return Client.logged_in(base, DEFAULT_USER_EMAIL, PASSWORD, timeout=600)
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def setup(client: Client) -> None:
    client.sensors.insert_sensor_type(
        "device", [{"name": "value", "units": None, "datatype": "float"}]
    )
    for sensor in SENSORS:
        client.sensors.insert_sensor("device", sensor)


# --- the CPU of the other parts ---


TICKS = os.sysconf("SC_CLK_TCK")


class Parts:
    """CPU seconds of the processes the bridge's drain keeps busy besides itself: the
    backend, PostgreSQL (the server and its connections' processes) and the broker."""

    def __init__(self, backend: int, postmaster: int, broker: int) -> None:
        self.pids = {"backend": [backend], "PostgreSQL": [postmaster], "broker": [broker]}

    def snapshot(self) -> dict[str, dict[int, float]]:
        postmaster = self.pids["PostgreSQL"][0]
        pids = {**self.pids, "PostgreSQL": [postmaster, *children(postmaster)]}
        return {part: {pid: cpu_seconds(pid) for pid in of_part} for part, of_part in pids.items()}

    @staticmethod
    def spent(
        before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]
    ) -> dict[str, float]:
        """CPU seconds of each part between the two snapshots (a process that started
        meanwhile counts from zero)."""
        return {
            part: sum(seconds - before[part].get(pid, 0.0) for pid, seconds in pids.items())
            for part, pids in after.items()
        }


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError):
                continue
            if ppid == parent:
                found.append(int(entry.name))
    return found


# --- publishing ---


class Publishers:
    """A few connections publishing at QoS 1, each to its share of the sensors."""

    def __init__(self, settings: MqttSettings) -> None:
        self.settings = settings
        self.clients = [self._connect(n) for n in range(CONNECTIONS)]

    def _connect(self, number: int) -> paho.Client:
        client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{number}", protocol=paho.MQTTv5
        )
        client.username_pw_set(LOAD_USER, LOAD_PASSWORD)
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        client.connect("127.0.0.1", self.settings.mqtt_port)
        client.loop_start()
        deadline = time.monotonic() + 10
        while not client.is_connected():
            assert time.monotonic() < deadline, "the broker refused the load account"
            time.sleep(0.01)
        return client

    def publish(self, number: int, payload: bytes) -> paho.MQTTMessageInfo:
        sensor = SENSORS[number % len(SENSORS)]
        topic = self.settings.readings_topic(sensor)
        return self.clients[number % CONNECTIONS].publish(topic, payload, qos=1)

    def burst(self, payloads: Iterator[bytes]) -> None:
        """Publish everything, then wait until the broker acknowledged all of it."""
        infos = [self.publish(n, p) for n, p in enumerate(payloads)]
        for info in infos:
            info.wait_for_publish(120)

    def paced(self, per_second: int, seconds: float, payload: Any) -> int:
        """Publish `payload(number)` at a steady rate; the number of messages sent."""
        start = time.monotonic()
        number = 0
        while (elapsed := time.monotonic() - start) < seconds:
            due = int(elapsed * per_second)
            while number < due:
                self.publish(number, payload(number))
                number += 1
            time.sleep(0.002)
        return number

    def close(self) -> None:
        for client in self.clients:
            client.disconnect()
            client.loop_stop()


def single(number: int) -> bytes:
    return json.dumps({"ts": T0_MS + number, "values": {"value": float(number)}}).encode()


def hundred(number: int) -> bytes:
    first = (T0_MS + number * 100) / 1000
    records: list[dict[str, Any]] = [{"bt": first, "n": "value", "v": 0.0}]
    records += [{"n": "value", "t": i / 1000, "v": float(i)} for i in range(1, 100)]
    return json.dumps(records).encode()


def now_ms(_: int) -> bytes:
    return json.dumps({"ts": int(time.time() * 1000), "values": {"value": 1.0}}).encode()


# --- consumers ---


def session_properties() -> Properties:
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 0xFFFFFFFF
    properties.ReceiveMaximum = 65535
    return properties


def bare_drain_rate(
    settings: MqttSettings, publishers: Publishers, count: int
) -> tuple[float, float]:
    """Messages/s a bare paho subscriber receives from its queued session, and the CPU
    microseconds it spends per message."""
    done = threading.Event()
    received = 0
    first = first_cpu = last_cpu = 0.0

    def on_message(*_: Any) -> None:
        nonlocal received, first, first_cpu, last_cpu
        if not received:
            first, first_cpu = time.monotonic(), time.process_time()
        received += 1
        if received == count:
            last_cpu = time.process_time()
            done.set()

    def subscriber() -> paho.Client:
        client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id="bench-bare", protocol=paho.MQTTv5
        )
        client.username_pw_set(LOAD_USER, LOAD_PASSWORD)
        client.on_message = on_message
        client.connect(
            "127.0.0.1", settings.mqtt_port, clean_start=False, properties=session_properties()
        )
        return client

    client = subscriber()
    client.loop_start()
    client.subscribe(settings.readings_topic("+"), qos=1)
    time.sleep(1)
    client.disconnect()
    client.loop_stop()
    publishers.burst(single(n) for n in range(count))
    client = subscriber()
    client.loop_start()
    assert done.wait(600), f"received {received} of {count}"
    elapsed = time.monotonic() - first
    client.disconnect()
    client.loop_stop()
    return count / elapsed, (last_cpu - first_cpu) / count * 1e6


class TimedBridge(bridge_module.Bridge):
    """The bridge, noting when each batch was stored and how late its readings were; with
    `profile` (a file name prefix), each of its three threads is profiled on its own."""

    def __init__(self, *args: Any, profile: Path | None = None) -> None:
        super().__init__(*args)
        if profile is not None:
            mqtt = self._mqtt
            mqtt._thread_main = profiled(mqtt._thread_main, profile, "network")  # type: ignore[method-assign]
            self._write = profiled(self._write, profile, "writer")  # type: ignore[method-assign]
            self.run = profiled(self.run, profile, "bridge")  # type: ignore[method-assign]
        self.latencies: list[float] = []
        self.stored_readings = 0
        self.all_stored = threading.Event()
        self.expect = 0
        self.first_arrival = self.first_cpu = self.last_cpu = 0.0

    def _on_message(self, *args: Any) -> None:
        if not self.first_arrival:
            self.first_arrival, self.first_cpu = time.monotonic(), time.process_time()
        super()._on_message(*args)

    def _stored(self, messages: list[bridge_module.Message], started: float) -> None:
        super()._stored(messages, started)
        now = time.time()
        for message in messages:
            for series in message.series:
                self.latencies += [now - moment.timestamp() for moment in series.timestamps]
        self.stored_readings += sum(m.readings for m in messages)
        if self.stored_readings >= self.expect:
            self.last_cpu = time.process_time()
            self.all_stored.set()


def profiled(target: Callable[[], None], prefix: Path, thread: str) -> Callable[[], None]:
    def run() -> None:
        profile = cProfile.Profile()
        profile.enable()
        try:
            target()
        finally:
            profile.disable()
            profile.dump_stats(f"{prefix}-{thread}.pstats")

    return run


@contextmanager
def timed_bridge(
    settings: MqttSettings, base: str, expect: int, profile: Path | None = None
) -> Iterator[TimedBridge]:
    with Client.logged_in(base, DEFAULT_USER_EMAIL, PASSWORD) as client:
        bridge = TimedBridge(settings, client, profile=profile)
        bridge.expect = expect
        thread = threading.Thread(target=bridge.run, daemon=True)
        thread.start()
        try:
            yield bridge
        finally:
            bridge.stop()
            thread.join(30)


def bridge_drain_rate(
    settings: MqttSettings,
    base: str,
    publishers: Publishers,
    count: int,
    payload: Any,
    per: int,
    profile: Path | None,
    parts: Parts,
) -> tuple[float, float, dict[str, float]]:
    """Readings/s the bridge stores from its queued session, the CPU microseconds it
    spends per message (the whole process: the bridge's three threads), and those the
    other parts spend meanwhile."""
    with timed_bridge(settings, base, 0) as bridge:
        assert bridge.connected.wait(30)
    publishers.burst(payload(n) for n in range(count))
    with timed_bridge(settings, base, count * per, profile) as bridge:
        # From the first message received, as for the bare subscriber (login and the
        # sensors' catalog are the bridge's start-up, not its rate).
        while not bridge.first_arrival and not bridge.all_stored.is_set():
            time.sleep(0.001)
        before = parts.snapshot()
        assert bridge.all_stored.wait(900), f"stored {bridge.stored_readings}"
        elapsed = time.monotonic() - bridge.first_arrival
        spent = Parts.spent(before, parts.snapshot())
        progress(f"  {dict(bridge.counters)}")
    per_message = {part: seconds / count * 1e6 for part, seconds in spent.items()}
    return count * per / elapsed, (bridge.last_cpu - bridge.first_cpu) / count * 1e6, per_message


def latencies(settings: MqttSettings, base: str, publishers: Publishers) -> list[float]:
    with timed_bridge(settings, base, 10**9) as bridge:
        assert bridge.connected.wait(30)
        publishers.paced(1000, 10, now_ms)
        time.sleep(2)
        return sorted(bridge.latencies)


def bridge_memory(
    settings: MqttSettings, base: str, publishers: Publishers, seconds: int
) -> tuple[list[tuple[float, float]], int, int]:
    """The resident MiB of a `dtbase mqtt bridge` process under a steady 1,000 messages/s,
    sampled every 10 s (every tenth of a shorter run) as (seconds, MiB); the readings it
    stored and the messages published (memory means little if it stopped storing)."""
    env = {
        **os.environ,
        "DT_DATA_DIR": str(settings.data_dir),
        "DT_MQTT_PORT": str(settings.mqtt_port),
        "DT_MQTT_CLIENT_ID": "bench-memory",
        "DT_BACKEND_URL": base,
        "DT_DEFAULT_USER_PASS": PASSWORD,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "dtbase", "mqtt", "bridge"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    every = min(10.0, seconds / 10)
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample() -> None:
        start = time.monotonic()
        while not stop.wait(every - (time.monotonic() - start) % every):
            samples.append((time.monotonic() - start, rss_mib(process.pid)))
            progress(f"  {samples[-1][0]:4.0f} s: {samples[-1][1]:.1f} MiB")

    try:
        time.sleep(5)  # started and subscribed
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        published = publishers.paced(1000, seconds, lambda n: single(10_000_000 + n))
        stop.set()
        sampler.join()
        time.sleep(3)  # the last batch stored, the status file written
        status = json.loads(settings.status_file.read_text())
    finally:
        process.terminate()
        process.wait(30)
    return samples, status["counters"].get("readings_stored", 0), published


def memory_row(seconds: int, samples: list[tuple[float, float]], stored: int, sent: int) -> Row:
    """The first minute's mean against the last minute's (of a run shorter than ten
    minutes: the first and last tenth)."""
    count = max(1, min(6, len(samples) // 10))
    window = samples[count - 1][0]
    early = sum(mib for _, mib in samples[:count]) / count
    late = sum(mib for _, mib in samples[-count:]) / count
    return (
        f"bridge memory over {seconds} s at 1,000 msg/s",
        f"{late:.1f} MiB (last {window:.0f} s)",
        f"{early:.1f} MiB (first {window:.0f} s); stored {stored:,} of {sent:,}",
        f"{late / early:.2f}x (target about 1x)",
    )


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- the run ---

Row = tuple[str, str, str, str]


def progress(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def measure(settings: MqttSettings, base: str, args: argparse.Namespace, parts: Parts) -> list[Row]:
    publishers = Publishers(settings)
    rows: list[Row] = []
    try:
        if args.soak:
            progress(f"memory over {args.soak} s")
            seconds = args.soak
            return [memory_row(seconds, *bridge_memory(settings, base, publishers, seconds))]
        progress("bare paho subscriber")
        bare, bare_cpu = bare_drain_rate(settings, publishers, args.messages)
        progress("bridge, single-reading messages")
        drained, drained_cpu, others = bridge_drain_rate(
            settings.model_copy(update={"mqtt_client_id": "bench-single"}),
            base,
            publishers,
            args.messages,
            single,
            1,
            args.profile and args.profile / "single",
            parts,
        )
        rows.append(
            (
                "single-reading messages, 1,000 sensors",
                f"{drained:,.0f} stored/s",
                f"{bare:,.0f} received/s (bare paho)",
                f"{drained / bare:.2f}x (target >= 0.5x)",
            )
        )
        rows.append(
            (
                "  CPU per single-reading message",
                f"{drained_cpu:.0f} us (bridge)",
                f"{bare_cpu:.0f} us (bare paho)",
                f"{bare_cpu / drained_cpu:.2f}x",
            )
        )
        rows.append(
            (
                "  meanwhile: backend, PostgreSQL, broker",
                ", ".join(f"{others[part]:.0f}" for part in ("backend", "PostgreSQL", "broker"))
                + " us",
                "",
                "",
            )
        )
        progress("bridge, messages of 100 readings")
        big, big_cpu, _ = bridge_drain_rate(
            settings.model_copy(update={"mqtt_client_id": "bench-hundred"}),
            base,
            publishers,
            max(args.messages // 20, 100),
            hundred,
            100,
            args.profile and args.profile / "hundred",
            parts,
        )
        rows.append(
            (
                "messages of 100 readings",
                f"{big:,.0f} readings/s",
                "50,000 readings/s",
                f"{big / 50_000:.2f}x (target >= 1x)",
            )
        )
        rows.append(
            ("  CPU per 100-reading message", f"{big_cpu:.0f} us (bridge)", "", ""),
        )
        if args.profile:
            return rows  # the profiler's cost leaves the rates below worth little
        progress("latency at 1,000 msg/s")
        late = latencies(
            settings.model_copy(update={"mqtt_client_id": "bench-late"}), base, publishers
        )
        p50, p99 = late[len(late) // 2], late[int(len(late) * 0.99)]
        rows.append(
            (
                "publish -> stored at 1,000 msg/s",
                f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms",
                "1 s",
                f"p99 {p99:.2f}x of 1 s (target < 1x), n={len(late)}",
            )
        )
        progress(f"memory over {args.memory_seconds} s")
        rows.append(
            memory_row(
                args.memory_seconds,
                *bridge_memory(settings, base, publishers, args.memory_seconds),
            )
        )
    finally:
        publishers.close()
    return rows


def print_table(rows: list[Row]) -> None:
    header: Row = ("figure", "dtbase", "reference", "ratio")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
