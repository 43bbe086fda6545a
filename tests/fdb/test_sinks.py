"""The multio sink writes the same messages as the pyfdb sink."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from dtbase.fdb import (
    FdbError,
    FdbStore,
    JsonCodeRegistry,
    MultioSink,
    export_run,
    multio_plan,
    open_sink,
    read_run,
    split_messages,
)
from dtbase.fdb.mars import retrieve_request
from tests.fdb.factories import LONDON, RUN_TIME, make_run


def everything(store: FdbStore) -> tuple[list[list[tuple[str, str]]], list[bytes]]:
    listed = store.list({"class": "rd"})
    requests: dict[tuple[tuple[str, str], ...], tuple[set[str], set[str]]] = {}
    for keys in listed:
        run = tuple(sorted((k, v) for k, v in keys.items() if k not in {"param", "step"}))
        params, steps = requests.setdefault(run, (set(), set()))
        params.add(keys["param"])
        steps.add(keys["step"])
    messages = [
        message
        for run, (params, steps) in requests.items()
        for message in split_messages(
            store.retrieve(retrieve_request(dict(run), params=sorted(params), steps=sorted(steps)))
        )
    ]
    return sorted(sorted(keys.items()) for keys in listed), sorted(messages)


def test_multio_writes_the_same_messages_as_pyfdb(tmp_path: Path) -> None:
    runs = [make_run(location=LONDON), make_run(scenario=None)]
    direct = FdbStore(data_dir=tmp_path / "direct")
    through_multio = FdbStore(data_dir=tmp_path / "multio")
    for store, kind in ((direct, "pyfdb"), (through_multio, "multio")):
        registry = JsonCodeRegistry(tmp_path / f"{kind}.json")
        for run in runs:
            export_run(run, registry=registry, sink=open_sink(store, kind))  # type: ignore[arg-type]

    keys, messages = everything(direct)

    assert len(messages) == 32
    assert everything(through_multio) == (keys, messages)
    registry = JsonCodeRegistry(tmp_path / "multio.json")
    back = read_run(through_multio, registry, model="arima", scenario=None, run_time=RUN_TIME)
    assert back == runs[1].sorted()


def test_both_sinks_write_to_the_same_fdb(store: FdbStore, registry: JsonCodeRegistry) -> None:
    run = make_run()
    export_run(run, registry=registry, sink=open_sink(store, "multio"))
    after_multio = everything(store)

    export_run(run, registry=registry, sink=open_sink(store))

    assert everything(store) == after_multio
    assert len(after_multio[1]) == 16


@pytest.mark.parametrize("as_file", [False, True])
def test_a_given_multio_plan(
    tmp_path: Path, store: FdbStore, registry: JsonCodeRegistry, as_file: bool
) -> None:
    plan = multio_plan(store.config, name="user pipeline")
    given: dict[str, object] | Path = plan
    if as_file:
        given = tmp_path / "plan.json"
        given.write_text(json.dumps(plan))
    sink = MultioSink(plan=given)

    result = export_run(make_run(), registry=registry, sink=sink)
    sink.close()

    assert result.messages == 16
    assert len(store.list({"class": "rd"})) == 16


def test_unknown_sink_kind(store: FdbStore) -> None:
    with pytest.raises(ValueError, match="Unknown sink 'kafka'"):
        open_sink(store, "kafka")  # type: ignore[arg-type]


def test_without_multio_installed_the_sink_says_so(
    store: FdbStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As in the functions image, which installs the fdb extra but not fdb-multio."""
    monkeypatch.setitem(sys.modules, "multio", None)  # `import multio` raises ImportError

    with pytest.raises(FdbError, match="needs the fdb-multio extra"):
        open_sink(store, "multio")
