"""The CPU time a benchmark's backend has used, from /proc (Linux), for the benchmarks
beside this file."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


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
