"""How good are the ARIMA service's forecasts? Rolling origins on real series.

    python bench/arima_quality.py [--quick] [--json results.json]

Series shipped inside pip packages (no download):

* `taylor`: half-hourly electricity demand (pmdarima's `load_taylor`), horizon 48;
* `victoria`: hourly electricity demand of Victoria (the MSTL test data inside
  statsmodels), horizon 24;
* `co2`: weekly CO2 at Mauna Loa (statsmodels' `co2`), horizon 52;
* `taylor-gaps`: `taylor` with 12% of the readings missing (random and in blocks) and the
  timestamps jittered by up to 4 minutes, through the service's own grid and gap filling;
* `taylor-gappy`: the same with 30% missing, which the service answers with its flagged
  weekly-naive fallback.

For each origin the model sees the last 56 days (the service's default `training_days`;
8 years for weekly co2) and forecasts the horizon. Reported beside it, measured in the same
run: same-time-yesterday naive, same-time-last-week naive (for co2: last value and same week
last year) and statsforecast's MSTL. MASE is scaled by the in-sample MAE of the
shortest-season naive (same time yesterday; same week last year for co2).

Targets (issue 5): MASE at most 1.1 x statsforecast MSTL's and below both naive forecasts;
95% coverage between 0.90 and 0.99; at most 5 s per fit.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from services.arima.forecast import calendar_periods, fill_gaps, forecast, to_grid

Array = NDArray[np.float64]
LEVELS = (68.0, 95.0)
START = datetime(2000, 6, 5, tzinfo=UTC)  # a Monday, as load_taylor's first day


@dataclass(frozen=True)
class Case:
    name: str
    values: Array  # on a regular grid, NaN where missing
    step: timedelta
    horizon: int
    window: int  # points the model sees at each origin
    origin_every: int  # steps between origins
    lags: tuple[int, int]  # the two naive baselines' lags, shortest first
    lag_names: tuple[str, str]
    seasons: tuple[int, ...]  # for statsforecast's MSTL
    gaps: float = 0.0  # fraction of readings removed (the service's grid rebuilds them)


@dataclass
class Scores:
    errors: list[float] = field(default_factory=list)
    inside: dict[float, list[bool]] = field(default_factory=lambda: {lv: [] for lv in LEVELS})
    seconds: list[float] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)

    def add(self, actual: Array, mean: Array, scale: float, bounds: Any = None) -> None:
        seen = np.isfinite(actual)
        self.errors.append(float(np.mean(np.abs(actual[seen] - mean[seen])) / scale))
        if bounds is not None:
            for level in LEVELS:
                lower, upper = bounds[level]
                self.inside[level] += list(
                    (actual[seen] >= lower[seen]) & (actual[seen] <= upper[seen])
                )

    def row(self) -> dict[str, Any]:
        row: dict[str, Any] = {"mase": float(np.mean(self.errors))}
        for level in LEVELS:
            if self.inside[level]:
                row[f"coverage_{level:g}"] = float(np.mean(self.inside[level]))
        if self.seconds:
            row["seconds_per_fit"] = float(np.mean(self.seconds))
            row["max_seconds"] = float(np.max(self.seconds))
        if self.methods:
            row["methods"] = {m: self.methods.count(m) for m in sorted(set(self.methods))}
        return row


def load_cases(quick: bool) -> list[Case]:
    import pandas as pd
    import statsmodels.api as sm  # type: ignore[import-untyped]
    from pmdarima.datasets import load_taylor  # type: ignore[import-untyped]

    thin = 3 if quick else 1
    taylor = np.asarray(load_taylor(), dtype=float)
    victoria_csv = (
        Path(sm.__file__).parent / "tsa" / "stl" / "tests" / "results" / "mstl_elec_vic.csv"
    )
    victoria = np.asarray(pd.read_csv(victoria_csv)["y"], dtype=float)
    co2 = np.asarray(sm.datasets.co2.load_pandas().data["co2"], dtype=float)
    half_hour, hour, week = timedelta(minutes=30), timedelta(hours=1), timedelta(days=7)
    day_names = ("same time yesterday", "same time last week")
    return [
        Case("taylor", taylor, half_hour, 48, 56 * 48, 48 * thin, (48, 336), day_names, (48, 336)),
        Case(
            "victoria", victoria, hour, 24, 56 * 24, 24 * 4 * thin, (24, 168), day_names, (24, 168)
        ),
        Case(
            "co2",
            co2,
            week,
            52,
            8 * 52,
            52 * thin,
            (1, 52),
            ("last value", "same week last year"),
            (52,),
        ),
        Case(
            "taylor-gaps",
            taylor,
            half_hour,
            48,
            56 * 48,
            48 * thin,
            (48, 336),
            day_names,
            (48, 336),
            0.12,
        ),
        Case(
            "taylor-gappy",
            taylor,
            half_hour,
            48,
            56 * 48,
            96 * thin,
            (48, 336),
            day_names,
            (48, 336),
            0.30,
        ),
    ]


def readings_with_gaps(case: Case, seed: int = 20240310) -> tuple[list[datetime], list[float]]:
    """The series as a sensor would deliver it: some readings lost, clocks off a little."""
    rng = np.random.default_rng(seed)
    n = len(case.values)
    keep = np.ones(n, dtype=bool)
    blocks = int(case.gaps * n * 0.4 / 10)
    for start in rng.integers(0, n - 10, blocks):
        keep[start : start + 10] = False  # five-hour outages
    missing_now = 1 - keep.mean()
    keep &= rng.random(n) > max(0.0, (case.gaps - missing_now) / max(keep.mean(), 1e-9))
    jitter = rng.uniform(-240, 240, n)
    times = [
        START + int(i) * case.step + timedelta(seconds=float(jitter[i]))
        for i in np.flatnonzero(keep)
    ]
    return times, [float(case.values[i]) for i in np.flatnonzero(keep)]


def statsforecast_mstl(seasons: tuple[int, ...]) -> Callable[[Array, int], tuple[Array, Any]]:
    from statsforecast.models import MSTL

    def run(train: Array, horizon: int) -> tuple[Array, Any]:
        model = MSTL(season_length=list(seasons))
        result = model.forecast(y=train, h=horizon, level=[int(lv) for lv in LEVELS])
        bounds = {lv: (result[f"lo-{lv:g}"], result[f"hi-{lv:g}"]) for lv in LEVELS}
        return np.asarray(result["mean"], dtype=float), bounds

    return run


def naive(train: Array, horizon: int, lag: int) -> Array:
    cycle = train[-lag:]
    return np.array([cycle[h % lag] for h in range(horizon)], dtype=float)


def evaluate(case: Case, with_statsforecast: bool) -> dict[str, Any]:
    filled_truth, _ = fill_gaps(case.values, [case.lags[1]], 3)  # co2 has NaNs of its own
    if case.gaps:
        times, values = readings_with_gaps(case)
    ours, first, second, theirs = Scores(), Scores(), Scores(), Scores()
    sf = statsforecast_mstl(case.seasons) if with_statsforecast else None
    if sf is not None:  # numba compiles on first use: not part of the timing
        sf(filled_truth[: case.window], case.horizon)
    origins = range(case.window, len(case.values) - case.horizon + 1, case.origin_every)
    for origin in origins:
        actual = case.values[origin : origin + case.horizon]
        train = filled_truth[origin - case.window : origin]
        shortest = case.lags[0] if case.lags[0] > 1 else case.lags[1]
        scale = float(np.mean(np.abs(train[shortest:] - train[:-shortest])))
        started = time.perf_counter()
        if case.gaps:
            # The readings of the window (by nominal time), through the service's grid.
            cut_from = START + (origin - case.window) * case.step - case.step / 2
            cut_to = START + origin * case.step - case.step / 2
            chosen = [i for i, t in enumerate(times) if cut_from <= t < cut_to]
            grid = to_grid([times[i] for i in chosen], [values[i] for i in chosen])
            behind = origin - 1 - round((grid.end - START) / grid.step)  # lost last readings
            result = forecast(
                grid.values,
                case.horizon + behind,
                candidates=calendar_periods(grid.step),
                levels=LEVELS,
                step=grid.step,
            )
            mean = result.mean[behind:]
            bounds = {lv: (lo[behind:], hi[behind:]) for lv, (lo, hi) in result.bounds.items()}
        else:
            raw = case.values[origin - case.window : origin]
            result = forecast(
                raw,
                case.horizon,
                candidates=calendar_periods(case.step),
                levels=LEVELS,
                step=case.step,
            )
            mean, bounds = result.mean, result.bounds
        ours.seconds.append(time.perf_counter() - started)
        ours.methods.append(result.method)
        ours.add(actual, mean, scale, bounds)
        first.add(actual, naive(train, case.horizon, case.lags[0]), scale)
        second.add(actual, naive(train, case.horizon, case.lags[1]), scale)
        if sf is not None:
            started = time.perf_counter()
            mean, bounds = sf(train, case.horizon)
            theirs.seconds.append(time.perf_counter() - started)
            theirs.add(actual, mean, scale, bounds)
    report = {
        "series": case.name,
        "horizon": case.horizon,
        "origins": len(origins),
        "missing": case.gaps,
        "dtbase": ours.row(),
        f"naive ({case.lag_names[0]})": first.row(),
        f"naive ({case.lag_names[1]})": second.row(),
    }
    if sf is not None:
        report["statsforecast MSTL"] = theirs.row()
    report["targets"] = targets(report, case)
    return report


def targets(report: dict[str, Any], case: Case) -> dict[str, bool]:
    ours = report["dtbase"]
    naives = [value["mase"] for key, value in report.items() if key.startswith("naive")]
    checks = {
        "below both naive": ours["mase"] < min(naives),
        "95% coverage in [0.90, 0.99]": 0.90 <= ours.get("coverage_95", 0) <= 0.99,
        "at most 5 s per fit": ours["seconds_per_fit"] <= 5,
    }
    if "statsforecast MSTL" in report and case.gaps < 0.2:
        checks["MASE <= 1.1 x statsforecast MSTL"] = (
            ours["mase"] <= 1.1 * report["statsforecast MSTL"]["mase"]
        )
    if case.gaps >= 0.2:
        checks = {
            "flagged fallback": set(ours.get("methods", {})) == {"weekly-naive"},
            "95% coverage in [0.90, 0.99]": checks["95% coverage in [0.90, 0.99]"],
        }
    return checks


def print_report(report: dict[str, Any]) -> None:
    print(f"\n{report['series']}: horizon {report['horizon']}, {report['origins']} origins")
    print(f"  {'forecaster':38} {'MASE':>7} {'cov68':>6} {'cov95':>6} {'s/fit':>7}")
    for name, row in report.items():
        if not isinstance(row, dict) or "mase" not in row:
            continue
        cov68 = f"{row['coverage_68']:.3f}" if "coverage_68" in row else "-"
        cov95 = f"{row['coverage_95']:.3f}" if "coverage_95" in row else "-"
        seconds = f"{row['seconds_per_fit']:.2f}" if "seconds_per_fit" in row else "-"
        print(f"  {name:38} {row['mase']:7.3f} {cov68:>6} {cov95:>6} {seconds:>7}")
    if "methods" in report["dtbase"]:
        print(f"  dtbase methods: {report['dtbase']['methods']}")
    for check, passed in report["targets"].items():
        print(f"  [{'PASS' if passed else 'FAIL'}] {check}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a third of the origins")
    parser.add_argument("--series", nargs="*", help="only these series")
    parser.add_argument("--no-statsforecast", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    reports = []
    for case in load_cases(args.quick):
        if args.series and case.name not in args.series:
            continue
        report = evaluate(case, not args.no_statsforecast)
        print_report(report)
        reports.append(report)
    print(f"\nload average at end: {os.getloadavg()[0]:.1f}")
    if args.json:
        args.json.write_text(json.dumps(reports, indent=1))
    failed = [f"{r['series']}: {c}" for r in reports for c, ok in r["targets"].items() if not ok]
    print("\nAll targets met." if not failed else "\nMissed: " + "; ".join(failed))


if __name__ == "__main__":
    main()
