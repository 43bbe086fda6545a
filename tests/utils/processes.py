"""Child processes that a test stops with Ctrl-C (SIGINT), as a user would."""

from __future__ import annotations

import signal


def interruptible() -> None:
    """`preexec_fn` for a child that must take SIGINT: Python installs its KeyboardInterrupt
    handler only when SIGINT is not ignored at start-up, and an ignored or blocked signal
    is inherited across exec, whatever the test runner's worker did with its own."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)
