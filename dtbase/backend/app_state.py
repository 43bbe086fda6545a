"""What `create_app` keeps on `app.state`, typed: one accessor per object, called with
the request, and a dependency of each for routes (the `...Dep` aliases)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from dtbase.backend.async_reads import AsyncReads
from dtbase.backend.auth.passwords import PasswordQueue
from dtbase.backend.auth.throttle import LoginLimits
from dtbase.backend.auth.tokens import TokenConfig
from dtbase.backend.db import session_factory_of
from dtbase.backend.services.runs import BackgroundRuns

T = TypeVar("T")


def async_reads_of(request: Request) -> AsyncReads:
    reads: AsyncReads = request.app.state.async_reads
    return reads


def token_config_of(request: Request) -> TokenConfig:
    config: TokenConfig = request.app.state.token_config
    return config


def login_limits_of(request: Request) -> LoginLimits:
    limits: LoginLimits = request.app.state.login_limits
    return limits


def password_queue_of(request: Request) -> PasswordQueue:
    queue: PasswordQueue = request.app.state.password_queue
    return queue


def background_runs_of(request: Request) -> BackgroundRuns:
    runs: BackgroundRuns = request.app.state.background_runs
    return runs


def _dependency(accessor: Callable[[Request], T]) -> Callable[[Request], Awaitable[T]]:
    # Async: FastAPI runs a plain function dependency in a worker thread, a hop that costs
    # more than the attribute lookup it makes.
    async def dependency(request: Request) -> T:
        return accessor(request)

    return dependency


AsyncReadsDep = Annotated[AsyncReads, Depends(_dependency(async_reads_of))]
SessionFactoryDep = Annotated[sessionmaker[Session], Depends(_dependency(session_factory_of))]
TokenConfigDep = Annotated[TokenConfig, Depends(_dependency(token_config_of))]
LoginLimitsDep = Annotated[LoginLimits, Depends(_dependency(login_limits_of))]
PasswordQueueDep = Annotated[PasswordQueue, Depends(_dependency(password_queue_of))]
BackgroundRunsDep = Annotated[BackgroundRuns, Depends(_dependency(background_runs_of))]
