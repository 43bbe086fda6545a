"""Multi-seasonal ARIMA forecasting of one sensor series (numpy and statsmodels only).

The recipe, chosen by the benchmark in `bench/arima_quality.py`:

1. put the readings on a regular grid (each reading to its nearest grid point, averaged);
2. fill gaps: short ones linearly, longer ones from the same time one season earlier,
   level-adjusted to the gap's edges; with more than `max_missing` of the grid missing, give
   up on modelling and fall back to a flagged seasonal-naive (weekly if possible) forecast;
3. detect the seasons among the calendar candidates (daily, weekly, yearly) by their
   strength in a classical decomposition, or take the ones given;
4. decompose the last `window_seasons` longest seasons with MSTL (`seasonal_deg=0`: with
   the default the intervals come out far too narrow);
5. fit a small automatic ARIMA to the seasonally adjusted series: `p, q <= 3` by AICc with
   fast Hannan-Rissanen estimates, for d = 0 and d = 1, the differencing done by hand and the
   forecasts integrated back (forecasting the differenced fit with an undifferenced model
   roughly doubles the error), a drift only where it is significant;
6. carry each season's last cycle forward and add it back;
7. backtest both at three earlier origins (one horizon apart): the d that forecast better
   is used (a KPSS test decides when the data are too short for backtests);
8. intervals from the ARIMA's psi weights, rescaled by the backtests' standardized errors
   (conformal calibration), so that they cover what they claim.

Everything is deterministic: no random numbers, no wall clock.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from statistics import NormalDist
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.signal import lfilter  # type: ignore[import-untyped]
from statsmodels.tsa.arima.estimators.hannan_rissanen import hannan_rissanen  # type: ignore[import-untyped]
from statsmodels.tsa.arima_process import arma2ma  # type: ignore[import-untyped]
from statsmodels.tsa.seasonal import MSTL  # type: ignore[import-untyped]
from statsmodels.tsa.stattools import kpss  # type: ignore[import-untyped]

from dtbase.core.timestamps import EPOCH

Array = NDArray[np.float64]

MINUTE = 60.0
DAY = 86400.0
WEEK = 7 * DAY
YEAR = 365.25 * DAY

# Grid steps a sensor's readings are snapped to, in seconds.
NICE_STEPS = tuple(
    m * MINUTE for m in (1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 240, 360, 480, 720, 1440, 10080)
)

MIN_POINTS = 30
MAX_P, MAX_Q, MAX_PQ = 3, 3, 4
SEASON_STRENGTH = 0.3


class NotEnoughData(ValueError):
    """The series cannot be forecast: too few readings, or all too old."""


@dataclass(frozen=True)
class Grid:
    """Values at `start + i * step`; NaN where nothing was read."""

    start: datetime
    step: timedelta
    values: Array

    def time(self, index: int) -> datetime:
        return self.start + index * self.step

    @property
    def end(self) -> datetime:
        return self.time(len(self.values) - 1)


@dataclass(frozen=True)
class ArmaFit:
    """ARIMA(p, d, q) on the seasonally adjusted series."""

    p: int
    d: int
    q: int
    mean: float  # the ARMA's mean: a constant (d=0) or a drift (d=1)
    ar: Array
    ma: Array
    sigma2: float
    aicc: float

    @property
    def order(self) -> tuple[int, int, int]:
        return (self.p, self.d, self.q)


@dataclass(frozen=True)
class Forecast:
    """Mean and central intervals (`bounds[level] = (lower, upper)`) for `horizon` steps."""

    mean: Array
    bounds: dict[float, tuple[Array, Array]]
    method: str  # "mstl-arima", "arima", or a flagged fallback: "weekly-naive", ...
    periods: tuple[int, ...] = ()
    order: tuple[int, int, int] | None = None
    missing_fraction: float = 0.0
    filled: int = 0
    interval_scale: dict[float, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def fallback(self) -> bool:
        return self.method.endswith("naive")


# The grid


def infer_step(timestamps: Sequence[datetime]) -> timedelta:
    """The typical spacing of the readings, snapped to a round step (1 min ... 1 week)."""
    seconds = np.array(sorted({t.timestamp() for t in timestamps}))
    if len(seconds) < 2:
        raise NotEnoughData("fewer than two distinct timestamps")
    typical = float(np.median(np.diff(seconds)))
    best = min(NICE_STEPS, key=lambda step: abs(math.log(typical / step)))
    return timedelta(seconds=best)


def to_grid(
    timestamps: Sequence[datetime], values: Sequence[float], step: timedelta | None = None
) -> Grid:
    """Readings on a regular grid aligned to the step (hours on the hour, ...), averaged
    where several fall on one point; the grid runs from the first reading to the last."""
    if len(timestamps) != len(values):
        raise ValueError("timestamps and values differ in length")
    if not timestamps:
        raise NotEnoughData("no readings")
    step = step or infer_step(timestamps)
    seconds = step.total_seconds()
    positions = np.array(
        [round((t.astimezone(UTC) - EPOCH).total_seconds() / seconds) for t in timestamps]
    )
    observed = np.asarray(values, dtype=float)
    keep = np.isfinite(observed)
    positions, observed = positions[keep], observed[keep]
    if len(observed) == 0:
        raise NotEnoughData("no numeric readings")
    first = int(positions.min())
    index = positions - first
    size = int(index.max()) + 1
    sums = np.bincount(index, weights=observed, minlength=size)
    counts = np.bincount(index, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        grid = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return Grid(EPOCH + first * step, step, grid)


def calendar_periods(step: timedelta) -> list[int]:
    """Candidate season lengths in steps: a day, a week, a year (where at least 2 steps)."""
    seconds = step.total_seconds()
    periods = []
    for length, exact in ((DAY, True), (WEEK, True), (YEAR, False)):
        ratio = length / seconds
        if exact and abs(ratio - round(ratio)) > 1e-9:
            continue
        if round(ratio) >= 2:
            periods.append(round(ratio))
    return periods


# Gaps


def fill_gaps(y: Array, periods: Sequence[int], max_linear: int) -> tuple[Array, int]:
    """Fill NaNs: runs up to `max_linear` steps linearly, longer ones from one season
    before (shortest season) shifted to meet the run's edges. Returns (filled, count)."""
    filled = y.copy()
    missing = np.isnan(filled)
    if not missing.any():
        return filled, 0
    n = len(filled)
    period = min(periods) if periods else 0
    i = 0
    while i < n:
        if not missing[i]:
            i += 1
            continue
        start = i
        while i < n and missing[i]:
            i += 1
        stop = i  # the run is [start, stop)
        left = filled[start - 1] if start > 0 else np.nan
        right = filled[stop] if stop < n else np.nan
        if stop - start > max_linear and period and start - period >= 0:
            base = np.array([filled[j - period] for j in range(start, stop)])
            left_offset = left - filled[start - 1 - period] if start - 1 - period >= 0 else 0.0
            right_offset = right - filled[stop - period] if stop < n else left_offset
            if not np.isfinite(left_offset):
                left_offset = 0.0
            if not np.isfinite(right_offset):
                right_offset = left_offset
            ramp = np.linspace(0, 1, stop - start + 2)[1:-1]
            filled[start:stop] = base + left_offset + (right_offset - left_offset) * ramp
        else:
            if np.isnan(left):
                left = right
            if np.isnan(right):
                right = left
            ramp = np.linspace(0, 1, stop - start + 2)[1:-1]
            filled[start:stop] = left + (right - left) * ramp
    return filled, int(missing.sum())


