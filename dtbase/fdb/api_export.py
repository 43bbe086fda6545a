"""Export the API's model runs in a time window to an FDB: what the service and the CLI do.

For each run of the window (of the given models, or all), the FDB's own listing decides:
a run whose every field the FDB lists is skipped, any other is exported whole (FDB masks
fields archived again, so a half-exported run is completed without duplicates). Runs
that cannot be exported (a measure that is not float, a value before the run time, ...)
are skipped with the reason, and nothing of them is written.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from dtbase.client.client import Client
from dtbase.client.errors import ApiError
from dtbase.core.settings import DEFAULT_USER_EMAIL
from dtbase.fdb.api_registry import ApiCodeRegistry
from dtbase.fdb.errors import FdbError, InvalidRun
from dtbase.fdb.from_api import list_api_runs, measures_by_name, to_model_run
from dtbase.fdb.registry import CodeRegistry

if TYPE_CHECKING:
    from dtbase.fdb.store import FdbStore

SinkKind = Literal["pyfdb", "multio"]


class FdbExportSettings(BaseSettings):
    """Where the backend and the FDB are: `DT_FDB_CONFIG` (a YAML file) or a local store
    that dtbase generates under `DT_DATA_DIR`."""

    model_config = SettingsConfigDict(env_prefix="DT_", extra="ignore")

    backend_url: str = "http://localhost:5000"
    default_user_pass: SecretStr | None = None
    fdb_config: Path | None = None
    data_dir: Path = Path(".dtbase")

    def store(self) -> FdbStore:
        from dtbase.fdb.store import FdbStore

        if self.fdb_config is not None:
            return FdbStore(self.fdb_config)
        return FdbStore(data_dir=self.data_dir)

    def client(self, *, email: str = DEFAULT_USER_EMAIL, password: str | None = None) -> Client:
        secret = password
        if secret is None and self.default_user_pass is not None:
            secret = self.default_user_pass.get_secret_value()
        if not secret:
            raise ValueError("No password: set DT_DEFAULT_USER_PASS or give one")
        return Client.logged_in(self.backend_url, email, secret)


@dataclass(frozen=True)
class RunOutcome:
    run_id: int
    model: str
    scenario: str | None
    run_time: datetime
    messages: int = 0
    reason: str | None = None


@dataclass
class ExportSummary:
    exported: list[RunOutcome] = field(default_factory=list)
    skipped: list[RunOutcome] = field(default_factory=list)
    failed: list[RunOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def messages(self) -> int:
        return sum(outcome.messages for outcome in self.exported)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "messages": self.messages,
            "exported": [_outcome(o) for o in self.exported],
            "skipped": [_outcome(o) for o in self.skipped],
            "failed": [_outcome(o) for o in self.failed],
        }


def export_window(
    client: Client,
    store: FdbStore,
    *,
    dt_from: datetime | None = None,
    dt_to: datetime | None = None,
    models: list[str] | None = None,
    sink: SinkKind = "pyfdb",
    registry: CodeRegistry | None = None,
) -> ExportSummary:
    """Export every run of the window that the FDB does not hold yet.

    Raises `InvalidRun` for a model that does not exist (nothing is written then).
    """
    from dtbase.fdb.bridge import export_run, missing_fields
    from dtbase.fdb.sinks import open_sink

    registry = registry or ApiCodeRegistry(client)
    runs = list_api_runs(client, dt_from=dt_from, dt_to=dt_to, models=models)
    summary = ExportSummary()
    if not runs:
        return summary
    measures = measures_by_name(client)
    writer = open_sink(store, sink)
    try:
        for api_run in runs:
            base = RunOutcome(
                api_run.id, api_run.model_name, api_run.scenario_description, api_run.time_created
            )
            try:
                run = to_model_run(client, api_run, measures=measures)
                if missing_fields(store, registry, run) == 0:
                    summary.skipped.append(_with(base, reason="the FDB holds it already"))
                    continue
                result = export_run(run, registry=registry, sink=writer)
            except InvalidRun as error:
                summary.skipped.append(_with(base, reason="; ".join(error.problems)))
            except (FdbError, ApiError) as error:
                summary.failed.append(_with(base, reason=f"{type(error).__name__}: {error}"))
            else:
                summary.exported.append(_with(base, messages=result.messages))
    finally:
        writer.close()
    return summary


def _with(base: RunOutcome, **changes: Any) -> RunOutcome:
    return RunOutcome(**{**asdict(base), **changes})


def _outcome(outcome: RunOutcome) -> dict[str, Any]:
    data = asdict(outcome)
    data["run_time"] = outcome.run_time.isoformat()
    if outcome.reason is None:
        del data["reason"]
    return data
