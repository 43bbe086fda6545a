"""FDB configuration: the one given, or a local `toc` store that dtbase generates.

The generated store lives under `<data_dir>/fdb/`:

    etc/fdb/schema-2      the schema (standard MARS keys only; see SCHEMA)
    etc/fdb/config.yaml   the same configuration for ECMWF's tools: FDB_HOME=<data_dir>/fdb
    root-2/               the databases

Each FDB database keeps a copy of the schema it was created with: an existing schema
file is never overwritten, and a different schema needs a new root. The first layout
(`etc/fdb/schema`, `root/`: keys without `channel`, so runs of several sensors collided)
is left as it is, neither read nor written: its runs are exported again into `root-2/`
by the next export of their window. Its data stay readable with ECMWF's tools under a
configuration naming that schema and root.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Every key a message carries must be in the schema: ECMWF's local section adds `domain`,
# multio's own encoder adds `timespan`.
SCHEMA = """\
param: Param;  step: Step;  date: Date;  time: Time;  expver: Expver;
number: Integer;  channel: Integer;  levelist: Double;
[ class, expver, stream, date, time, domain?
       [ type, levtype
               [ step, number?, channel?, levelist?, param, timespan? ]]]
"""
# The layout's version: a new schema gets a new file and a new root (see above).
LAYOUT = 2

FdbConfig = Mapping[str, Any] | Path


def local_config(data_dir: Path) -> dict[str, Any]:
    """The configuration of dtbase's local store under `<data_dir>/fdb`, created if missing."""
    home = Path(data_dir).resolve() / "fdb"
    etc = home / "etc" / "fdb"
    root = home / f"root-{LAYOUT}"
    etc.mkdir(parents=True, exist_ok=True)
    root.mkdir(parents=True, exist_ok=True)
    schema = etc / f"schema-{LAYOUT}"
    if not schema.exists():
        schema.write_text(SCHEMA, encoding="utf-8")
    config = {
        "type": "local",
        "engine": "toc",
        "schema": str(schema),
        "spaces": [{"handler": "Default", "roots": [{"path": str(root)}]}],
    }
    text = json.dumps(config, indent=2) + "\n"  # JSON is YAML
    file = etc / "config.yaml"
    if not file.exists() or file.read_text(encoding="utf-8") != text:
        file.write_text(text, encoding="utf-8")
    return config


def load_config(config: FdbConfig | None = None, *, data_dir: Path | None = None) -> dict[str, Any]:
    """An FDB configuration as a dict: the given one (a dict or a YAML file), else local.

    With neither a configuration nor a data directory this is an error: dtbase never
    falls back silently to whatever FDB_HOME or FDB5_CONFIG point at.
    """
    if isinstance(config, Path):
        loaded = _yaml().safe_load(config.read_text(encoding="utf-8"))
        if not isinstance(loaded, dict):
            raise ValueError(f"{config} does not hold an FDB configuration (a mapping)")
        return loaded
    if config is not None:
        return dict(config)
    if data_dir is None:
        raise ValueError("Give an FDB configuration or a data directory for a local store")
    return local_config(data_dir)


def _yaml() -> Any:
    # PyYAML comes with dtbase's dependencies (uvicorn[standard]); imported only here.
    return importlib.import_module("yaml")
