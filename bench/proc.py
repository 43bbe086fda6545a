"""The CPU time a benchmark's backend has used, from /proc (Linux), for the benchmarks
beside this file."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and of every process below it (uvicorn's
    workers, the jobs process)."""
    return sum(own_cpu_seconds(one) for one in tree(pid))


def own_cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (0 if it has ended)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree(pid: int) -> list[int]:
    """A process and every live process below it (the children of each of its threads)."""
    found, waiting = [], [pid]
    while waiting:
        found.append(one := waiting.pop())
        with contextlib.suppress(OSError):  # it ended
            for task in Path(f"/proc/{one}/task").iterdir():
                with contextlib.suppress(OSError):
                    waiting += [int(child) for child in (task / "children").read_text().split()]
    return found


def database_backends(postmaster: int, owners: dict[str, int]) -> dict[int, str]:
    """Every process under a PostgreSQL server, by what it does: a client's connection by
    the process in `owners` (a label: its pid) at the other end of its socket; the
    server's own processes by their title (walwriter, checkpointer...)."""
    import psutil  # only the benchmarks that break CPU down need it

    ports = {
        connection.laddr.port: label
        for label, pid in owners.items()
        for connection in _connections(psutil, pid)
        if connection.laddr
    }
    found: dict[int, str] = {}
    for child in psutil.Process(postmaster).children():
        with contextlib.suppress(psutil.Error):
            title = " ".join(child.cmdline())
            peer = [c.raddr.port for c in child.net_connections("tcp") if c.raddr]
            owner = ports.get(peer[0]) if peer else None
            if owner is None:
                found[child.pid] = "postgres: " + (title.split(":", 1)[-1].split()[0] or "?")
            else:
                found[child.pid] = f"postgres for {owner}"
    return found


def _connections(psutil: Any, pid: int) -> list[Any]:
    try:
        return [c for one in [psutil.Process(pid)] for c in one.net_connections("tcp")]
    except psutil.Error:
        return []


def task_cpu_seconds(pid: int) -> float:
    """The CPU time of a process's live threads, to the nanosecond (/proc's schedstat):
    for a breakdown of a few milliseconds, where the ticks of `own_cpu_seconds` (10 ms)
    are too coarse. Threads that ended meanwhile are not counted."""
    total = 0
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError):
                total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9
