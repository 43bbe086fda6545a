"""Sync endpoints in one worker-thread hop: their deferred dependencies (the user), the
endpoint, then its session's commit.

FastAPI calls a sync (`def`) endpoint in a worker thread, a sync dependency (the user's
lookup) in another before it, checks the endpoint's answer against the response model in
a third, and the session dependency (`db.get_session`) commits in a fourth. Each hop wakes
a thread and then the event loop again; under load, on a busy machine, the wake-ups are
most of a small request's time. Here the endpoint is wrapped in an async function that
works out the deferred dependencies, runs the endpoint and commits its sessions, in one
hop; FastAPI then checks the answer in the event loop (an endpoint's answer is small: big
ones are streamed), and the session dependency finds nothing left to do but close a
session without a connection.

A dependency defers its value (`defer`) when the endpoint runs here: an async dependency
then returns a `Deferred`, which is worked out in the endpoint's thread, before the
endpoint, in the order the dependencies asked. The order of the answers is kept: if the
request fails before its endpoint runs (a body that does not validate, say), the deferred
values are worked out first, in a hop of their own, so that a revoked token is still a 401
(and a missing role a 403) before a bad body's 422, as DTBase answers.

The unit of work is unchanged: the commit still comes after the endpoint and before the
answer, and an exception (from a deferred value, the endpoint or the commit) still rolls
back through the session dependency.

The hop waits at the requests' gate (`request_gate`): a few requests' work at a time,
the others first come first served.

An endpoint marked `reads_only` (and its user's lookup) runs its statements without a
transaction (`db.without_transaction`): a small read is then its statements' round trips
to PostgreSQL, without a BEGIN and a COMMIT of its own.

An async endpoint marked `awaits_reads` has no hop: its statements (its caller's lookup
too) are awaited in the event loop (`async_reads`). It waits at the same gate, once its
body is read, so that every request keeps its turn.

The hop itself goes through a `concurrent.futures` pool rather than anyio's worker
threads (`hop`): the same limiter decides which request goes first, but handing the work
over and back was about 0.1 ms shorter over HTTP (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar, copy_context
from typing import Any, Generic, TypeVar

import anyio.to_thread
import sniffio
from anyio import CancelScope, CapacityLimiter
from anyio.lowlevel import RunVar
from fastapi import Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from dtbase.backend.db import without_transaction

T = TypeVar("T")
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])

# Set on a sync endpoint by `reads_only`.
_READS_ONLY = "dtbase_reads_only"


def reads_only(endpoint: Endpoint) -> Endpoint:
    """Mark a sync endpoint whose request only reads: its sessions run each statement on
    its own, without BEGIN and COMMIT (a write in it is an error, see
    `db.without_transaction`). Put it beneath the route's decorator."""
    if in_one_thread(endpoint) is endpoint:
        raise TypeError(f"{endpoint.__name__}: only a sync endpoint can be marked reads_only")
    setattr(endpoint, _READS_ONLY, True)
    return endpoint


class Deferred(ABC, Generic[T]):
    """A dependency's value, worked out (once) in the endpoint's thread, in the request's
    session.

    A value that reads the database says where a session comes from (`factory`); the hop
    gives it the endpoint's session (the request's unit of work), or, for an endpoint
    without one, a session made from `factory` for the hop. The dependency itself takes
    no session: an async endpoint, whose caller is looked up in the event loop, then
    makes none (a session dependency cost an awaited `list-sensors` a quarter of its time
    in the app, docs/performance.md)."""

    session: Session | None = None
    factory: Callable[[], Session] | None = None

    # Not `functools.cached_property`: before Python 3.12 it holds one lock for every
    # instance while it works a value out, which queued every request's user lookup (a
    # database round trip) behind one another (measured: 150 ms of waiting at 32 clients).
    @property
    def value(self) -> T:
        try:
            value: T = self.__dict__["_value"]
        except KeyError:
            value = self.__dict__.setdefault("_value", self.resolve())
        return value

    @abstractmethod
    def resolve(self) -> T:
        """The value (or the exception that answers the request); may use the session."""


# The request's deferred values not yet worked out; None where its endpoint does not run
# in one thread (the dependency then works its value out at once).
_deferred: ContextVar[list[Deferred[Any]] | None] = ContextVar("dtbase_deferred", default=None)


def defer(item: Deferred[T]) -> bool:
    """Whether `item` is worked out in the endpoint's thread (the dependency then returns
    it); False where the endpoint does not run in one thread."""
    deferred = _deferred.get()
    if deferred is None:
        return False
    deferred.append(item)
    return True


