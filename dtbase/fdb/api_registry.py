"""The code registry in dtbase's database, reached through the API (`/fdb/...`).

The backend assigns codes with the same rules (`dtbase.fdb.registry.allocate`) in one
transaction, so several exporters on several machines share one collision-free registry.
"""

from __future__ import annotations

from collections.abc import Collection

from dtbase.client.client import Client
from dtbase.client.fdb import Fdb
from dtbase.fdb.registry import Codes, MeasureKey, RunCodes
from dtbase.fdb.runs import SensorLink
from dtbase.schemas.fdb import FdbCodes


class ApiCodeRegistry:
    """A `CodeRegistry` over the API: `codes()` lists it, `assign()` asks the backend."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._fdb = Fdb(client)

    def codes(self) -> Codes:
        return codes_from_wire(self._fdb.list_codes())

    def assign(
        self,
        *,
        model: str,
        scenario: str | None,
        measures: Collection[MeasureKey],
        sensor: SensorLink | None = None,
    ) -> RunCodes:
        answer = self._fdb.assign_codes(model, scenario, sorted(set(measures)), sensor)
        params = {(m.name, m.units): m.param for m in answer.measures}
        return RunCodes(
            answer.expver, answer.member, {key: params[key] for key in measures}, answer.channel
        )


def codes_from_wire(wire: FdbCodes) -> Codes:
    """The registry's content as the bridge's `Codes` (checked: codes never collide)."""
    codes = Codes(
        {entry.model: entry.expver for entry in wire.models},
        {(entry.model, entry.scenario): entry.member for entry in wire.scenarios},
        {(entry.name, entry.units): entry.param for entry in wire.measures},
        {SensorLink(e.sensor, e.measure, e.units): e.channel for e in wire.sensors},
    )
    codes.check()
    return codes
