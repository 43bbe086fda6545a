"""Sync endpoints in one worker-thread hop: the endpoint, then its session's commit.

FastAPI calls a sync (`def`) endpoint in a worker thread, then checks its answer against
the response model in another, and the session dependency (`db.get_session`) commits in
a third. Each hop wakes a thread and then the event loop again; under load, on a busy
machine, the wake-ups are most of a small request's time. Here the endpoint is wrapped in
an async function that runs it and commits its session in one hop; FastAPI then checks
the answer in the event loop (an endpoint's answer is small: big ones are streamed), and
the session dependency finds nothing left to do but close a session without a connection.

The unit of work is unchanged: the commit still comes after the endpoint and before the
answer, and an exception (from the endpoint or the commit) still rolls back through the
session dependency.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any

import anyio.to_thread
from anyio import CapacityLimiter
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session


def in_one_thread(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """An async endpoint that runs the sync `endpoint` and commits the sessions it was
    given, in one worker thread. Coroutines and generators are left as they are."""
    if not inspect.isfunction(endpoint) or (
        inspect.iscoroutinefunction(endpoint)
        or inspect.isgeneratorfunction(endpoint)
        or inspect.isasyncgenfunction(endpoint)
    ):
        return endpoint

    def run_and_commit(arguments: dict[str, Any]) -> Any:
        answer = endpoint(**arguments)
        for value in arguments.values():
            if isinstance(value, Session):
                value.commit()
        return answer

    # `wraps` keeps what FastAPI reads of the endpoint: its signature (through
    # `__wrapped__`), name (the operation id), docstring and module.
    @functools.wraps(endpoint)
    async def endpoint_in_one_thread(**arguments: Any) -> Any:
        return await anyio.to_thread.run_sync(
            run_and_commit, arguments, limiter=_limiter_for(arguments.values())
        )

    return endpoint_in_one_thread


def _limiter_for(arguments: Iterable[Any]) -> CapacityLimiter | None:
    """A limiter of its own for a request whose session already holds a connection (its
    user was looked up in an earlier hop), else the shared one (None).

    Such a request must not queue for a thread: if every thread waited for a connection
    while every connection was held by a request waiting for a thread, nothing would move
    until the pool's timeout (30 s), then fail. Requests that hold a connection are at
    most as many as the pool's connections, so this adds at most that many threads; the
    shared limiter still decides, first come first served, which new requests start.
    """
    holding = any(isinstance(value, Session) and value.in_transaction() for value in arguments)
    return CapacityLimiter(1) if holding else None


class OneThreadRoute(APIRoute):
    """A route whose sync endpoint runs with its session's commit in one thread hop."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        super().__init__(path, in_one_thread(endpoint), **options)
