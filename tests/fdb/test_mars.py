"""Keys in FDB's own spelling, checked against what FDB itself lists."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dtbase.fdb import FdbStore, JsonCodeRegistry, MeasureSeries, ModelRun, export_run, open_sink
from dtbase.fdb.mars import is_dtbase_field, run_keys, step_key, step_seconds
from tests.fdb.factories import RUN_TIME

SPELLINGS = [
    (0, "0"),
    (30, "30s"),
    (60, "1m"),
    (90, "1m30s"),
    (900, "15m"),
    (3600, "1"),
    (3630, "1h30s"),
    (3660, "1h1m"),
    (3690, "1h1m30s"),
    (4500, "1h15m"),
    (86_400, "24"),
    (87_000, "24h10m"),
    (604_815, "168h15s"),
]


@pytest.mark.parametrize(("seconds", "spelling"), SPELLINGS)
def test_step_spelling_and_parsing(seconds: int, spelling: str) -> None:
    assert step_key(seconds) == spelling
    assert step_seconds(spelling) == seconds


@pytest.mark.parametrize(("eccodes_spelling", "seconds"), [("0m", 0), ("75m", 4500), ("90s", 90)])
def test_eccodes_spellings_parse(eccodes_spelling: str, seconds: int) -> None:
    assert step_seconds(eccodes_spelling) == seconds


@pytest.mark.parametrize("bad", ["", "h", "1x", "-1", "1.5"])
def test_bad_steps_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a step"):
        step_seconds(bad)


def test_fdb_lists_steps_as_we_spell_them(store: FdbStore, registry: JsonCodeRegistry) -> None:
    offsets = [timedelta(seconds=s) for s, _ in SPELLINGS]
    run = ModelRun(
        "m", None, RUN_TIME, [MeasureSeries("x", "1", [(RUN_TIME + o, 1.0) for o in offsets])]
    )
    export_run(run, registry=registry, sink=open_sink(store))

    listed = {keys["step"] for keys in store.list({"class": "rd"})}

    assert listed == {spelling for _, spelling in SPELLINGS}


def test_run_keys_without_and_with_a_scenario() -> None:
    plain = run_keys(expver="d001", member=None, reference_time=RUN_TIME)
    member = run_keys(expver="d001", member=7, reference_time=RUN_TIME)

    assert plain == {
        "class": "rd",
        "expver": "d001",
        "stream": "oper",
        "date": "20240309",
        "time": "0645",
        "domain": "g",
        "type": "fc",
        "levtype": "sfc",
        "channel": "0",
    }
    assert member == {**plain, "stream": "enfo", "type": "pf", "number": "7"}
    sensor = run_keys(expver="d001", member=None, reference_time=RUN_TIME, channel=65534)
    assert sensor == {**plain, "channel": "65534"}
    assert is_dtbase_field({**plain, "param": "167", "step": "0"})
    assert is_dtbase_field({**member, "param": "167", "step": "0"})
    assert not is_dtbase_field({**member, "number": ""})
    assert not is_dtbase_field({**plain, "class": "od"})
    old_layout = {k: v for k, v in plain.items() if k != "channel"}
    assert not is_dtbase_field({**old_layout, "param": "167", "step": "0"})
