"""Child processes that a test stops with a signal, as a user or a supervisor would."""

from __future__ import annotations

import signal
from pathlib import Path


def interruptible() -> None:
    """`preexec_fn` for a child that must take SIGINT (or SIGTERM): Python installs its
    KeyboardInterrupt handler only when SIGINT is not ignored at start-up, and an ignored
    or blocked signal is inherited across exec, whatever the test runner's worker did with
    its own."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (children, theirs, ...), read from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # it ended meanwhile
                continue
            # The command name may hold spaces and parentheses: the fields follow the last ")".
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    """Whether `pid` is a process that still runs (a zombie has ended: it only waits to be
    reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def postmaster_pid(pgdata: Path) -> int:
    """The PostgreSQL server's pid: the first line of its postmaster.pid."""
    return int((pgdata / "postmaster.pid").read_text().splitlines()[0])
