"""The code registry: free-text names of dtbase mapped to the GRIB codes FDB indexes by.

- a model gets an `expver`: 4 characters, `d001`, `d002`, ... (base 36 after the `d`);
- a scenario of a model gets a member `number`, 1 to 255 (GRIB2 keeps it in one octet);
- a measure (name, units) gets a `paramId`: the standard one where the table below has
  it, otherwise the next free code of ECMWF's experimental ranges (80-120, 212001-212255);
- a sensor link (the sensor a run forecasts, and its measure) gets a `channel`, 1 to
  65534 (GRIB2 keeps it in two octets, 65535 meaning "missing"); a run without a sensor
  has channel 0.

Codes never collide: one `expver` per model, one member per scenario of a model, one
`paramId` per measure, one `channel` per sensor link. A registry assigns codes once and
keeps them; a later name change needs an edit of the registry, not a new code.

Standard parameters (matched on the measure's name, ignoring case, spaces, `_` and `-`,
and on its units exactly). Values are stored as given, so a measure only gets a standard
paramId when its units are the parameter's own: a temperature in degC keeps its degC
values under an experimental code rather than being converted to K, which could not
round-trip exactly.

| paramId | short name | measure names | units |
|---|---|---|---|
| 167 | 2t | temperature, air temperature, 2m temperature, 2 metre temperature, t2m | K |
| 168 | 2d | dewpoint, dew point, dewpoint temperature, 2m dewpoint temperature, d2m | K |
| 260242 | 2r | relative humidity, humidity, 2m relative humidity, rh | % |
| 207 | 10si | wind speed, 10m wind speed, 10 metre wind speed, si10 | m s**-1, m s-1, m/s |
| 134 | sp | surface pressure, pressure, sp | Pa |

This module is plain Python (no ECMWF library), so other parts of dtbase can share the
allocation rules; `JsonCodeRegistry` keeps the codes in a JSON file for use without a
backend.
"""

from __future__ import annotations

import json
import os
import re
import string
import tempfile
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from dtbase.fdb.errors import RegistryError
from dtbase.fdb.runs import SensorLink

MeasureKey = tuple[str, str]  # (name, units)

EXPVER_PATTERN = re.compile(r"^[a-z0-9]{4}$")
EXPVER_PREFIX = "d"
MEMBERS = range(1, 256)
CHANNELS = range(1, 65535)
NO_CHANNEL = 0
EXPERIMENTAL_PARAMS: tuple[int, ...] = (*range(80, 121), *range(212001, 212256))
_BASE36 = string.digits + string.ascii_lowercase

T = TypeVar("T")


@dataclass(frozen=True)
class StandardParam:
    param: int
    short_name: str
    names: frozenset[str]
    units: frozenset[str]


STANDARD_PARAMS: tuple[StandardParam, ...] = (
    StandardParam(
        167,
        "2t",
        frozenset(
            {
                "temperature",
                "air temperature",
                "2m temperature",
                "2 m temperature",
                "2 metre temperature",
                "t2m",
                "2t",
            }
        ),
        frozenset({"K"}),
    ),
    StandardParam(
        168,
        "2d",
        frozenset(
            {
                "dewpoint",
                "dew point",
                "dewpoint temperature",
                "dew point temperature",
                "2m dewpoint temperature",
                "2 metre dewpoint temperature",
                "d2m",
                "2d",
            }
        ),
        frozenset({"K"}),
    ),
    StandardParam(
        260242,
        "2r",
        frozenset({"relative humidity", "humidity", "2m relative humidity", "rh", "2r"}),
        frozenset({"%"}),
    ),
    StandardParam(
        207,
        "10si",
        frozenset({"wind speed", "10m wind speed", "10 metre wind speed", "si10", "10si"}),
        frozenset({"m s**-1", "m s-1", "m/s"}),
    ),
    StandardParam(134, "sp", frozenset({"surface pressure", "pressure", "sp"}), frozenset({"Pa"})),
)


def standard_param(name: str, units: str) -> int | None:
    """The standard paramId of a measure, if the table above has one."""
    normal = " ".join(re.split(r"[\s_\-]+", name.strip().lower())).strip()
    for entry in STANDARD_PARAMS:
        if normal in entry.names and units.strip() in entry.units:
            return entry.param
    return None


@dataclass(frozen=True)
class RunCodes:
    """The codes of one run: its model's `expver`, its member (None: no scenario), params,
    and its sensor link's channel (0: no sensor)."""

    expver: str
    member: int | None
    params: dict[MeasureKey, int]
    channel: int = NO_CHANNEL


