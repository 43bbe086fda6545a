"""The forecasting recipe on synthetic series (no backend)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from numpy.typing import NDArray

from services.arima.forecast import (
    NotEnoughData,
    calendar_periods,
    detect_periods,
    fill_gaps,
    fit_arima,
    forecast,
    infer_step,
    to_grid,
)

START = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday
HOUR = timedelta(hours=1)


def pattern(n: int) -> NDArray[np.float64]:
    """Hourly: a daily cycle, and weekdays warmer than weekends."""
    t = np.arange(n)
    weekday = (t // 24) % 7 < 5
    return np.asarray(20 + 3 * np.sin(2 * np.pi * t / 24) + 1.5 * weekday, dtype=float)


def noisy(n: int, seed: int = 7) -> NDArray[np.float64]:
    rng = np.random.default_rng(seed)
    noise = np.zeros(n)
    shocks = rng.normal(0, 0.3, n)
    for i in range(1, n):
        noise[i] = 0.7 * noise[i - 1] + shocks[i]
    return pattern(n) + noise


def test_the_step_is_inferred_and_rounded() -> None:
    rng = np.random.default_rng(1)
    jittered = [START + timedelta(minutes=10 * i + rng.uniform(-1, 1)) for i in range(50)]

    assert infer_step(jittered) == timedelta(minutes=10)
    assert infer_step([START + i * HOUR for i in range(5)]) == HOUR
    assert infer_step([START + timedelta(days=7 * i) for i in range(5)]) == timedelta(days=7)
    with pytest.raises(NotEnoughData):
        infer_step([START])


def test_readings_go_to_the_nearest_grid_point_and_are_averaged() -> None:
    times = [
        START + timedelta(minutes=58),  # 01:00
        START + timedelta(hours=1, minutes=2),  # 01:00
        START + timedelta(hours=2),
        START + timedelta(hours=5, minutes=10),  # 05:00, after a gap
    ]

    grid = to_grid(times, [10.0, 12.0, 13.0, 16.0], HOUR)

    assert grid.start == START + HOUR
    assert grid.step == HOUR
    assert grid.end == START + 5 * HOUR
    np.testing.assert_array_equal(grid.values, [11.0, 13.0, np.nan, np.nan, 16.0])


def test_calendar_seasons_in_steps() -> None:
    assert calendar_periods(HOUR) == [24, 168, 8766]
    assert calendar_periods(timedelta(minutes=30)) == [48, 336, 17532]
    assert calendar_periods(timedelta(days=7)) == [52]
    assert calendar_periods(timedelta(minutes=7)) == [1440, 75137]  # no whole day


def test_short_gaps_are_linear_and_long_ones_seasonal() -> None:
    y = pattern(24 * 7)
    gappy = y.copy()
    gappy[30:32] = np.nan  # 2 hours
    gappy[100:110] = np.nan  # 10 hours

    filled, count = fill_gaps(gappy, [24], max_linear=3)

    assert count == 12
    assert not np.isnan(filled).any()
    np.testing.assert_allclose(filled[30:32], np.interp([30, 31], [29, 32], y[[29, 32]]))
    # The daily shape is kept through the long gap (a straight line would not).
    assert np.max(np.abs(filled[100:110] - y[100:110])) < 0.05
    assert np.max(np.abs(np.interp(range(100, 110), [99, 110], y[[99, 110]]) - y[100:110])) > 1


def test_seasons_are_detected() -> None:
    rng = np.random.default_rng(3)

    assert detect_periods(noisy(24 * 28), [24, 168]) == (24, 168)
    assert detect_periods(
        noisy(24 * 28) - 1.5 * ((np.arange(24 * 28) // 24) % 7 < 5), [24, 168]
    ) == (24,)
    assert detect_periods(rng.normal(size=24 * 28), [24, 168]) == ()
    # A weekly season needs two weeks of data to be considered.
    assert detect_periods(noisy(24 * 10), [24, 168]) == (24,)


def test_a_multi_seasonal_forecast_beats_the_naive_ones() -> None:
    n, horizon = 24 * 28, 48
    y = noisy(n + horizon)
    truth = pattern(n + horizon)[n:]

    result = forecast(y[:n], horizon, candidates=[24, 168, 8766])

    assert result.method == "mstl-arima"
    assert result.periods == (24, 168)
    assert not result.fallback
    error = np.mean(np.abs(result.mean - truth))
    yesterday = np.mean(np.abs(y[n - 24 : n].repeat(1)[np.arange(horizon) % 24] - truth))
    assert error < 0.5 * yesterday
    for level in (68.0, 95.0):
        lower, upper = result.bounds[level]
        assert np.all(lower < result.mean)
        assert np.all(result.mean < upper)
    assert np.all(
        result.bounds[95.0][1] - result.bounds[95.0][0]
        > result.bounds[68.0][1] - result.bounds[68.0][0]
    )
    covered = (y[n:] >= result.bounds[95.0][0]) & (y[n:] <= result.bounds[95.0][1])
    assert covered.mean() >= 0.85


def test_forecasts_are_deterministic() -> None:
    y = noisy(24 * 21)

    first = forecast(y, 24, candidates=[24, 168])
    second = forecast(y.copy(), 24, candidates=[24, 168])

    np.testing.assert_array_equal(first.mean, second.mean)
    np.testing.assert_array_equal(first.bounds[95.0][1], second.bounds[95.0][1])
    assert first.order == second.order


def test_a_trend_is_integrated_back() -> None:
    rng = np.random.default_rng(5)
    y = 100 + 0.5 * np.arange(400) + np.cumsum(rng.normal(0, 0.2, 400))

    fit = fit_arima(y)
    result = forecast(y, 20, periods=[])

    assert fit.d == 1
    assert fit.mean == pytest.approx(0.5, abs=0.05)
    assert result.method == "arima"
    np.testing.assert_allclose(np.diff(result.mean), 0.5, atol=0.1)
    assert abs(result.mean[0] - (y[-1] + 0.5)) < 1


def test_gappy_data_fall_back_to_a_flagged_weekly_naive() -> None:
    y = noisy(24 * 21)
    y[::3] = np.nan  # a third missing

    result = forecast(y, 48, candidates=[24, 168], step=HOUR)

    assert result.method == "weekly-naive"
    assert result.fallback
    assert result.missing_fraction == pytest.approx(1 / 3, abs=0.01)
    assert "weekly-naive fallback" in result.notes[0]
    lower, upper = result.bounds[68.0]
    assert np.all(lower <= result.mean)
    assert np.all(result.mean <= upper)
    assert np.isfinite(result.mean).all()


def test_short_gappy_data_fall_back_to_daily() -> None:
    y = noisy(24 * 4)
    y[::2] = np.nan

    assert forecast(y, 24, candidates=[24, 168], step=HOUR).method == "daily-naive"


def test_too_little_data_is_a_clear_error() -> None:
    with pytest.raises(NotEnoughData, match="12 readings"):
        forecast(np.arange(12.0), 5)
    with pytest.raises(ValueError, match="horizon"):
        forecast(np.arange(100.0), 0)
