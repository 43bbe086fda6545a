"""The generated local store: schema, configuration for ECMWF's tools, and explicit configs."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path

import pytest

from dtbase.fdb import SCHEMA, FdbStore, JsonCodeRegistry, export_run, load_config, open_sink
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
        "schema": str(home / "etc" / "fdb" / "schema"),
        "spaces": [{"handler": "Default", "roots": [{"path": str(home / "root")}]}],
    }
    assert (home / "etc" / "fdb" / "schema").read_text() == SCHEMA
    assert json.loads((home / "etc" / "fdb" / "config.yaml").read_text()) == store.config
    assert (home / "root").is_dir()


def test_fdb_schema_accepts_the_schema(tmp_path: Path) -> None:
    FdbStore(data_dir=tmp_path)

    checked = subprocess.run(
        [fdb_tool("fdb-schema"), str(tmp_path / "fdb" / "etc" / "fdb" / "schema")],
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
    schema = tmp_path / "fdb" / "etc" / "fdb" / "schema"
    schema.parent.mkdir(parents=True)
    schema.write_text(SCHEMA + "\n# edited\n")

    FdbStore(data_dir=tmp_path)

    assert schema.read_text().endswith("# edited\n")


def test_given_configurations(tmp_path: Path) -> None:
    generated = load_config(data_dir=tmp_path / "a")
    yaml_file = tmp_path / "config.yaml"
    root = tmp_path / "a" / "fdb" / "root"
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
