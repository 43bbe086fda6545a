"""Python's thread names shown to the operating system (`top -H`, `ps -L`, `py-spy`,
/proc/<pid>/task/*/comm), which Python before 3.14 keeps to itself: so that one can tell
which thread of a backend process is which job, and what it costs."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

# The kernel keeps this many bytes of a thread's name.
NAME_BYTES = 15


def show() -> None:
    """Give each live thread of this process but the main one its Python name, without
    the "dtbase-" prefix, which would take half of the room (`dtbase-webhooks-0` shows as
    `webhooks-0`). Threads started later keep the process's name until called again."""
    for thread in threading.enumerate():
        if thread is threading.main_thread() or thread.native_id is None:
            continue  # the main thread's name is the process's, as `ps` shows it
        name = thread.name.removeprefix("dtbase-").encode()[:NAME_BYTES]
        # Not Linux, or the thread ended meanwhile: nothing to name.
        with contextlib.suppress(OSError):
            Path(f"/proc/self/task/{thread.native_id}/comm").write_bytes(name)
