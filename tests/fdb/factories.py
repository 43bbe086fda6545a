"""Runs for the FDB bridge tests: arbitrary float64 values, sub-hourly and odd steps."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from dtbase.fdb import Location, MeasureSeries, ModelRun

RUN_TIME = datetime(2024, 3, 9, 6, 45, tzinfo=UTC)
LONDON = Location(51.5072, -0.1276)


def series(
    name: str,
    units: str,
    offsets: Sequence[timedelta],
    *,
    seed: int = 0,
    start: datetime = RUN_TIME,
) -> MeasureSeries:
    """A measure with arbitrary float64 values (random bits, all finite) at the offsets."""
    rng = random.Random(seed)
    values = [rng.uniform(-1e6, 1e6) * rng.choice((1.0, 1e-300, 1e300)) for _ in offsets]
    return MeasureSeries(
        name, units, [(start + o, v) for o, v in zip(offsets, values, strict=True)]
    )


def make_run(
    *,
    model: str = "arima",
    scenario: str | None = "baseline",
    run_time: datetime = RUN_TIME,
    location: Location | None = None,
    steps: int = 12,
) -> ModelRun:
    """Two measures: a standard one every 15 minutes, an experimental one with odd steps."""
    quarter_hours = [timedelta(minutes=15 * i) for i in range(steps)]
    odd = [timedelta(seconds=0), timedelta(seconds=90), timedelta(minutes=75), timedelta(days=2)]
    return ModelRun(
        model,
        scenario,
        run_time,
        [
            series("temperature", "K", quarter_hours, seed=1, start=run_time),
            series("soil moisture", "m3 m-3", odd, seed=2, start=run_time),
        ],
        location,
    )
