"""The MQTT bridge: readings published by devices, stored through the bulk ingest API.

Delivery: the bridge subscribes at QoS 1 in a persistent session (MQTT 5, a session that
never expires) and acknowledges a message only after the backend has stored the batch
holding it (paho's manual acks). A message the broker accepted is therefore stored even
if the bridge or the backend dies in between: the broker sends unacknowledged messages
again, and readings already stored are skipped by their key (sensor, measure, time).

Three threads: paho's network loop only queues what arrives; the bridge's own parses,
checks and batches (by size and by age); a writer stores each batch, acknowledges it and
reports the sensors' traffic, while the next batch fills (one batch waits for the writer
at most, so acknowledgements stay in the order of the batches). The three share one
interpreter lock: paho's thread, the busiest, must not be held up, so the bridge's thread
is woken by the first message only and then takes what arrived every few milliseconds
until its batch is due, rather than being woken (and taking the lock) for every message.

A bad message is published to the sensor's error topic, counted, logged once per cause,
and acknowledged; it never holds up others. When the backend cannot be reached the batch
is retried until it is stored, and the broker holds back what follows (it sends at most
`RECEIVE_MAXIMUM` unacknowledged).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from dtbase.client import ApiError, Client
from dtbase.mqtt.catalog import Catalog, Resolved
from dtbase.mqtt.config import MqttSettings
from dtbase.mqtt.payloads import BadMessage, parse

log = logging.getLogger(__name__)

# The session outlives any restart of the bridge (MQTT 5: 0xFFFFFFFF never expires).
SESSION_NEVER_EXPIRES = 0xFFFFFFFF
# Unacknowledged messages the broker may send us: enough for several full batches.
RECEIVE_MAXIMUM = 65535
RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)
RECENT_ERRORS = 10
# A reason quotes what the device sent (a measure's name, a value): cut to fit the
# activity report (which refuses reasons over 2,000 characters, the whole report with them).
REASON_AT_MOST = 500
STATUS_EVERY_SECONDS = 1.0
REPORT_EVERY_SECONDS = 2.0
# While a batch fills, the bridge's thread takes what arrived this often (a message
# waits at most this long before it is checked, and never past its batch's age limit).
TAKE_EVERY_SECONDS = 0.01

SeriesKey = tuple[str, str, str | None]


class Arrived(NamedTuple):
    """A message as paho's thread queued it (a tuple: made for every message, on the
    busiest thread)."""

    mid: int
    topic: str
    payload: bytes | bytearray
    received_at: datetime
    monotonic: float


@dataclass(slots=True)
class Message:
    """A checked message waiting in a batch: its readings and who to tell if they fail."""

    mid: int
    sensor: str
    readings: int
    series: list[Resolved]


@dataclass
class Batch:
    messages: list[Message] = field(default_factory=list)
    readings: int = 0
    # When its first message arrived (time.monotonic): the batch is due `max_age` later.
    started: float = 0.0

    def add(self, message: Message, arrived: float) -> None:
        if not self.messages:
            self.started = arrived
        self.messages.append(message)
        self.readings += message.readings


@dataclass
class Traffic:
    """What the bridge saw of one sensor since its last report to the backend."""

    last_message_at: datetime | None = None
    messages: int = 0
    errors: int = 0
    recent_errors: deque[dict[str, str]] = field(
        default_factory=lambda: deque(maxlen=RECENT_ERRORS)
    )

    def merged(self, newer: Traffic | None) -> Traffic:
        """This (unreported) traffic followed by `newer`."""
        if newer is None:
            return self
        self.last_message_at = newer.last_message_at or self.last_message_at
        self.messages += newer.messages
        self.errors += newer.errors
        self.recent_errors.extend(newer.recent_errors)
        return self

    def as_report(self, sensor: str) -> dict[str, Any]:
        return {
            "unique_identifier": sensor,
            "last_message_at": self.last_message_at,
            "messages": self.messages,
            "errors": self.errors,
            "recent_errors": list(self.recent_errors),
        }


class CatalogUnreadable(Exception):
    """The sensors could not be read from the backend (to check a message)."""


class Stopped(Exception):
    """The bridge was asked to stop while a batch waited for the backend."""


class Bridge:
    def __init__(self, settings: MqttSettings, backend: Client) -> None:
        self.settings = settings
        self._backend = backend
        self._catalog = Catalog(backend)
        # Filled by paho's thread, emptied by the bridge's (deque's ends are thread-safe).
        self._inbox: deque[Arrived] = deque()
        self._idle = False  # the bridge's thread waits for `_arrivals` (no batch open)
        self._arrivals = threading.Event()
        self._writer_free = True  # waiting for a batch (set by the writer)
        self._outbox: queue.Queue[Batch] = queue.Queue(maxsize=1)
        # Counters, errors and traffic change in both the bridge's thread and the writer's.
        self._lock = threading.Lock()
        self._writer_failure: BaseException | None = None
        self._stop = threading.Event()
        self.connected = threading.Event()
        self.counters: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self._traffic: dict[str, Traffic] = {}
        self.started_at = datetime.now(UTC).isoformat()
        self._status_written = 0.0
        self._reported = 0.0
        self._mqtt = self._mqtt_client()

    # --- the MQTT side (paho's network thread) ---

    def _mqtt_client(self) -> paho.Client:
        broker = self.settings.broker()
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.settings.mqtt_client_id,
            protocol=paho.MQTTv5,
            manual_ack=True,
        )
        if broker.username is not None:
            client.username_pw_set(broker.username, broker.password)
        if broker.tls:
            client.tls_set()
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    def _on_connect(
        self,
        client: paho.Client,
        _userdata: Any,
        flags: paho.ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error("The broker refused the bridge: %s", reason)
            return
        topic = self.settings.readings_topic("+")
        client.subscribe(topic, options=SubscribeOptions(qos=1))
        log.info("Bridge connected to the broker (session kept: %s)", flags.session_present)

    def _on_subscribe(self, *_: Any) -> None:
        self.connected.set()

    def _on_disconnect(self, *_: Any) -> None:
        self.connected.clear()
        self.counters["disconnects"] += 1

    def _on_message(self, _client: paho.Client, _userdata: Any, message: paho.MQTTMessage) -> None:
        now = datetime.now(UTC)
        self._inbox.append(
            Arrived(message.mid, message.topic, message.payload, now, time.monotonic())
        )
        if self._idle:
            self._arrivals.set()

    # --- the bridge's own thread ---

    def run(self) -> None:
        """Connect, then batch and store until `stop()`."""
        broker = self.settings.broker()
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = SESSION_NEVER_EXPIRES
        properties.ReceiveMaximum = RECEIVE_MAXIMUM
        try:
            self._load_catalog()
        except Stopped:
            return
        self._mqtt.connect_async(
            broker.host, broker.port, keepalive=30, clean_start=False, properties=properties
        )
        self._mqtt.loop_start()
        writer = threading.Thread(target=self._write, name="dtbase-bridge-writer", daemon=True)
        writer.start()
        try:
            self._batch_and_store()
        finally:
            self._stop.set()
            writer.join()
            self._reported = 0.0
            self._maybe_report_traffic()
            self._write_status()
            self._mqtt.disconnect()
            self._mqtt.loop_stop()
        if self._writer_failure is not None:
            # The bridge stops as it did when one thread stored: a writer that died
            # silently would leave it receiving and never storing.
            raise RuntimeError("the bridge's writer failed") from self._writer_failure

    def stop(self) -> None:
        self._stop.set()

    def _load_catalog(self) -> None:
        """The sensors, once the backend answers (it may start after the bridge)."""
        attempt = 0
        while True:
            try:
                self._catalog.refresh()
                return
            except (httpx.TransportError, ApiError) as error:
                if attempt == 0:
                    log.warning("Cannot read the sensors from the backend (will retry): %s", error)
            self._retry_later(attempt)
            attempt += 1

    def _batch_and_store(self) -> None:
        batch = Batch()
        while not self._stop.is_set():
            try:
                batch = self._take_arrivals(batch)
            except Stopped:
                return  # what is not acknowledged, the broker sends again
            self._maybe_write_status()
            self._wait_for_arrivals(batch)

    def _take_arrivals(self, batch: Batch) -> Batch:
        """Check what arrived into the batch, handing it over when full or due. The batch
        to fill next."""
        while self._inbox:
            arrived = self._inbox.popleft()
            try:
                message = self._checked(arrived)
            except CatalogUnreadable:
                self._inbox.appendleft(arrived)  # the message is fine, the backend is not
                self._retry_later(0)
                break
            if message is not None:
                batch.add(message, arrived.monotonic)
            if batch.readings >= self.settings.mqtt_batch_readings or self._due(batch):
                self._hand_over(batch)
                batch = Batch()
        if self._due(batch):
            self._hand_over(batch)
            batch = Batch()
        return batch

    def _due(self, batch: Batch) -> bool:
        """Whether the batch has reached its age limit and the writer is free to store it.
        While the writer still stores the batch before, a due batch keeps filling (up to
        its size): that delays none of its readings, and a backend that is slower than
        the devices gets fewer, larger requests."""
        max_age = self.settings.mqtt_batch_milliseconds / 1000
        return (
            bool(batch.messages)
            and time.monotonic() - batch.started >= max_age
            and self._writer_free
            and self._outbox.empty()
        )

    def _wait_for_arrivals(self, batch: Batch) -> None:
        """Until the open batch is due (taking arrivals every few milliseconds on the
        way), or, with no batch open, until a message arrives."""
        if batch.messages:
            due = batch.started + self.settings.mqtt_batch_milliseconds / 1000
            until_due = due - time.monotonic()
            # Past due, the writer is busy: look again (and take arrivals) in a moment.
            short = 0 < until_due < TAKE_EVERY_SECONDS
            self._stop.wait(until_due if short else TAKE_EVERY_SECONDS)
            return
        self._idle = True  # before looking: a message queued after this wakes us
        if not self._inbox:
            self._arrivals.wait(0.5)
        self._arrivals.clear()
        self._idle = False

    def _hand_over(self, batch: Batch) -> None:
        """To the writer, once it has taken the batch before (Stopped if asked to stop)."""
        while not self._stop.is_set():
            try:
                self._outbox.put(batch, timeout=0.5)
                return
            except queue.Full:
                continue
        raise Stopped

    def _write(self) -> None:
        """The writer's thread: store batches in the order given, report traffic. An
        unexpected error stops the bridge (`run` raises it)."""
        try:
            self._store_batches()
        except BaseException as error:
            self._writer_failure = error
            self._stop.set()

    def _store_batches(self) -> None:
        while not self._stop.is_set():
            self._writer_free = True
            try:
                batch = self._outbox.get(timeout=0.5)
                self._writer_free = False
            except queue.Empty:
                batch = None
            try:
                if batch is not None:
                    self._store(batch)
                self._maybe_report_traffic()
            except Stopped:
                return  # what is not acknowledged, the broker sends again

    def _checked(self, arrived: Arrived) -> Message | None:
        """The message's readings, or None after reporting it as bad (and acking it).
        CatalogUnreadable when the sensors had to be read again and the backend failed."""
        sensor = _sensor_of(arrived.topic)
        try:
            records = parse(arrived.payload, arrived.received_at)
            series = self._catalog.resolve_all(sensor, records)
        except BadMessage as error:
            self._count_message(sensor, arrived)
            self._report(sensor, error.cause, str(error), arrived.received_at)
            self._mqtt.ack(arrived.mid, 1)
            return None
        except (httpx.TransportError, ApiError) as error:
            log.warning("Cannot read the sensors from the backend: %s", error)
            raise CatalogUnreadable from error
        self._count_message(sensor, arrived, good=True)
        return Message(arrived.mid, sensor, len(records), series)

    def _count_message(self, sensor: str, arrived: Arrived, *, good: bool = False) -> None:
        with self._lock:
            self.counters["messages"] += 1
            if good:
                traffic = self._traffic_of(sensor)
                traffic.last_message_at = arrived.received_at
                traffic.messages += 1

    def _store(self, batch: Batch) -> None:
        """Store the batch (or, when the backend refuses it, each message on its own) and
        acknowledge its messages."""
        started = time.monotonic()
        refused = self._post(batch.messages)
        if refused is None:
            self._stored(batch.messages, started)
            return
        # Something in the batch changed under us (a sensor or measure deleted): store
        # what the backend takes, message by message, and report the rest.
        for message in batch.messages:
            refused = self._post([message])
            if refused is None:
                self._stored([message], started)
            else:
                now = datetime.now(UTC)
                self._report(message.sensor, "refused", refused.description, now)
                self._mqtt.ack(message.mid, 1)

    def _post(self, messages: list[Message]) -> ApiError | None:
        """POST the readings until the backend answers: None when stored, the error when
        it refuses them (4xx); transport errors and 5xx are retried."""
        body = orjson.dumps({"series": _series(messages)})
        attempt = 0
        while True:
            try:
                self._backend.send("POST", "/sensor/insert-readings-bulk", content=body)
                return None
            except ApiError as error:
                if error.status_code < 500 and error.status_code not in (401, 408, 429):
                    return error
                problem: Exception = error
            except httpx.TransportError as error:
                problem = error
            with self._lock:
                self.counters["backend_retries"] += 1
            if attempt == 0:
                log.warning("Cannot store readings (will retry until stored): %s", problem)
            self._retry_later(attempt)
            attempt += 1

    def _retry_later(self, attempt: int) -> None:
        delay = RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)]
        if self._stop.wait(delay):
            raise Stopped

    def _stored(self, messages: list[Message], started: float) -> None:
        for message in messages:
            self._mqtt.ack(message.mid, 1)
        with self._lock:
            self.counters["batches"] += 1
            self.counters["messages_stored"] += len(messages)
            self.counters["readings_stored"] += sum(m.readings for m in messages)
            self.counters["last_batch_ms"] = round((time.monotonic() - started) * 1000)

    def _report(self, sensor: str, cause: str, reason: str, at: datetime) -> None:
        """Tell the device (its error topic), count, and log the first of each cause."""
        if len(reason) > REASON_AT_MOST:
            reason = reason[: REASON_AT_MOST - 1] + "…"
        with self._lock:
            if not self.errors[cause]:
                log.warning("Bad MQTT message (%s) for sensor %r: %s", cause, sensor, reason)
            self.errors[cause] += 1
            error = {"cause": cause, "reason": reason, "received_at": at.isoformat()}
            if cause != "unknown_sensor":  # unknown names must not grow memory
                traffic = self._traffic_of(sensor)
                traffic.errors += 1
                traffic.recent_errors.append(error)
        self._mqtt.publish(self.settings.errors_topic(sensor), json.dumps(error), qos=1)

    def _traffic_of(self, sensor: str) -> Traffic:
        traffic = self._traffic.get(sensor)
        if traffic is None:  # made only when missing: this runs for every message
            traffic = self._traffic[sensor] = Traffic()
        return traffic

    def _maybe_report_traffic(self) -> None:
        """Every few seconds: each sensor's traffic to the backend (for its page). A failed
        report is kept and sent with the next; it never holds up the readings."""
        if not self._traffic or time.monotonic() - self._reported < REPORT_EVERY_SECONDS:
            return
        self._reported = time.monotonic()
        with self._lock:
            taken, self._traffic = self._traffic, {}
        try:
            self._backend.mqtt.insert_activity(
                [traffic.as_report(sensor) for sensor, traffic in taken.items()]
            )
        except (ApiError, httpx.TransportError) as error:
            with self._lock:
                if not self.counters["report_failures"]:
                    log.warning("Cannot report sensors' MQTT traffic to the backend: %s", error)
                self.counters["report_failures"] += 1
                for sensor, traffic in taken.items():  # sent again with the next report
                    self._traffic[sensor] = traffic.merged(self._traffic.get(sensor))

    # --- status, for `dtbase mqtt status` ---

    def status(self) -> dict[str, Any]:
        return {
            "broker": self.settings.broker().url,
            "connected": self.connected.is_set(),
            "pid": os.getpid(),
            "started_at": self.started_at,
            "updated_at": datetime.now(UTC).isoformat(),
            "waiting": len(self._inbox),
            "counters": self._copy(self.counters),
            "errors": self._copy(self.errors),
        }

    def _copy(self, counter: Counter[str]) -> dict[str, int]:
        with self._lock:
            return dict(counter)

    def _maybe_write_status(self) -> None:
        if time.monotonic() - self._status_written >= STATUS_EVERY_SECONDS:
            self._write_status()

    def _write_status(self) -> None:
        self._status_written = time.monotonic()
        try:
            write_atomically(self.settings.status_file, json.dumps(self.status(), indent=1))
        except OSError as error:
            # A read-only data directory (a container) costs `dtbase mqtt status`, not data.
            if not self.counters["status_failures"]:
                log.warning("Cannot write the bridge's status file: %s", error)
            self.counters["status_failures"] += 1


def _sensor_of(topic: str) -> str:
    # <prefix>/<sensor>/readings: the subscription admits nothing else.
    return topic.split("/")[1]


def _series(messages: list[Message]) -> list[dict[str, Any]]:
    """The batch as bulk ingest takes it: one series per sensor and measure (times as
    datetimes: the body is encoded by orjson)."""
    series: dict[SeriesKey, tuple[list[Any], list[datetime]]] = {}
    for message in messages:
        for one in message.series:
            key = (message.sensor, one.measure_name, one.measure_units)
            values, timestamps = series.setdefault(key, ([], []))
            values += one.values
            timestamps += one.timestamps  # orjson writes them as ISO 8601, in C
    return [
        {
            "unique_identifier": sensor,
            "measure_name": name,
            "measure_units": units,
            "readings": values,
            "timestamps": timestamps,
        }
        for (sensor, name, units), (values, timestamps) in series.items()
    ]


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(text)
    partial.replace(path)
