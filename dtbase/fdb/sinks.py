"""Two ways to put encoded messages into an FDB, behind one interface.

- `PyfdbSink` (the default): `fdb.archive(message, identifier=keys)`, tens of thousands
  of messages a second.
- `MultioSink`: the messages go through a multio plan whose FDB sink archives them (FDB
  then parses the keys from each message: hundreds a second). The default plan is a
  single FDB sink; pass your own plan to put dtbase in front of an existing pipeline.

Both write the same bytes under the same keys. multio (`pymultio` and `multiolib`, about
310 MB) is imported only when a `MultioSink` is made.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

from dtbase.fdb.errors import FdbError
from dtbase.fdb.grib import EncodedMessage
from dtbase.fdb.store import FdbStore

SinkKind = Literal["pyfdb", "multio"]


class Sink(Protocol):
    def write(self, messages: Sequence[EncodedMessage]) -> int:
        """Archive the messages; all of them are visible in the FDB when this returns."""
        ...

    def close(self) -> None: ...


class PyfdbSink:
    """Archives straight into a `FdbStore` under the keys built with each message."""

    def __init__(self, store: FdbStore) -> None:
        self.store = store

    def write(self, messages: Sequence[EncodedMessage]) -> int:
        count = self.store.archive(messages)
        self.store.flush()
        return count

    def close(self) -> None:
        """Nothing to release: the store belongs to the caller."""


def multio_plan(fdb_config: Mapping[str, Any], *, name: str = "dtbase-fdb") -> dict[str, Any]:
    """A multio client plan with one action: an FDB sink writing to `fdb_config`."""
    sink = {"type": "fdb5", "config": dict(fdb_config)}
    return {"plans": [{"name": name, "actions": [{"type": "sink", "sinks": [sink]}]}]}


class MultioSink:
    """Writes encoded GRIB through multio: `multio_plan(fdb_config)` or the given plan."""

    def __init__(
        self,
        fdb_config: Mapping[str, Any] | None = None,
        *,
        plan: Mapping[str, Any] | Path | None = None,
    ) -> None:
        try:
            import multio  # type: ignore[import-untyped]
        except ImportError as error:
            raise FdbError(
                "The multio sink needs the fdb-multio extra (pymultio and multiolib), "
                "which is not installed here; use the pyfdb sink"
            ) from error

        if plan is None:
            if fdb_config is None:
                raise ValueError("MultioSink needs an FDB configuration or a multio plan")
            plan = multio_plan(fdb_config)
        with contextlib.ExitStack() as stack:
            if isinstance(plan, Path):
                path = plan
            else:
                folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
                path = folder / "plan.yaml"
                path.write_text(json.dumps(plan), encoding="utf-8")  # JSON is YAML
            # pymultio prints the C status of reading the plan file; keep stdout clean.
            with contextlib.redirect_stdout(io.StringIO()):
                self._multio: Any = multio.Multio(config_path=str(path))

    def write(self, messages: Sequence[EncodedMessage]) -> int:
        write = self._multio.write_grib
        for message in messages:
            write(message.data)
        self._multio.flush()
        return len(messages)

    def close(self) -> None:
        self._multio = None


def open_sink(store: FdbStore, kind: SinkKind = "pyfdb") -> Sink:
    """A sink writing into `store`'s FDB: pyfdb directly (default) or through multio."""
    if kind == "pyfdb":
        return PyfdbSink(store)
    if kind == "multio":
        return MultioSink(store.config)
    raise ValueError(f"Unknown sink {kind!r}: 'pyfdb' or 'multio'")
