"""Series exactly two seasons long, in the fit or in a backtest, are forecast.

MSTL decomposes only seasons shorter than half its data (statsmodels drops the others,
and with none left fails with an UnboundLocalError); the full loop met it with 72 hourly
readings and a 24-hour horizon (a backtest of 48 points with a 24-hour season).
"""

from __future__ import annotations

import numpy as np
import pytest

from services.arima import forecast as arima


@pytest.mark.parametrize("length", [47, 48, 49, 72, 73, 96])
@pytest.mark.parametrize("horizon", [24, 25])
def test_series_of_about_two_or_three_days_are_forecast(length: int, horizon: int) -> None:
    hours = np.arange(length)
    rng = np.random.default_rng(length)
    series = 8 + 3 * np.sin(2 * np.pi * hours / 24) + 0.05 * hours + rng.normal(0, 0.3, length)

    auto = arima.forecast(series, horizon, candidates=[24, 168], periods=None, levels=(68, 95))
    fixed = arima.forecast(series, horizon, candidates=[24, 168], periods=[24], levels=(68, 95))

    for result in (auto, fixed):
        assert len(result.mean) == horizon
        assert np.all(np.isfinite(result.mean))
        low, high = result.bounds[95]
        assert np.all(low < result.mean)
        assert np.all(result.mean < high)
    if length <= 48:
        assert fixed.periods == ()
    else:
        assert fixed.periods == (24,)