def in_one_thread(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """An async endpoint that works out the deferred dependencies, runs the sync
    `endpoint` and commits the sessions it was given, in one worker thread. Coroutines and
    generators are left as they are."""
    if not inspect.isfunction(endpoint) or (
        inspect.iscoroutinefunction(endpoint)
        or inspect.isgeneratorfunction(endpoint)
        or inspect.isasyncgenfunction(endpoint)
    ):
        return endpoint
    reads = getattr(endpoint, _READS_ONLY, False)

    def run_and_commit(arguments: dict[str, Any], deferred: list[Deferred[Any]]) -> Any:
        made = _share_sessions(arguments.values(), deferred)
        try:
            sessions = _sessions(arguments.values(), deferred)
            if reads:
                for session in sessions:
                    if not session.in_transaction():
                        without_transaction(session)
            _work_out(deferred)
            answer = endpoint(
                **{
                    name: value.value if isinstance(value, Deferred) else value
                    for name, value in arguments.items()
                }
            )
            for session in sessions:
                session.commit()
            return answer
        finally:
            for session in made:
                session.close()

    # `wraps` keeps what FastAPI reads of the endpoint: its signature (through
    # `__wrapped__`), name (the operation id), docstring and module.
    @functools.wraps(endpoint)
    async def endpoint_in_one_thread(**arguments: Any) -> Any:
        deferred = _taken()
        return await hop(
            run_and_commit, arguments, deferred, limiter=_limiter_for(arguments.values())
        )

    return endpoint_in_one_thread


# How many requests' work runs in threads at once, per process: enough to overlap one
# thread's Python with others' waits for PostgreSQL, few enough that the threads do not
# share the interpreter's lock round-robin (see `request_gate`). Measured at 32 clients
# against 2, 8 and 40 (no gate): none beat it in both runs (p99 203-315 ms, p99/p50
# 1.5-1.8); 2 gave less throughput, and at 8 and 40 the event loop took 8-61 ms to read
# a request at the median, 1.5-2 ms at 4 (docs/performance.md, "The gate's size").
REQUEST_THREADS = 4

_gate: RunVar[CapacityLimiter] = RunVar("dtbase_request_gate")


def request_gate() -> CapacityLimiter:
    """The event loop's gate for requests' work in worker threads: REQUEST_THREADS at a
    time, the others waiting first come first served.

    Only one thread of a process runs Python at a time. With 40 threads (anyio's default)
    busy at once, each gets the interpreter's lock in turn for a few milliseconds, so every
    request is stretched by all the others (processor sharing), and so is the event loop,
    which reads new requests; a writer holding PostgreSQL's commit-order lock for events
    waits its turn too, and every other writer (in every process) waits for it. Queued
    here instead, a request waits for those ahead of it, then runs with few others: a
    shorter tail (docs/performance.md, "Fair under concurrency")."""
    try:
        return _gate.get()
    except LookupError:
        gate = CapacityLimiter(REQUEST_THREADS)
        _gate.set(gate)
        return gate


# The limiter bounds the threads at work (the requests' gate, plus one per request that holds
# a connection: at most the pool's); the cap is only there to be above that, so that a
# request never queues here behind the limiter's back. Idle threads are reused.
_threads = ThreadPoolExecutor(max_workers=256, thread_name_prefix="dtbase-endpoint")


async def hop(work: Callable[..., T], *args: Any, limiter: CapacityLimiter | None = None) -> T:
    """`work(*args)` in a worker thread, as `anyio.to_thread.run_sync` would run it: after
    the same limiter (the requests' gate by default, first come first served), in a copy of
    the request's context, and waited for even if the request is cancelled meanwhile (the
    thread still holds its session). Through `concurrent.futures` rather than anyio's
    worker threads: over HTTP, a bare app's sync endpoint took 0.15 to 0.20 ms longer than
    an async one this way, 0.26 to 0.44 ms through anyio's (docs/performance.md)."""
    context = copy_context()
    # As anyio does: code in the thread is in no async library's task.
    context.run(sniffio.current_async_library_cvar.set, None)
    async with limiter or request_gate():
        with CancelScope(shield=True):
            done = await asyncio.get_running_loop().run_in_executor(
                _threads, functools.partial(context.run, work, *args)
            )
    return done


def _taken() -> list[Deferred[Any]]:
    """The request's deferred values, which are now the caller's to work out."""
    deferred = _deferred.get() or []
    taken = list(deferred)
    deferred.clear()
    return taken


def _work_out(deferred: list[Deferred[Any]]) -> None:
    """Each value in the order the dependencies asked (a 401 before a 403), for its
    exception: the endpoint's arguments take the values from there."""
    for item in deferred:
        item.value  # noqa: B018


def _share_sessions(arguments: Iterable[Any], deferred: list[Deferred[Any]]) -> list[Session]:
    """Give each deferred value that reads the database the endpoint's session, or one
    made for the hop where the endpoint has none; the sessions made (to close)."""
    shared = next((value for value in arguments if isinstance(value, Session)), None)
    made: list[Session] = []
    for item in deferred:
        if item.session is None and item.factory is not None:
            if shared is None:
                shared = item.factory()
                made.append(shared)
            item.session = shared
    return made


def _sessions(arguments: Iterable[Any], deferred: list[Deferred[Any]]) -> list[Session]:
    """The sessions to commit: the endpoint's and the deferred values', each once."""
    sessions = [value for value in arguments if isinstance(value, Session)]
    sessions += [item.session for item in deferred if item.session is not None]
    return list({id(session): session for session in sessions}.values())


def _limiter_for(arguments: Iterable[Any]) -> CapacityLimiter:
    """A limiter of its own for a request whose session already holds a connection (a
    sync dependency used it in an earlier hop: none does today, the user's lookup is
    deferred), else the requests' gate.

    Such a request must not queue for a thread: if every thread waited for a connection
    while every connection was held by a request waiting for a thread, nothing would move
    until the pool's timeout (30 s), then fail. Requests that hold a connection are at
    most as many as the pool's connections, so this adds at most that many threads; the
    gate still decides, first come first served, which new requests start.
    """
    holding = any(isinstance(value, Session) and value.in_transaction() for value in arguments)
    return CapacityLimiter(1) if holding else request_gate()


def _work_out_and_end(deferred: list[Deferred[Any]]) -> None:
    """The deferred values (for their exceptions), then their sessions ended."""
    made = _share_sessions((), deferred)
    try:
        _work_out(deferred)
    finally:
        for session in made:
            session.close()


# Set on an async endpoint by `awaits_reads`.
_AWAITS_READS = "dtbase_awaits_reads"


def awaits_reads(endpoint: Endpoint) -> Endpoint:
    """Mark an async endpoint whose request's statements (its caller's lookup too) are
    awaited in the event loop (`async_reads`): its request takes its turn at the requests'
    gate as a one-hop request does, once its body is read. Put it beneath the route's
    decorator."""
    if not inspect.iscoroutinefunction(endpoint):
        raise TypeError(f"{endpoint.__name__}: only an async endpoint awaits its reads")
    setattr(endpoint, _AWAITS_READS, True)
    return endpoint


class OneThreadRoute(APIRoute):
    """A route whose sync endpoint runs with its deferred dependencies and its session's
    commit in one thread hop; or whose async endpoint awaits its reads (`awaits_reads`)
    at the requests' gate."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        wrapped = in_one_thread(endpoint)
        self.in_one_thread = wrapped is not endpoint
        self.awaits_reads = getattr(endpoint, _AWAITS_READS, False)
        super().__init__(path, wrapped, **options)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.awaits_reads:
            return _at_the_gate(handler)
        if not self.in_one_thread:
            return handler

        async def deferring(request: Request) -> Response:
            deferred: list[Deferred[Any]] = []
            token = _deferred.set(deferred)
            try:
                return await handler(request)
            except Exception:
                # Failed before the endpoint took them (a body that does not validate,
                # another dependency's error): they answer first, as if not deferred.
                if deferred:
                    await anyio.to_thread.run_sync(_work_out_and_end, _taken())
                raise
            finally:
                _deferred.reset(token)

        return deferring


def _at_the_gate(
    handler: Callable[[Request], Coroutine[Any, Any, Response]],
) -> Callable[[Request], Coroutine[Any, Any, Response]]:
    """`handler` (its dependencies and endpoint) after the request's turn at the gate.

    The body is read first: a client slow to send it holds no place at the gate. Without
    the gate, these reads (a millisecond of work) skipped the queue that every other
    request waits in: at 32 clients their median fell to 10 ms but their p99 was 5 to 10
    times that, the scheduling noise of a saturated machine, while the gate keeps every
    request's turn first come first served (docs/performance.md, "Fourth pass")."""

    async def gated(request: Request) -> Response:
        await request.body()
        async with request_gate():
            return await handler(request)

    return gated