@dataclass(frozen=True)
class Codes:
    """A registry's whole content; small (one row per model, scenario, measure and
    sensor link)."""

    models: dict[str, str] = field(default_factory=dict)
    scenarios: dict[tuple[str, str], int] = field(default_factory=dict)
    measures: dict[MeasureKey, int] = field(default_factory=dict)
    sensors: dict[SensorLink, int] = field(default_factory=dict)

    def expver(self, model: str) -> str | None:
        return self.models.get(model)

    def model_of(self, expver: str) -> str | None:
        return next((m for m, code in self.models.items() if code == expver), None)

    def member(self, model: str, scenario: str) -> int | None:
        return self.scenarios.get((model, scenario))

    def scenario_of(self, model: str, member: int) -> str | None:
        return next(
            (s for (m, s), number in self.scenarios.items() if m == model and number == member),
            None,
        )

    def param(self, name: str, units: str) -> int | None:
        return self.measures.get((name, units))

    def measure_of(self, param: int) -> MeasureKey | None:
        return next((key for key, code in self.measures.items() if code == param), None)

    def channel(self, sensor: SensorLink | None) -> int | None:
        """A sensor link's channel (0 for no sensor), None if it has none yet."""
        return NO_CHANNEL if sensor is None else self.sensors.get(sensor)

    def sensor_of(self, channel: int) -> SensorLink | None:
        return next((link for link, code in self.sensors.items() if code == channel), None)

    def run_codes(
        self,
        *,
        model: str,
        scenario: str | None,
        measures: Collection[MeasureKey],
        sensor: SensorLink | None = None,
    ) -> RunCodes | None:
        """The codes of a run if all are registered (without assigning any), else None."""
        expver = self.expver(model)
        member = self.member(model, scenario) if scenario is not None else None
        params = {key: self.measures[key] for key in measures if key in self.measures}
        channel = self.channel(sensor)
        if expver is None or (scenario is not None and member is None) or channel is None:
            return None
        if len(params) != len(set(measures)):
            return None
        return RunCodes(expver, member, params, channel)

    def check(self) -> None:
        """Raise `RegistryError` if codes are malformed or collide."""
        problems = []
        for model, expver in self.models.items():
            if not EXPVER_PATTERN.match(expver):
                problems.append(f"model {model!r}: expver {expver!r} is not 4 of [a-z0-9]")
        problems += _collisions("expver", {m: e for m, e in self.models.items()})
        for (model, scenario), member in self.scenarios.items():
            if model not in self.models:
                problems.append(f"scenario {scenario!r} of unknown model {model!r}")
            if member not in MEMBERS:
                problems.append(f"scenario {scenario!r} of {model!r}: member {member} not 1-255")
        for model in self.models:
            problems += _collisions(
                f"member of model {model!r}",
                {s: n for (m, s), n in self.scenarios.items() if m == model},
            )
        for (name, units), param in self.measures.items():
            if isinstance(param, bool) or not isinstance(param, int) or param <= 0:
                problems.append(f"measure {name!r} [{units}]: paramId {param!r} is invalid")
        problems += _collisions("paramId", {f"{n} [{u}]": p for (n, u), p in self.measures.items()})
        for link, channel in self.sensors.items():
            if isinstance(channel, bool) or channel not in CHANNELS:
                problems.append(f"sensor link {_link(link)}: channel {channel!r} not 1-65534")
        problems += _collisions("channel", {_link(k): c for k, c in self.sensors.items()})
        if problems:
            raise RegistryError("Invalid FDB code registry: " + "; ".join(problems))

    def to_json(self) -> dict[str, Any]:
        return {
            "models": {
                model: {
                    "expver": expver,
                    "scenarios": {
                        s: n for (m, s), n in sorted(self.scenarios.items()) if m == model
                    },
                }
                for model, expver in sorted(self.models.items())
            },
            "measures": [
                {"name": name, "units": units, "param": param}
                for (name, units), param in sorted(self.measures.items())
            ],
            "sensors": [
                {"sensor": link.sensor, "measure": link.measure, "units": link.units, "channel": c}
                for link, c in sorted(self.sensors.items())
            ],
        }

    @classmethod
    def from_json(cls, data: Any) -> Codes:
        try:
            models = {str(m): str(entry["expver"]) for m, entry in data["models"].items()}
            scenarios = {
                (str(m), str(s)): int(n)
                for m, entry in data["models"].items()
                for s, n in entry.get("scenarios", {}).items()
            }
            measures = {
                (str(entry["name"]), str(entry["units"])): int(entry["param"])
                for entry in data["measures"]
            }
            sensors = {
                SensorLink(str(entry["sensor"]), str(entry["measure"]), str(entry["units"])): int(
                    entry["channel"]
                )
                for entry in data.get("sensors", [])
            }
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise RegistryError(f"Malformed FDB code registry: {error!r}") from error
        codes = cls(models, scenarios, measures, sensors)
        codes.check()
        return codes