# Seasons


def detect_periods(y: Array, candidates: Sequence[int]) -> tuple[int, ...]:
    """The candidate seasons that are strong in `y` (NaN-free): each, shortest first, by
    the share of variance its phase profile explains after removing a moving-average trend
    and the seasons already kept."""
    kept: list[int] = []
    x = y.astype(float).copy()
    for period in sorted(candidates):
        if len(x) < 2 * period:
            continue
        detrended = x - _centred_mean(x, period)
        valid = np.isfinite(detrended)
        phases = np.arange(len(x)) % period
        profile = np.array(
            [np.mean(detrended[valid & (phases == k)]) for k in range(period)], dtype=float
        )
        profile -= profile.mean()
        seasonal = profile[phases]
        total = float(np.var(detrended[valid]))
        if total <= 0:
            continue
        strength = 1 - float(np.var((detrended - seasonal)[valid])) / total
        cycles = valid.sum() / period
        if strength >= max(SEASON_STRENGTH, 1.5 / cycles):  # noise alone gives ~1/cycles
            kept.append(period)
            x = x - seasonal
    return tuple(kept)


def _centred_mean(x: Array, period: int) -> Array:
    """A centred moving average over one period (2 x period for even periods)."""
    weights = np.ones(period + 1 if period % 2 == 0 else period, dtype=float)
    if period % 2 == 0:
        weights[0] = weights[-1] = 0.5
    weights /= weights.sum()
    trend = np.full(len(x), np.nan)
    half = len(weights) // 2
    if len(x) >= len(weights):
        trend[half : len(x) - half] = np.convolve(x, weights, mode="valid")
    return trend


