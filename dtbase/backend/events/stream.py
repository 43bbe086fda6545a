"""The process's event hub: it reads new events once per wake-up and hands them to every
connected stream whose query they match.

One read for all listeners, not one per listener: after a notification the hub reads the
events after the last it saw (`event_json_after`, no filter), in pages, and appends each
to the queue of every listener it matches. A listener's queue is bounded: when it is full,
the hub stops filling it and marks it overflowed; the listener then reads from the
database (`event_json_after` with its query in SQL) from the last event it sent, until it
is caught up, and takes its queue again. A slow client therefore holds no one up, costs at
most one queue of memory, and misses nothing. Events travel as the JSON text the
database wrote (`EventJson`): a stream writes them out as they are.

Why nothing is missed, joining or catching up: a listener registers (or resets its queue)
first, then reads the database from its cursor until a page comes back short, or until
its cursor reaches the last event the hub has handed out. Every event the hub has not yet
handed out when the listener registered will be handed to its queue; every event the hub
has handed out is committed, so the database read sees it. The two overlap, never leave a
gap; the overlap is dropped by id. A listener from now on (its cursor the newest event,
which the hub has handed out) therefore reads nothing from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import anyio.to_thread
import orjson
from anyio import CapacityLimiter
from sqlalchemy.orm import Session, sessionmaker

from dtbase.backend.events.listen import Notifications
from dtbase.backend.events.query import matches
from dtbase.backend.events.store import EventJson, event_json_after, newest_id
from dtbase.schemas.events import EventQuery

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Events a listener may fall behind the hub before it reads from the database instead.
QUEUE_SIZE = 1_000
# Events per database read by the hub (one wake-up's worth, usually a few).
PAGE = 1_000
# Events per database read by a listener catching up: big pages cost fewer queries and
# thread hops per event (a page of these is a few MB at most).
CATCH_UP_PAGE = 5_000
# The hub reads even without a notification this often (a missed one costs this much).
POLL_SECONDS = 5.0
# Database reads of listeners catching up at once: the rest wait, the pool's connections
# stay free for requests.
CATCHING_UP_AT_ONCE = 4
ALL = EventQuery()


@dataclass(eq=False)
class Listener:
    """One connected stream, as the hub sees it."""

    query: EventQuery
    capacity: int
    waiting: deque[EventJson] = field(default_factory=deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    overflowed: bool = False

    def offer(self, event: EventJson, meta: dict[str, Any]) -> None:
        if self.overflowed or not matches(self.query, event.kind, meta):
            return
        if len(self.waiting) >= self.capacity:
            self.overflowed = True
            self.waiting.clear()  # read again from the database: no need to hold them
        else:
            self.waiting.append(event)
        self.ready.set()


class EventHub:
    """Between `start()` and `stop()` (in the app's event loop), hands new events to the
    listeners of `follow`."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        notifications: Notifications,
        *,
        queue_size: int = QUEUE_SIZE,
        page: int = PAGE,
        catch_up_page: int = CATCH_UP_PAGE,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self._session_factory = session_factory
        self._notifications = notifications
        self._queue_size = queue_size
        self._page = page
        self._catch_up_page = catch_up_page
        self._poll_seconds = poll_seconds
        self._listeners: set[Listener] = set()
        self._joined = 0  # listeners ever registered: see `_read_new`
        self._last: EventJson | None = None  # the last event read
        self._task: asyncio.Task[None] | None = None
        self._catching_up = CapacityLimiter(CATCHING_UP_AT_ONCE)

    @property
    def listener_count(self) -> int:
        return len(self._listeners)

    async def start(self) -> None:
        self._last = await self.read(_newest)
        self._task = asyncio.create_task(self._run(), name="event-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def read(
        self, reader: Callable[[Session], T], *, limiter: CapacityLimiter | None = None
    ) -> T:
        """`reader(session)` in a worker thread, in a read-only session of its own."""

        def in_session() -> T:
            with self._session_factory() as session:
                return reader(session)

        return await anyio.to_thread.run_sync(in_session, limiter=limiter)

    async def follow(
        self, query: EventQuery, *, after: int, until: float | None = None
    ) -> AsyncGenerator[list[EventJson], None]:
        """The events matching `query` with ids greater than `after`, in id order, in
        batches, for ever (or until the event loop's time `until`). Close it (aclosing)
        to leave the hub."""
        listener = Listener(query, self._queue_size)
        self._listeners.add(listener)
        self._joined += 1
        cursor = after
        try:
            while True:
                async for page in self._catch_up(query, after=cursor):
                    yield page
                    cursor = page[-1].id
                while not listener.overflowed:
                    try:
                        async with asyncio.timeout_at(until):
                            await listener.ready.wait()
                    except TimeoutError:
                        return
                    listener.ready.clear()
                    fresh = [event for event in listener.waiting if event.id > cursor]
                    listener.waiting.clear()
                    if fresh:
                        yield fresh
                        cursor = fresh[-1].id
                # Fell behind: what the hub dropped is in the database; read it from there.
                listener.overflowed = False
                listener.waiting.clear()
        finally:
            self._listeners.discard(listener)

    async def _catch_up(
        self, query: EventQuery, *, after: int
    ) -> AsyncGenerator[list[EventJson], None]:
        """Pages from the database until one comes back short (caught up), or until
        the hub's last event: the hub hands everything after it to the queue (after
        none, when it has read none: then every event it reads). So a listener from now
        on reads nothing, and takes no connection to learn it."""
        while True:
            if self._last is None or after >= self._last.id:
                return
            page = await self.read(
                partial(event_json_after, query=query, after=after, limit=self._catch_up_page),
                limiter=self._catching_up,
            )
            if page:
                yield page
                after = page[-1].id
            if len(page) < self._catch_up_page:
                return

    async def _run(self) -> None:
        while True:
            seen = self._notifications.count
            try:
                await self._read_new()
            except Exception:
                logger.exception("The event hub failed to read new events; trying again")
            await self._notifications.wait_async(self._poll_seconds, after=seen)

    async def _read_new(self) -> None:
        """Hand every event after the last one read to the listeners it matches."""
        if not self._listeners:
            # No one to hand them to: skip to the newest, unless someone joined meanwhile
            # (who counts on the hub for everything after the last one read).
            joined = self._joined
            newest = await self.read(_newest)
            if self._joined == joined:
                self._last = newest
                return
        while True:
            # From the last event read, to check that it is still there: when it is gone
            # (pruned, or the table emptied and its ids restarted, as tests do) every
            # event in the table is newer than it.
            after = 0 if self._last is None else self._last.id - 1
            page = await self.read(
                partial(event_json_after, query=ALL, after=after, limit=self._page + 1)
            )
            if self._last is not None:
                # The same id and the same JSON (its time): the same event.
                if not page or page[0] != self._last:
                    logger.info("Event %s is gone: reading every event kept", self._last.id)
                    self._last = None
                    continue
                page = page[1:]
            for event in page:
                meta = orjson.loads(event.json)["meta"]
                for listener in self._listeners:
                    listener.offer(event, meta)
            if page:
                self._last = page[-1]
            if len(page) < self._page:
                return


def _newest(session: Session) -> EventJson | None:
    newest = newest_id(session)
    found = event_json_after(session, ALL, after=newest - 1, limit=1)
    return found[0] if found else None
