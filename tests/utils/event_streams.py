"""Events recorded as a write records them, and `GET /events/stream` read by a real SSE
client in a thread."""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx
from httpx_sse import ServerSentEvent, aconnect_sse
from sqlalchemy import Engine

from dtbase.backend.db import make_session_factory
from dtbase.backend.events.record import record_many
from dtbase.devdb import free_port
from dtbase.schemas.events import EventKind, EventOut
from tests.utils.settings import DEFAULT_PASSWORD, JWT_SECRET


def record_events(engine: Engine, events: Sequence[tuple[EventKind, Mapping[str, Any]]]) -> None:
    """Commit `events` in one transaction, as a write's last statement does."""
    with make_session_factory(engine).begin() as session:
        record_many(session, events)


def readings_stored(sensor: str, count: int = 1) -> tuple[EventKind, dict[str, Any]]:
    meta = {"sensor": sensor, "sensor_type": "T", "measure": ["temperature"], "count": count}
    return EventKind.readings_stored, meta


class StreamReader:
    """Reads `/events/stream` with an asyncio SSE client in a daemon thread until
    `close()`; every record lands in `records`; the answer's status, headers (and body,
    when refused) or transport error are kept."""

    def __init__(
        self,
        base_url: str,
        params: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.records: queue.Queue[ServerSentEvent] = queue.Queue()
        self.status: int | None = None
        self.headers: httpx.Headers | None = None
        self.body = ""
        self.error: BaseException | None = None
        self.ended = threading.Event()
        self._answered = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._task: asyncio.Task[None] | None = None
        path = f"/events/stream?{params}" if params else "/events/stream"
        self._thread = threading.Thread(
            target=self._run, args=(base_url, path, dict(headers or {})), daemon=True
        )
        self._thread.start()
        if not self._answered.wait(10):
            raise AssertionError("The stream did not answer within 10 s")

    def _run(self, base_url: str, path: str, headers: dict[str, str]) -> None:
        self._task = self._loop.create_task(self._read(base_url, path, headers))
        try:
            self._loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        except Exception as error:
            self.error = error
        finally:
            self._loop.close()
            self._answered.set()
            self.ended.set()

    async def _read(self, base_url: str, path: str, headers: dict[str, str]) -> None:
        async with (
            httpx.AsyncClient(base_url=base_url, timeout=30) as http,
            aconnect_sse(http, "GET", path, headers=headers) as source,
        ):
            self.status = source.response.status_code
            self.headers = source.response.headers
            if not source.response.is_success:
                self.body = (await source.response.aread()).decode()
                return
            self._answered.set()
            async for record in source.aiter_sse():
                self.records.put(record)

    def first(self, timeout: float = 10) -> ServerSentEvent:
        return self.records.get(timeout=timeout)

    def events(self, count: int, timeout: float = 10) -> list[EventOut]:
        """The next `count` events (records with data), waiting up to `timeout` s each."""
        events: list[EventOut] = []
        while len(events) < count:
            record = self.records.get(timeout=timeout)
            if record.data:
                event = EventOut.model_validate_json(record.data)
                assert record.id == str(event.id)
                assert record.event == event.kind.value
                events.append(event)
        return events

    def nothing_more(self, seconds: float = 0.5) -> None:
        """No record comes within `seconds`."""
        try:
            record = self.records.get(timeout=seconds)
        except queue.Empty:
            return
        raise AssertionError(f"Unexpected record: {record.id} {record.event} {record.data}")

    def close(self) -> None:
        if self._task is not None and not self.ended.is_set():
            # Closed meanwhile: the thread's loop has already ended.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(10)

    def __enter__(self) -> StreamReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class BackendProcess:
    """`dtbase serve backend` in a subprocess on a fixed port, to kill and start again
    (clients meet a backend that goes away, and one that comes back)."""

    def __init__(self, database_url: str, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith("DT_")},
            "DT_DATABASE_URL": database_url,
            "DT_JWT_SECRET_KEY": JWT_SECRET,
            "DT_DEFAULT_USER_PASS": DEFAULT_PASSWORD,
            "DT_SCHEDULER_ENABLED": "false",
            "DT_ROLLUP_REFRESH_SECONDS": "0",
            "DT_DATA_DIR": str(data_dir),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "dtbase", "serve", "backend", "--workers", "1"]
        self.process = subprocess.Popen([*command, "--port", str(self.port)], env=self.environment)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.process.poll() is None, "the backend ended"
            assert time.monotonic() < deadline, "the backend did not start"
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: connections drop as in a crash."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)
            self.process = None

    def __enter__(self) -> BackendProcess:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.kill()


T = TypeVar("T")


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` in a thread of its own: a test may run where an event loop is already
    running (Playwright's sync API leaves one in the xdist worker's main thread)."""
    with ThreadPoolExecutor(1) as executor:
        return executor.submit(asyncio.run, coroutine).result()
