"""A model run as charts: one per predicted measure, with its bands and the observations.

The ARIMA service (like DTBase's) writes a forecast of sensor measure `m` as the model
measures `Mean m`, `Upper Bound m` / `Lower Bound m` (the 68% interval) and
`Upper Bound 95% m` / `Lower Bound 95% m`. Each `Mean m` becomes a chart with those bands;
any other measure of the run is a plain line of its own chart. The observed readings of the
run's linked sensor measure join the chart of the same name (or the only chart).
Everything is put on one shared time axis (seconds), `None` where a series has no point.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dtbase.schemas.models import ModelMeasure, ModelValuePoint
from dtbase.schemas.sensors import Reading

MEAN = "Mean "
# (role, prefix of the model measure's name), in the order the chart draws them.
BANDS = (
    ("upper95", "Upper Bound 95% "),
    ("lower95", "Lower Bound 95% "),
    ("upper68", "Upper Bound "),
    ("lower68", "Lower Bound "),
)


@dataclass
class Series:
    label: str
    role: str  # mean, upper95, lower95, upper68, lower68, observed, line
    points: dict[float, float | None] = field(default_factory=dict)


@dataclass
class Chart:
    title: str
    series: list[Series] = field(default_factory=list)
    units: str | None = None

    @property
    def y_label(self) -> str:
        """The y axis: the measure and its units."""
        return f"{self.title} ({self.units})" if self.units else self.title

    def as_json(self) -> dict[str, Any]:
        """{title, y_label, x, series: [{label, role, values}]} for models.js and uPlot."""
        x = sorted({moment for series in self.series for moment in series.points})
        return {
            "title": self.title,
            "y_label": self.y_label,
            "x": x,
            "series": [
                {"label": s.label, "role": s.role, "values": [s.points.get(t) for t in x]}
                for s in self.series
            ],
        }

    @property
    def roles(self) -> set[str]:
        return {series.role for series in self.series}


def _seconds(moment: datetime) -> float:
    return moment.timestamp()


def _number(value: Any) -> float | None:
    """Numbers are plotted; strings and booleans are not numbers (shown as gaps)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _series(label: str, role: str, points: Sequence[ModelValuePoint]) -> Series:
    return Series(label, role, {_seconds(p.timestamp): _number(p.value) for p in points})


def run_charts(
    values: Mapping[str, Sequence[ModelValuePoint]], units: Mapping[str, str] | None = None
) -> list[Chart]:
    """The run's measures grouped into charts (see the module's docstring); `units` are
    the model measures' units by name, where a name has one."""
    units = units or {}
    used: set[str] = set()
    charts = []
    for name in sorted(values):
        if not name.startswith(MEAN):
            continue
        measure = name.removeprefix(MEAN)
        chart = Chart(measure, units=units.get(name))
        for role, prefix in BANDS:
            band = prefix + measure
            if band in values:
                level = "95%" if "95" in role else "68%"
                side = "upper" if role.startswith("upper") else "lower"
                chart.series.append(_series(f"{level} {side}", role, values[band]))
                used.add(band)
        chart.series.append(_series(f"Mean {measure}", "mean", values[name]))
        used.add(name)
        charts.append(chart)
    for name in sorted(set(values) - used):
        charts.append(Chart(name, [_series(name, "line", values[name])], units.get(name)))
    return charts


def add_observed(charts: Sequence[Chart], measure_name: str, readings: Sequence[Reading]) -> bool:
    """Put the sensor's readings on the chart of `measure_name` (or the only chart)."""
    target = next((c for c in charts if c.title == measure_name), None)
    if target is None and len(charts) == 1:
        target = charts[0]
    if target is None:
        return False
    points = {_seconds(r.timestamp): _number(r.value) for r in readings}
    target.series.append(Series(f"Observed {measure_name}", "observed", points))
    return True


def units_by_name(measures: Sequence[ModelMeasure]) -> dict[str, str]:
    """Each model measure's units by its name; a name in several units has none (the run's
    values name their measure only)."""
    found: dict[str, set[str]] = {}
    for measure in measures:
        found.setdefault(measure.name, set()).add(measure.units)
    return {name: next(iter(units)) for name, units in found.items() if len(units) == 1}


def time_span(values: Mapping[str, Sequence[ModelValuePoint]]) -> tuple[datetime, datetime] | None:
    """The first and last timestamp of the run's values."""
    moments = [p.timestamp for points in values.values() for p in points]
    return (min(moments), max(moments)) if moments else None
