"""The FDB export as a handler: parameters in, JSON summary out.

Parameters (all optional):

* `dt_from`, `dt_to`: the window of run times (ISO 8601, `"present"`, or an offset such
  as `"-24h"`; default: the last 24 hours);
* `models`: a list of model names (default: every model);
* `sink`: `"pyfdb"` (default) or `"multio"`.

The FDB is `DT_FDB_CONFIG` (a YAML file) or dtbase's local store under `DT_DATA_DIR`; the
backend is `DT_BACKEND_URL`, logged into as the default user (`DT_DEFAULT_USER_PASS`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dtbase.client.client import Client
from dtbase.client.errors import ApiError
from dtbase.fdb.api_export import FdbExportSettings, SinkKind, export_window
from dtbase.fdb.errors import FdbError, InvalidRun
from services.common import ParameterError, known_keys, parse_time

if TYPE_CHECKING:
    from dtbase.fdb.store import FdbStore

NAME = "fdb_export"
SINKS: tuple[SinkKind, ...] = ("pyfdb", "multio")
DEFAULT_FROM = "-24h"
DEFAULT_TO = "present"


@dataclass(frozen=True)
class ExportRequest:
    dt_from: datetime
    dt_to: datetime
    models: list[str] | None
    sink: SinkKind


def parse_request(parameters: dict[str, Any], *, now: datetime) -> ExportRequest:
    """Validated parameters; `ParameterError` names the first bad field."""
    known_keys(parameters, {"dt_from", "dt_to", "models", "sink"})
    dt_from = parse_time(parameters.get("dt_from", DEFAULT_FROM), "dt_from", now=now)
    dt_to = parse_time(parameters.get("dt_to", DEFAULT_TO), "dt_to", now=now)
    if dt_from > dt_to:
        raise ParameterError("dt_from", f"must not be after dt_to ({dt_to.isoformat()})")
    models = parameters.get("models")
    if models is not None:
        if isinstance(models, str):
            models = [models]
        if not isinstance(models, list) or not models:
            raise ParameterError("models", "must be a non-empty list of model names")
        for name in models:
            if not isinstance(name, str) or not name.strip():
                raise ParameterError("models", f"must hold non-empty strings, got {name!r}")
    sink = parameters.get("sink", "pyfdb")
    if sink not in SINKS:
        raise ParameterError("sink", f"must be one of {', '.join(SINKS)}, got {sink!r}")
    return ExportRequest(dt_from, dt_to, models, sink)


def handle(
    parameters: dict[str, Any],
    *,
    clock: Callable[[], datetime] | None = None,
    client: Client | None = None,
    store: FdbStore | None = None,
) -> dict[str, Any]:
    """Export every model run of the window that the FDB does not hold yet.

    Bad parameters (and unknown models) raise ParameterError (a 400). The summary lists
    each run as exported, skipped (the FDB holds it with the same values) or failed with
    one short reason (it cannot be encoded, or the FDB holds something else under its
    keys); it is `ok` only when no run failed (see `dtbase.fdb.api_export`).
    """
    now = (clock or (lambda: datetime.now(UTC)))()
    request = parse_request(parameters, now=now)
    settings = FdbExportSettings()
    try:
        session = client or settings.client()
    except (ValueError, ApiError) as error:
        return {"ok": False, "service": NAME, "problems": [f"Cannot log in: {error}"]}
    try:
        fdb = store or settings.store()
        summary = export_window(
            session,
            fdb,
            dt_from=request.dt_from,
            dt_to=request.dt_to,
            models=request.models,
            sink=request.sink,
        )
    except InvalidRun as error:
        raise ParameterError("models", "; ".join(error.problems)) from None
    except (FdbError, ApiError, ValueError) as error:
        return {"ok": False, "service": NAME, "problems": [f"{type(error).__name__}: {error}"]}
    finally:
        if client is None:
            session.close()
    return {
        "service": NAME,
        "dt_from": request.dt_from.isoformat(),
        "dt_to": request.dt_to.isoformat(),
        **summary.to_dict(),
    }
