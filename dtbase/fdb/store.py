"""One FDB, through pyfdb: archive, flush, list, retrieve.

A `FdbStore` holds one `pyfdb.FDB`, which belongs to one thread; its calls block (run
them off an event loop). FDB and metkit refuse requests with keys or values outside the
MARS vocabulary: such refusals become `FdbRequestError` with the library's message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyfdb  # type: ignore[import-untyped]

from dtbase.fdb.config import FdbConfig, load_config
from dtbase.fdb.errors import FdbRequestError
from dtbase.fdb.grib import EncodedMessage
from dtbase.fdb.mars import Keys

Request = Mapping[str, str | Sequence[str]]

_READ_CHUNK = 1 << 20


class FdbStore:
    """An FDB: the given configuration, or dtbase's local store under `data_dir`."""

    def __init__(self, config: FdbConfig | None = None, *, data_dir: Path | None = None) -> None:
        self.config: dict[str, Any] = load_config(config, data_dir=data_dir)
        self._fdb = pyfdb.FDB(self.config)

    def archive(self, messages: Iterable[EncodedMessage]) -> int:
        """Archive messages under their keys (not visible before `flush`)."""
        archive = self._fdb.archive
        count = 0
        message = None
        try:
            for message in messages:
                archive(message.data, identifier=message.keys)
                count += 1
        except RuntimeError as error:
            keys = message.keys if message is not None else {}
            raise FdbRequestError(
                f"FDB refused to archive a field with keys {keys}: {error} (its schema must "
                "hold every key dtbase writes, `channel` included: see dtbase.fdb.SCHEMA)"
            ) from None
        return count

    def flush(self) -> None:
        self._fdb.flush()

    def list(self, request: Request) -> list[Keys]:
        """The keys of every (unmasked) field matching a request.

        FDB reports an optional key that a field lacks (`number` without a scenario) as an
        empty string; such keys are left out, so listed keys equal archived keys.
        """
        try:
            return [
                {key: value for key, value in element.combined_key().items() if value != ""}
                for element in self._fdb.list(request)
            ]
        except RuntimeError as error:
            raise FdbRequestError(
                f"FDB refused the list request {dict(request)}: {error}"
            ) from None

    def retrieve(self, request: Request) -> bytes:
        """The GRIB messages matching a request, concatenated in no particular order."""
        try:
            return bytes(self._fdb.retrieve(request).readall(buffer_size=_READ_CHUNK))
        except RuntimeError as error:
            raise FdbRequestError(
                f"FDB refused the retrieve request {dict(request)}: {error}"
            ) from None
