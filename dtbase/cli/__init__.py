"""The `dtbase` command: run the platform, manage its database and its users.

One module per command group (`up`, `db`, `users`, `serve`, `schedules`; the FDB bridge's
in `dtbase.fdb.commands`), assembled in `main`. What the commands that talk to a running
backend share (options, password lookup, failing, time parsing) is in `options`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dtbase.cli.main import app

__all__ = ["app"]


def __getattr__(name: str) -> object:
    # Built on first use, not on import: dtbase.fdb.commands imports dtbase.cli.options, and
    # building the app imports dtbase.fdb.commands, so an eager import here would be a cycle.
    if name == "app":
        from dtbase.cli.main import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
