"""Wake-ups when events commit: one `LISTEN dtbase_events` connection per backend process.

A notification says only "there may be events with an id greater than the last you read";
each deliverer then reads them itself (`store.events_after`). To lose no wake-up between
its read and its wait, a deliverer takes the count of notifications BEFORE it reads, and
waits for the count to pass it:

    seen = notifications.count
    ...read and deliver the events after your cursor...
    notifications.wait(timeout, after=seen)          # a thread
    await notifications.wait_async(timeout, after=seen)  # the event loop

A (re)connection counts as a notification too: notifications sent while the connection
was down are lost, so everyone reads again. A deliverer should still read on a timeout
(a few seconds): it costs one indexed query, and covers anything unforeseen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

import psycopg
from sqlalchemy import Engine

from dtbase.backend.events.tables import CHANNEL

logger = logging.getLogger(__name__)


class Notifications:
    """The process's listening connection, in a daemon thread, between `start()` and
    `stop()`; it re-connects (every `reconnect_seconds`) after the database goes away."""

    def __init__(self, engine: Engine, *, reconnect_seconds: float = 1.0) -> None:
        self._conninfo = engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        self._reconnect_seconds = reconnect_seconds
        self._count = 0
        self._changed = threading.Condition()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._listening = threading.Event()

    @property
    def count(self) -> int:
        """Notifications (and re-connections) so far: take it before reading."""
        return self._count

    def start(self, *, timeout: float = 10.0) -> None:
        """Start listening; returns once listening (or after `timeout` seconds, if the
        database is unreachable: the thread keeps trying)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="event-notifications", daemon=True)
        self._thread.start()
        self._listening.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._listening.clear()

    def wait(self, timeout: float, *, after: int | None = None) -> bool:
        """Block the calling thread until the count passes `after` (default: the count
        now) or `timeout` seconds pass; True if it passed."""
        with self._changed:
            seen = self._count if after is None else after
            return self._changed.wait_for(lambda: self._count > seen, timeout)

    async def wait_async(self, timeout: float, *, after: int | None = None) -> bool:
        """`wait` for the event loop: the task waits, the loop runs on."""
        seen = self._count if after is None else after
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        self._waiters.add(waiter)
        try:
            # Checked after registering: a notification in between has set the event.
            if self._count > seen:
                return True
            async with asyncio.timeout(timeout):
                await waiter[1].wait()
            return True
        except TimeoutError:
            return self._count > seen
        finally:
            self._waiters.discard(waiter)

    def _notify(self) -> None:
        with self._changed:
            self._count += 1
            self._changed.notify_all()
        for loop, event in list(self._waiters):
            # A loop that has closed (its app stopped) has no one left to wake.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except psycopg.Error as error:
                logger.warning(
                    "Listening for events failed (%s); again in %s s",
                    error,
                    self._reconnect_seconds,
                )
            self._listening.clear()
            self._stop.wait(self._reconnect_seconds)

    def _listen(self) -> None:
        with psycopg.connect(self._conninfo, autocommit=True) as connection:
            connection.execute(f"LISTEN {CHANNEL}")
            self._listening.set()
            self._notify()  # what was sent while not listening is lost: read again
            while not self._stop.is_set():
                # A burst of commits is one wake-up: the readers read everything new.
                if any(True for _ in connection.notifies(timeout=0.5)):
                    self._notify()
