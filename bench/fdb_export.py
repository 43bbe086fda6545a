"""Export rate of dtbase.fdb beside the raw `pyfdb` archive rate of the same messages.

    .venv/bin/python bench/fdb_export.py [--measures 4] [--steps 5000] [--rounds 3] [--multio]

The export is timed end to end: checks, code registry (a JSON file), GRIB2 encoding,
archive and flush. The reference archives the very same messages, under the same keys,
with `pyfdb.FDB.archive(message, identifier=keys)` and one flush. Each side writes into
a fresh FDB root every round, and the two sides alternate which goes first. Target: the
export runs at no less than half the raw rate.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyfdb  # type: ignore[import-untyped]

from dtbase.fdb import (
    EncodedMessage,
    FdbStore,
    JsonCodeRegistry,
    MeasureSeries,
    ModelRun,
    encode_run,
    export_run,
    load_config,
    open_sink,
)

TARGET = 0.5


def make_run(measures: int, steps: int) -> ModelRun:
    """A forecast every 15 minutes for each measure, arbitrary float64 values."""
    rng = random.Random(42)  # noqa: S311 - test data, not secrets
    run_time = datetime(2024, 3, 9, 6, 0, tzinfo=UTC)
    return ModelRun(
        "bench",
        "baseline",
        run_time,
        [
            MeasureSeries(
                f"measure {i}",
                "1",
                [(run_time + timedelta(minutes=15 * j), rng.gauss(0.0, 1e3)) for j in range(steps)],
            )
            for i in range(measures)
        ],
    )


def timed_export(run: ModelRun, folder: Path, kind: str) -> float:
    store = FdbStore(data_dir=folder)
    registry = JsonCodeRegistry(folder / "registry.json")
    sink = open_sink(store, "multio" if kind == "multio" else "pyfdb")
    start = time.perf_counter()
    export_run(run, registry=registry, sink=sink)
    return time.perf_counter() - start


def timed_raw(messages: list[EncodedMessage], folder: Path) -> float:
    fdb = pyfdb.FDB(load_config(data_dir=folder))
    start = time.perf_counter()
    for message in messages:
        fdb.archive(message.data, identifier=message.keys)
    fdb.flush()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--measures", type=int, default=4)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--multio", action="store_true", help="also time the multio sink")
    args = parser.parse_args()

    run = make_run(args.measures, args.steps)
    count = args.measures * args.steps
    with tempfile.TemporaryDirectory() as scratch:
        registry = JsonCodeRegistry(Path(scratch) / "codes.json")
        codes = registry.assign(
            model=run.model,
            scenario=run.scenario,
            measures=[(m.name, m.units) for m in run.measures],
        )
        messages = encode_run(run, codes)  # the reference's input, encoded once, untimed
        timed_export(run, Path(scratch) / "warm-up", "pyfdb")  # eccodes loads its tables

        export_times, raw_times = [], []
        for round_ in range(args.rounds):
            folder = Path(scratch) / f"round-{round_}"
            sides = [("export", folder / "export"), ("raw", folder / "raw")]
            for side, path in sides if round_ % 2 == 0 else reversed(sides):
                if side == "export":
                    export_times.append(timed_export(run, path, "pyfdb"))
                else:
                    raw_times.append(timed_raw(messages, path))
        multio_time = timed_export(run, Path(scratch) / "multio", "multio") if args.multio else None

    export_rate = count / statistics.median(export_times)
    raw_rate = count / statistics.median(raw_times)
    ratio = export_rate / raw_rate
    print(f"messages per round: {count} ({args.measures} measures x {args.steps} steps)")
    print(f"rounds: {args.rounds} (median)")
    for name, times in (("dtbase.fdb export", export_times), ("raw pyfdb archive", raw_times)):
        rounds = ", ".join(f"{count / t:,.0f}" for t in times)
        print(f"{name:>18}: {count / statistics.median(times):>9,.0f} messages/s  [{rounds}]")
    if multio_time is not None:
        print(f"{'multio sink export':>18}: {count / multio_time:>9,.0f} messages/s")
    verdict = "ok" if ratio >= TARGET else "BELOW TARGET"
    print(f"ratio export/raw: {ratio:.2f} (target >= {TARGET}) {verdict}")


if __name__ == "__main__":
    main()
