"""Export the API's model runs in a time window to an FDB: what the service and the CLI do.

For each run of the window (of the given models, or all), what the FDB holds under the
run's keys is read back and compared with the run (`dtbase.fdb.bridge.compare_held`):

- exported: the FDB held none or only part of it (the part it held being equal); the run
  is written whole (FDB masks fields archived again with the same bytes), then listed;
- skipped: the FDB holds it already, every field with the run's values (bit for bit) and
  location, and nothing more; the creation time is not compared (it is no key): a run
  created later with the same values under the same keys, such as an hourly forecast of a
  sensor that stopped reporting, is the same data, and the reason names the creation time
  the FDB keeps;
- failed, with one short reason: the FDB holds other values (or fields the run does not
  have) under its keys (they are not overwritten), the run cannot be encoded (a measure
  that is not float, ...; nothing of it is written), or the API or the FDB failed.

So exporting again is idempotent, and `ok` is false as soon as one run failed.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass, field, replace
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
from dtbase.fdb.from_api import MeasuresByName, list_api_runs, measures_by_name, to_model_run
from dtbase.fdb.registry import CodeRegistry, Codes, MeasureKey, RunCodes
from dtbase.fdb.runs import ModelRun, SensorLink
from dtbase.schemas.models import ModelRun as ApiModelRun

if TYPE_CHECKING:
    from dtbase.fdb.sinks import Sink
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

    def client(self) -> Client:
        """The default user's session (the service's; the CLI logs in as its commands do)."""
        secret = self.default_user_pass.get_secret_value() if self.default_user_pass else ""
        if not secret:
            raise ValueError("No password: set DT_DEFAULT_USER_PASS")
        return Client.logged_in(self.backend_url, DEFAULT_USER_EMAIL, secret)


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
    """Export every run of the window that the FDB does not hold yet (see above).

    Raises `InvalidRun` for a model that does not exist (nothing is written then).
    """
    from dtbase.fdb.sinks import open_sink

    window_registry = _WindowRegistry(registry or ApiCodeRegistry(client))
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
                outcome = _export_one(client, store, window_registry, writer, api_run, measures)
            except InvalidRun as error:
                summary.failed.append(_with(base, reason=short_reason(error.problems)))
            except (FdbError, ApiError) as error:
                reason = f"{type(error).__name__}: {_first_line(str(error))}"
                summary.failed.append(_with(base, reason=reason))
            else:
                kind, changes = outcome
                getattr(summary, kind).append(_with(base, **changes))
    finally:
        writer.close()
    return summary


def _export_one(
    client: Client,
    store: FdbStore,
    registry: _WindowRegistry,
    writer: Sink,
    api_run: ApiModelRun,
    measures: MeasuresByName,
) -> tuple[str, dict[str, Any]]:
    """("exported"|"skipped"|"failed", the outcome's fields) of one run of the API."""
    from dtbase.fdb.bridge import compare_held, export_run, missing_fields

    run = to_model_run(client, api_run, measures=measures)
    registry.refresh_for(run)
    held = compare_held(store, registry, run)
    if held.same:
        return "skipped", {"reason": held.same_reason(run.run_time)}
    if held.conflicts:
        return "failed", {"reason": held.reason() + "; not overwritten"}
    result = export_run(run, registry=registry, sink=writer)
    missing = missing_fields(store, registry, run)
    if missing:
        return "failed", {"reason": f"{missing} of its fields are not listed after the export"}
    return "exported", {"messages": result.messages}


class _WindowRegistry:
    """The registry for one export: its codes are read once, and again only for a run
    whose codes the copy lacks (codes are only ever added, so a copy that has them is
    current); codes assigned on the way are added to the copy."""

    def __init__(self, registry: CodeRegistry) -> None:
        self._registry = registry
        self._codes: Codes | None = None

    def refresh_for(self, run: ModelRun) -> None:
        if self._codes is None or self._run_codes(self._codes, run) is None:
            self._codes = self._registry.codes()

    def codes(self) -> Codes:
        if self._codes is None:
            self._codes = self._registry.codes()
        return self._codes

    def assign(
        self,
        *,
        model: str,
        scenario: str | None,
        measures: Collection[MeasureKey],
        sensor: SensorLink | None = None,
    ) -> RunCodes:
        found = self._registry.assign(
            model=model, scenario=scenario, measures=measures, sensor=sensor
        )
        codes = self.codes()
        scenarios = (
            {} if scenario is None or found.member is None else {(model, scenario): found.member}
        )
        sensors = {} if sensor is None else {sensor: found.channel}
        self._codes = replace(
            codes,
            models={**codes.models, model: found.expver},
            scenarios={**codes.scenarios, **scenarios},
            measures={**codes.measures, **found.params},
            sensors={**codes.sensors, **sensors},
        )
        return found

    @staticmethod
    def _run_codes(codes: Codes, run: ModelRun) -> RunCodes | None:
        measures = [(measure.name, measure.units) for measure in run.measures]
        return codes.run_codes(
            model=run.model, scenario=run.scenario, measures=measures, sensor=run.sensor
        )


def short_reason(problems: list[str]) -> str:
    """One line for a run's problems: the first, and how many more there are."""
    more = len(problems) - 1
    return problems[0] + (f" (and {more} more problem{'s' * (more > 1)})" if more > 0 else "")


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def _with(base: RunOutcome, **changes: Any) -> RunOutcome:
    return RunOutcome(**{**asdict(base), **changes})


def _outcome(outcome: RunOutcome) -> dict[str, Any]:
    data = asdict(outcome)
    data["run_time"] = outcome.run_time.isoformat()
    if outcome.reason is None:
        del data["reason"]
    return data
