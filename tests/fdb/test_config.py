"""The generated local store: schema, configuration for ECMWF's tools, and explicit configs."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import eccodes  # type: ignore[import-untyped]
import pyfdb  # type: ignore[import-untyped]
import pytest

from dtbase.fdb import (
    SCHEMA,
    FdbRequestError,
    FdbStore,
    JsonCodeRegistry,
    export_run,
    load_config,
    open_sink,
)
from tests.fdb.factories import make_run


def fdb_tool(name: str) -> str:
    spec = importlib.util.find_spec("fdb5lib")
    assert spec is not None
    assert spec.origin is not None
    return str(Path(spec.origin).parent / "bin" / name)


def test_a_local_store_is_generated_under_the_data_dir(tmp_path: Path) -> None:
    store = FdbStore(data_dir=tmp_path)

    home = tmp_path.resolve() / "fdb"
    assert store.config == {
        "type": "local",
        "engine": "toc",
        "schema": str(home / "etc" / "fdb" / "schema-2"),
        "spaces": [{"handler": "Default", "roots": [{"path": str(home / "root-2")}]}],
    }
    assert (home / "etc" / "fdb" / "schema-2").read_text() == SCHEMA
    assert json.loads((home / "etc" / "fdb" / "config.yaml").read_text()) == store.config
    assert (home / "root-2").is_dir()


def test_fdb_schema_accepts_the_schema(tmp_path: Path) -> None:
    FdbStore(data_dir=tmp_path)

    checked = subprocess.run(
        [fdb_tool("fdb-schema"), str(tmp_path / "fdb" / "etc" / "fdb" / "schema-2")],
        capture_output=True,
        text=True,
        check=False,
    )

    assert checked.returncode == 0, checked.stderr
    assert "param:Param;" in checked.stdout


def test_fdb_list_sees_exports_with_fdb_home(tmp_path: Path) -> None:
    store = FdbStore(data_dir=tmp_path)
    export_run(make_run(), registry=JsonCodeRegistry(tmp_path / "r.json"), sink=open_sink(store))

    listed = subprocess.run(
        [fdb_tool("fdb-list"), "class=rd,expver=d001"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "FDB_HOME": str(tmp_path / "fdb")},
    )

    assert listed.stdout.count("{class=rd,expver=d001,stream=enfo,date=20240309,time=0645") == 16


def test_an_existing_schema_is_never_overwritten(tmp_path: Path) -> None:
    schema = tmp_path / "fdb" / "etc" / "fdb" / "schema-2"
    schema.parent.mkdir(parents=True)
    schema.write_text(SCHEMA + "\n# edited\n")

    FdbStore(data_dir=tmp_path)

    assert schema.read_text().endswith("# edited\n")


def test_given_configurations(tmp_path: Path) -> None:
    generated = load_config(data_dir=tmp_path / "a")
    yaml_file = tmp_path / "config.yaml"
    root = tmp_path / "a" / "fdb" / "root-2"
    yaml_file.write_text(
        f"type: local\nengine: toc\nschema: {generated['schema']}\n"
        f"spaces:\n  - handler: Default\n    roots:\n      - path: {root}\n"
    )

    assert load_config(generated) == generated
    assert load_config(yaml_file) == generated
    store = FdbStore(yaml_file)
    export_run(make_run(), registry=JsonCodeRegistry(tmp_path / "r.json"), sink=open_sink(store))
    assert len(FdbStore(data_dir=tmp_path / "a").list({"class": "rd"})) == 16


def test_no_configuration_and_no_data_dir_is_an_error() -> None:
    with pytest.raises(ValueError, match="Give an FDB configuration or a data directory"):
        load_config()


OLD_SCHEMA = """\
param: Param;  step: Step;  date: Date;  time: Time;  expver: Expver;
number: Integer;  levelist: Double;
[ class, expver, stream, date, time, domain?
       [ type, levtype
               [ step, number?, levelist?, param, timespan? ]]]
"""
OLD_KEYS = {
    "class": "rd",
    "expver": "d001",
    "stream": "oper",
    "date": "20240309",
    "time": "0645",
    "domain": "g",
    "type": "fc",
    "levtype": "sfc",
    "param": "167",
    "step": "0",
}


def _old_layout(data_dir: Path) -> dict[str, Any]:
    """A local store as dtbase wrote it before `channel` (schema and root of layout 1),
    holding one field under the old keys."""
    etc = data_dir / "fdb" / "etc" / "fdb"
    etc.mkdir(parents=True)
    (etc / "schema").write_text(OLD_SCHEMA)
    (data_dir / "fdb" / "root").mkdir()
    config: dict[str, Any] = {
        "type": "local",
        "engine": "toc",
        "schema": str(etc / "schema"),
        "spaces": [{"handler": "Default", "roots": [{"path": str(data_dir / "fdb" / "root")}]}],
    }
    old = pyfdb.FDB(config)
    message = eccodes.codes_grib_new_from_samples("GRIB2")
    try:
        for key, value in (
            ("centre", "ecmf"),
            ("setLocalDefinition", 1),
            ("localDefinitionNumber", 1),
            ("class", "rd"),
            ("stream", "oper"),
            ("type", "fc"),
            ("expver", "d001"),
            ("dataDate", 20240309),
            ("dataTime", 645),
            ("gridType", "unstructured_grid"),
            ("numberOfDataPoints", 1),
            ("paramId", 167),
        ):
            eccodes.codes_set(message, key, value)
        eccodes.codes_set_values(message, [280.0])
        old.archive(bytes(eccodes.codes_get_message(message)), identifier=OLD_KEYS)
    finally:
        eccodes.codes_release(message)
    old.flush()
    return config


def test_a_store_of_the_old_keys_stays_as_it_was_and_a_new_root_is_used(tmp_path: Path) -> None:
    old_config = _old_layout(tmp_path)
    before = sorted(p.name for p in (tmp_path / "fdb" / "root").rglob("*"))

    store = FdbStore(data_dir=tmp_path)
    export_run(make_run(), registry=JsonCodeRegistry(tmp_path / "r.json"), sink=open_sink(store))

    assert len(store.list({"class": "rd"})) == 16  # the new root only
    assert sorted(p.name for p in (tmp_path / "fdb" / "root").rglob("*")) == before
    assert (tmp_path / "fdb" / "etc" / "fdb" / "schema").read_text() == OLD_SCHEMA
    still = FdbStore(old_config).list({"class": "rd"})
    assert still == [OLD_KEYS]  # readable under its old keys


def test_an_fdb_whose_schema_lacks_channel_refuses_with_a_clear_error(tmp_path: Path) -> None:
    old_config = _old_layout(tmp_path)
    store = FdbStore(old_config)

    with pytest.raises(FdbRequestError, match="`channel` included"):
        export_run(
            make_run(), registry=JsonCodeRegistry(tmp_path / "r.json"), sink=open_sink(store)
        )