def allocate(
    codes: Codes,
    *,
    model: str,
    scenario: str | None,
    measures: Collection[MeasureKey],
    sensor: SensorLink | None = None,
) -> tuple[Codes, RunCodes]:
    """The registry with the run's missing codes added, and the run's codes."""
    models, scenarios, params = dict(codes.models), dict(codes.scenarios), dict(codes.measures)
    sensors = dict(codes.sensors)
    channel = NO_CHANNEL
    if sensor is not None:
        if sensor not in sensors:
            sensors[sensor] = _first_free(iter(CHANNELS), set(sensors.values()), "channel")
        channel = sensors[sensor]
    if model not in models:
        models[model] = _first_free(_expvers(), set(models.values()), "expver")
    member = None
    if scenario is not None:
        if (model, scenario) not in scenarios:
            taken = {n for (m, _), n in scenarios.items() if m == model}
            scenarios[(model, scenario)] = _first_free(
                iter(MEMBERS), taken, f"member for a scenario of {model!r}"
            )
        member = scenarios[(model, scenario)]
    for name, units in sorted(set(measures)):
        if (name, units) in params:
            continue
        taken = set(params.values())
        standard = standard_param(name, units)
        if standard is not None and standard not in taken:
            params[(name, units)] = standard
        else:
            params[(name, units)] = _first_free(iter(EXPERIMENTAL_PARAMS), taken, "paramId")
    updated = Codes(models, scenarios, params, sensors)
    updated.check()
    run = RunCodes(models[model], member, {key: params[key] for key in measures}, channel)
    return updated, run


class CodeRegistry(Protocol):
    """Where the codes live: a JSON file here; dtbase's database behind its API later."""

    def codes(self) -> Codes:
        """The registry's current content."""
        ...

    def assign(
        self,
        *,
        model: str,
        scenario: str | None,
        measures: Collection[MeasureKey],
        sensor: SensorLink | None = None,
    ) -> RunCodes:
        """The codes of a run, registering (atomically) those it does not have yet."""
        ...


class JsonCodeRegistry:
    """A registry in a JSON file (created on first assignment); one writer at a time.

    The file is meant to be readable and editable by hand; it is checked on every read.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def codes(self) -> Codes:
        if not self.path.exists():
            return Codes()
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise RegistryError(f"{self.path} is not JSON: {error}") from error
        return Codes.from_json(data)

    def assign(
        self,
        *,
        model: str,
        scenario: str | None,
        measures: Collection[MeasureKey],
        sensor: SensorLink | None = None,
    ) -> RunCodes:
        current = self.codes()
        updated, run = allocate(
            current, model=model, scenario=scenario, measures=measures, sensor=sensor
        )
        if updated != current:
            self._write(updated)
        return run

    def _write(self, codes: Codes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(codes.to_json(), indent=2, ensure_ascii=False) + "\n"
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".registry-")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(text)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def default_registry_path(data_dir: Path) -> Path:
    return Path(data_dir) / "fdb" / "registry.json"


def _expvers() -> Iterator[str]:
    for number in range(1, 36**3):
        digits = ""
        for _ in range(3):
            number, digit = divmod(number, 36)
            digits = _BASE36[digit] + digits
        yield EXPVER_PREFIX + digits


def _first_free(candidates: Iterator[T], taken: set[T], what: str) -> T:
    for candidate in candidates:
        if candidate not in taken:
            return candidate
    raise RegistryError(f"No free {what} is left in the FDB code registry")


def _link(link: SensorLink) -> str:
    return f"{link.sensor!r} / {link.measure!r} [{link.units}]"


def _collisions(what: str, codes: dict[str, Any]) -> list[str]:
    owners: dict[Any, list[str]] = {}
    for owner, code in codes.items():
        owners.setdefault(code, []).append(owner)
    return [
        f"{what} {code!r} is used by {', '.join(repr(o) for o in sorted(names))}"
        for code, names in owners.items()
        if len(names) > 1
    ]