def decompose(y: Array, periods: Sequence[int]) -> tuple[Array, list[Array]]:
    """MSTL with `seasonal_deg=0`: (seasonally adjusted series, seasonal components)."""
    if not periods:
        return y.copy(), []
    shortest = min(periods)
    # Loess evaluated every few points and interpolated (R's stl does the same by default):
    # several times faster, and as accurate on the benchmark. Two passes over the seasons
    # (one pass costs a quarter more error on load_taylor).
    trend_window = _odd(1.5 * shortest / (1 - 1.5 / 11))
    stl_kwargs: dict[str, Any] = {
        "seasonal_deg": 0,
        "seasonal_jump": 2,
        "trend_jump": max(1, math.ceil(trend_window / 4)),
        "low_pass_jump": max(1, math.ceil(_odd(shortest) / 10)),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = MSTL(y, periods=list(periods), iterate=2, stl_kwargs=stl_kwargs).fit()
    seasonal = np.asarray(result.seasonal, dtype=float)
    if seasonal.ndim == 1:
        seasonal = seasonal[:, None]
    components = [seasonal[:, i] for i in range(seasonal.shape[1])]
    adjusted = y - seasonal.sum(axis=1)
    return adjusted, components


def _odd(value: float) -> int:
    n = math.ceil(value)
    return n if n % 2 else n + 1


def seasonal_forecast(component: Array, period: int, horizon: int) -> Array:
    """The last full cycle, carried forward."""
    cycle = component[-period:]
    return np.array([cycle[h % period] for h in range(horizon)], dtype=float)


# ARIMA


def fit_arima(
    series: ArrayLike, order: tuple[int, int, int] | None = None, *, d: int | None = None
) -> ArmaFit:
    """A small ARIMA by Hannan-Rissanen: the given order, or p, q chosen by AICc with `d`
    given or from a KPSS test."""
    x = np.asarray(series, dtype=float)
    if order is not None:
        fit = _fit_arma(np.diff(x, n=order[1]), order[0], order[2], order[1])
        if fit is None:
            fit = _fit_arma(np.diff(x, n=order[1]), 0, 0, order[1])
        assert fit is not None
        return fit
    if d is None:
        d = _differences(x)
    w = np.diff(x, n=d)
    best: ArmaFit | None = None
    for p in range(MAX_P + 1):
        for q in range(MAX_Q + 1):
            if p + q > MAX_PQ:
                continue
            fit = _fit_arma(w, p, q, d)
            if fit is not None and (best is None or fit.aicc < best.aicc):
                best = fit
    assert best is not None  # (0, d, 0) always fits
    return best


def _differences(x: Array) -> int:
    """1 if a KPSS test rejects level stationarity at 5%, else 0."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p_value = kpss(x, regression="c", nlags="auto")[1]
    return 1 if p_value < 0.05 else 0


def _fit_arma(w: Array, p: int, q: int, d: int) -> ArmaFit | None:
    n = len(w)
    if n < max(MIN_POINTS, 3 * (p + q + 1)):
        return None
    mean = float(np.mean(w))
    centred = w - mean
    if p == 0 and q == 0:
        ar, ma = np.zeros(0), np.zeros(0)
        sigma2 = float(np.var(centred))
    else:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                params, _ = hannan_rissanen(centred, ar_order=p, ma_order=q, demean=False)
        except (ValueError, np.linalg.LinAlgError):
            return None
        ar = np.asarray(params.ar_params, dtype=float)
        ma = np.asarray(params.ma_params, dtype=float)
        if not (_stable(ar) and _stable(-ma)):
            return None
        residuals = _residuals(centred, ar, ma)
        sigma2 = float(np.mean(residuals[max(p, q) :] ** 2))
    if not np.isfinite(sigma2) or sigma2 <= 0:
        return None
    if d > 0 and not _significant(mean, sigma2, ar, ma, n):
        mean = 0.0
    k = p + q + 1 + (1 if mean else 0)
    aicc = n * math.log(sigma2) + 2 * k + (2 * k * (k + 1)) / max(n - k - 1, 1)
    return ArmaFit(p, d, q, mean, ar, ma, sigma2, aicc)


def _stable(coefficients: Array) -> bool:
    """The roots of 1 - c1 z - c2 z^2 ... lie outside the unit circle (with a margin)."""
    if len(coefficients) == 0:
        return True
    roots = np.roots(np.r_[-coefficients[::-1], 1.0])
    return bool(np.all(np.abs(roots) > 1.001))


def _significant(mean: float, sigma2: float, ar: Array, ma: Array, n: int) -> bool:
    """A drift is kept when it is more than two standard errors from zero."""
    long_run = math.sqrt(sigma2) * abs(float(1 + ma.sum()) / float(1 - ar.sum()))
    return abs(mean) > 2 * long_run / math.sqrt(n)


def _residuals(centred: Array, ar: Array, ma: Array) -> Array:
    """The one-step errors of the ARMA, starting from zero errors before the data."""
    return np.asarray(lfilter(np.r_[1.0, -ar], np.r_[1.0, ma], centred), dtype=float)


def arima_forecast(x: Array, fit: ArmaFit, horizon: int) -> tuple[Array, Array]:
    """Mean and standard deviation of the forecasts of `x`, integrated back when d=1."""
    w = np.diff(x, n=fit.d)
    centred = w - fit.mean
    residuals = _residuals(centred, fit.ar, fit.ma)
    history = list(centred)
    errors = list(residuals)
    future = []
    for _ in range(horizon):
        value = sum(fit.ar[i] * history[-1 - i] for i in range(fit.p))
        value += sum(fit.ma[j] * errors[-1 - j] for j in range(fit.q))
        history.append(value)
        errors.append(0.0)
        future.append(value)
    w_forecast = np.array(future) + fit.mean
    psi = arma2ma(np.r_[1.0, -fit.ar], np.r_[1.0, fit.ma], lags=horizon)
    if fit.d == 1:
        mean = x[-1] + np.cumsum(w_forecast)
        psi = np.cumsum(psi)
    else:
        mean = w_forecast
    sd = np.sqrt(fit.sigma2 * np.cumsum(psi**2))
    return mean, sd


# The whole recipe


def _forecast_from(
    adjusted: Array,
    components: Sequence[Array],
    periods: Sequence[int],
    fit: ArmaFit,
    horizon: int,
) -> tuple[Array, Array]:
    """Mean and standard deviation: the ARIMA's forecast plus the seasons carried forward."""
    mean, sd = arima_forecast(adjusted, fit, horizon)
    for component, period in zip(components, periods, strict=True):
        mean = mean + seasonal_forecast(component, period, horizon)
    return mean, sd


def forecast(
    series: ArrayLike,
    horizon: int,
    *,
    candidates: Sequence[int] = (),
    periods: Sequence[int] | None = None,
    levels: Sequence[float] = (68.0, 95.0),
    max_missing: float = 0.2,
    max_linear_gap: int = 3,
    window_seasons: int = 8,
    calibration_origins: int = 3,
    step: timedelta | None = None,
) -> Forecast:
    """Forecast `horizon` steps after the end of `series` (NaN where missing).

    `candidates` are season lengths (in steps) to detect among; `periods` fixes them
    instead (an empty sequence: no seasons). `levels` are interval coverages in percent;
    `step` (the grid's) only names the fallback ("weekly-naive", ...).
    """
    if horizon < 1:
        raise ValueError("the horizon must be at least one step")
    y = np.asarray(series, dtype=float)
    observed = np.flatnonzero(np.isfinite(y))
    if len(observed) < MIN_POINTS:
        raise NotEnoughData(f"{len(observed)} readings on the grid; at least {MIN_POINTS} needed")
    y = y[observed[0] : observed[-1] + 1]
    missing_fraction = float(np.isnan(y).mean())
    notes: list[str] = []
    # MSTL decomposes only seasons shorter than half the data (it drops the others).
    possible = [p for p in (periods if periods is not None else candidates) if len(y) > 2 * p]
    if periods is not None and len(possible) < len(periods):
        notes.append("seasons longer than half the data were left out")

    if missing_fraction > max_missing:
        return _naive_forecast(y, horizon, candidates or possible, levels, missing_fraction, step)

    filled, count = fill_gaps(y, possible, max_linear_gap)
    chosen = tuple(possible) if periods is not None else detect_periods(filled, possible)
    window = len(filled)
    if chosen:
        window = min(len(filled), window_seasons * max(chosen))
    adjusted, components = decompose(filled[-window:], chosen)
    # Both d = 0 and d = 1 are fitted; the backtests pick the one that forecast better.
    fits = {d: fit_arima(adjusted, d=d) for d in (0, 1)}
    backtests = _backtests(filled, y, chosen, horizon, window, fits, calibration_origins)
    if backtests:
        d = min(fits, key=lambda d: (float(np.mean(backtests[d][0])), -d))
    else:
        d = _differences(adjusted)
        notes.append("too short for backtests: d by a KPSS test, intervals not calibrated")
    fit = fits[d]
    mean, sd = _forecast_from(adjusted, components, chosen, fit, horizon)
    scale = _interval_scale(backtests[d][1], levels) if backtests else {}
    bounds = {}
    for level in levels:
        z = NormalDist().inv_cdf(0.5 + level / 200) * scale.get(level, 1.0)
        bounds[level] = (mean - z * sd, mean + z * sd)
    return Forecast(
        mean=mean,
        bounds=bounds,
        method="mstl-arima" if chosen else "arima",
        periods=chosen,
        order=fit.order,
        missing_fraction=missing_fraction,
        filled=count,
        interval_scale=scale,
        notes=tuple(notes),
    )


def _backtests(
    filled: Array,
    raw: Array,
    periods: Sequence[int],
    horizon: int,
    window: int,
    fits: dict[int, ArmaFit],
    origins: int,
) -> dict[int, tuple[list[float], list[float]]]:
    """Each fit's order re-estimated at `origins` earlier origins (one horizon apart):
    its absolute errors and standardized errors against what was then observed."""
    results: dict[int, tuple[list[float], list[float]]] = {d: ([], []) for d in fits}
    n = len(filled)
    for k in range(1, origins + 1):
        cut = n - k * horizon
        start = max(0, cut - window)
        if cut - start < max(MIN_POINTS, 2 * max(periods, default=0) + 1):
            break
        adjusted, components = decompose(filled[start:cut], periods)
        actual = raw[cut : cut + horizon]
        seen = np.isfinite(actual)
        for d, fit in fits.items():
            past = fit_arima(adjusted, fit.order)
            mean, sd = _forecast_from(adjusted, components, periods, past, horizon)
            errors = np.abs(actual[seen] - mean[seen])
            results[d][0].extend(errors)
            results[d][1].extend(errors / sd[seen])
    if any(len(scores) < horizon for _, scores in results.values()):
        return {}
    return results


def _interval_scale(scores: Sequence[float], levels: Sequence[float]) -> dict[float, float]:
    """How much to widen (or narrow) each level's interval: the quantile of the
    backtests' standardized errors over the normal quantile (conformal calibration)."""
    values = np.asarray(scores, dtype=float)
    scale = {}
    for level in levels:
        nominal = NormalDist().inv_cdf(0.5 + level / 200)
        empirical = float(np.quantile(values, level / 100))
        scale[level] = float(np.clip(empirical / nominal, 0.8, 4.0))
    return scale


def _naive_forecast(
    y: Array,
    horizon: int,
    candidates: Sequence[int],
    levels: Sequence[float],
    missing_fraction: float,
    step: timedelta | None,
) -> Forecast:
    """The flagged fallback for gappy data: the last observed value at the same phase of
    the longest season that the data cover (a week, else a day, else the last value)."""
    usable = [p for p in sorted(candidates) if len(y) > p]
    period = usable[-1] if usable else 1
    n = len(y)
    mean = np.empty(horizon)
    steps_back = np.empty(horizon)
    last_value = y[np.flatnonzero(np.isfinite(y))[-1]]
    for h in range(horizon):
        index = n + h - period
        while index >= n:
            index -= period
        while index >= 0 and not np.isfinite(y[index]):
            index -= period
        mean[h] = y[index] if index >= 0 else last_value
        steps_back[h] = max(1, math.ceil((n + h - index) / period)) if index >= 0 else 1
    errors = y[period:] - y[:-period]
    errors = np.abs(errors[np.isfinite(errors)])
    if len(errors) == 0:
        errors = np.array([np.nanstd(y)])
    bounds = {}
    for level in levels:
        width = float(np.quantile(errors, level / 100)) * np.sqrt(steps_back)
        bounds[level] = (mean - width, mean + width)
    if step is not None:
        method = naive_method_name(period, step)
    else:
        method = "seasonal-naive" if period > 1 else "naive"
    return Forecast(
        mean=mean,
        bounds=bounds,
        method=method,
        periods=(period,) if period > 1 else (),
        missing_fraction=missing_fraction,
        notes=(f"{missing_fraction:.0%} of the grid is missing: {method} fallback",),
    )


def naive_method_name(period: int, step: timedelta) -> str:
    """A readable name for the fallback: weekly-naive, daily-naive, ..."""
    seconds = period * step.total_seconds()
    for name, length in (("weekly", WEEK), ("daily", DAY), ("yearly", YEAR)):
        if abs(seconds - length) < step.total_seconds():
            return f"{name}-naive"
    return "seasonal-naive" if period > 1 else "naive"
