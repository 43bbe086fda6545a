"""The FDB bridge: dtbase model runs as GRIB2 fields in ECMWF's FDB, and back.

    from dtbase.fdb import FdbStore, JsonCodeRegistry, ModelRun, export_run, open_sink

    store = FdbStore(data_dir=settings.data_dir)          # or FdbStore(config)
    registry = JsonCodeRegistry(default_registry_path(settings.data_dir))
    compare_held(store, registry, run).same        # the FDB holds the run's values
    export_run(run, registry=registry, sink=open_sink(store))          # or "multio"
    read_back(store, registry, run)                # the FDB's copy of the run
    listed = list_runs(store, registry, model="arima")[0]      # by reference time
    read_run(store, registry, model="arima", scenario=listed.scenario,
             run_time=listed.run_time, sensor=listed.sensor)

Keys, codes and what the export guarantees: docs/fdb.md and `dtbase.fdb.mars`.

The data model, the registry, the MARS mapping and the configuration are plain Python;
the names that need pyfdb, eccodes (and multio for its sink) load them on first use, so
`import dtbase.fdb` works without the `fdb` extra.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from dtbase.fdb.config import SCHEMA, load_config, local_config
from dtbase.fdb.errors import FdbError, FdbRequestError, InvalidRun, RegistryError, RunNotFound
from dtbase.fdb.registry import (
    STANDARD_PARAMS,
    CodeRegistry,
    Codes,
    JsonCodeRegistry,
    RunCodes,
    allocate,
    default_registry_path,
    standard_param,
)
from dtbase.fdb.runs import Location, MeasureSeries, ModelRun, SensorLink, validate_run

if TYPE_CHECKING:
    from dtbase.fdb.bridge import (
        ExportResult,
        HeldRun,
        ListedMeasure,
        ListedRun,
        compare_held,
        expected_fields,
        export_run,
        list_fields,
        list_runs,
        missing_fields,
        read_back,
        read_run,
    )
    from dtbase.fdb.grib import (
        DecodedField,
        EncodedMessage,
        decode_message,
        decode_messages,
        encode_run,
        mars_keys,
        split_messages,
    )
    from dtbase.fdb.sinks import MultioSink, PyfdbSink, Sink, multio_plan, open_sink
    from dtbase.fdb.store import FdbStore

_LAZY = {
    **dict.fromkeys(
        (
            "ExportResult",
            "HeldRun",
            "ListedMeasure",
            "ListedRun",
            "compare_held",
            "expected_fields",
            "export_run",
            "list_fields",
            "list_runs",
            "missing_fields",
            "read_back",
            "read_back",
            "read_run",
        ),
        "dtbase.fdb.bridge",
    ),
    **dict.fromkeys(
        (
            "DecodedField",
            "EncodedMessage",
            "decode_message",
            "decode_messages",
            "encode_run",
            "mars_keys",
            "split_messages",
        ),
        "dtbase.fdb.grib",
    ),
    **dict.fromkeys(
        ("MultioSink", "PyfdbSink", "Sink", "multio_plan", "open_sink"), "dtbase.fdb.sinks"
    ),
    "FdbStore": "dtbase.fdb.store",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dtbase.fdb' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "SCHEMA",
    "STANDARD_PARAMS",
    "CodeRegistry",
    "Codes",
    "DecodedField",
    "EncodedMessage",
    "ExportResult",
    "FdbError",
    "FdbRequestError",
    "FdbStore",
    "HeldRun",
    "InvalidRun",
    "JsonCodeRegistry",
    "ListedMeasure",
    "ListedRun",
    "Location",
    "MeasureSeries",
    "ModelRun",
    "MultioSink",
    "PyfdbSink",
    "RegistryError",
    "RunCodes",
    "RunNotFound",
    "SensorLink",
    "Sink",
    "allocate",
    "compare_held",
    "decode_message",
    "decode_messages",
    "default_registry_path",
    "encode_run",
    "expected_fields",
    "export_run",
    "list_fields",
    "list_runs",
    "load_config",
    "local_config",
    "mars_keys",
    "missing_fields",
    "multio_plan",
    "open_sink",
    "read_back",
    "read_run",
    "split_messages",
    "standard_param",
    "validate_run",
]
