"""The models area: models, scenarios and measures listed; runs filtered; a run's plot data."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dtbase.client import Client
from dtbase.schemas.models import MeasureValues, SensorMeasureIdentifier
from dtbase.schemas.sensors import SensorMeasure
from dtbase.schemas.values import ValueDatatype
from frontend.models.charts import run_charts
from tests.utils.visitors import Visitor, text_of

PAGE = "/models/index"
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
RUN_DATA = re.compile(r'<script type="application/json" id="run-data">(.*?)</script>', re.S)
BAND_NAMES = (
    "Mean temperature",
    "Upper Bound temperature",
    "Lower Bound temperature",
    "Upper Bound 95% temperature",
    "Lower Bound 95% temperature",
)


def _values(name: str, start: datetime, hours: int, offset: float) -> MeasureValues:
    return MeasureValues(
        measure_name=name,
        values=[20.0 + offset + 0.1 * h for h in range(hours)],
        timestamps=[start + timedelta(hours=h) for h in range(hours)],
        units="degC",
    )


def insert_forecast(client: Client, *, sensor: str | None, created: datetime = NOW) -> int:
    """An Arima run with the five band measures (linked to `sensor` if given); its id."""
    existing = {m.name for m in client.models.list_models()}
    if "Arima" not in existing:
        client.models.insert_model("Arima")
        for name in BAND_NAMES:
            client.models.insert_model_measure(name, "degC", ValueDatatype.float)
    offsets = (0.0, 1.0, -1.0, 2.0, -2.0)
    client.models.insert_model_run(
        "Arima",
        "Business as usual",
        [_values(name, created, 6, off) for name, off in zip(BAND_NAMES, offsets, strict=True)],
        time_created=created,
        create_scenario=True,
        sensor_unique_id=sensor,
        sensor_measure=SensorMeasureIdentifier(name="temperature", units="degC")
        if sensor
        else None,
    )
    return max(
        run.id
        for run in client.models.list_model_runs("Arima", dt_from=created - timedelta(days=400))
    )


def insert_sensor_with_readings(client: Client, sensor: str, start: datetime, hours: int) -> None:
    measure = SensorMeasure(name="temperature", units="degC", datatype=ValueDatatype.float)
    client.sensors.insert_sensor_type("thermometer", [measure])
    client.sensors.insert_sensor("thermometer", sensor)
    client.sensors.insert_sensor_readings(
        "temperature",
        sensor,
        [19.0 + h for h in range(hours)],
        [start + timedelta(hours=h) for h in range(hours)],
        measure_units="degC",
    )


def run_data(page_text: str) -> list[dict[str, Any]]:
    found = RUN_DATA.search(page_text)
    assert found, "no run data on the page"
    data: list[dict[str, Any]] = json.loads(found.group(1))
    return data


def test_empty_page_says_where_models_come_from(admin_visitor: Visitor) -> None:
    page = admin_visitor.get(PAGE)

    assert page.status_code == 200
    assert 'data-testid="no-models"' in page.text


def test_page_lists_models_scenarios_measures_and_runs(
    admin_visitor: Visitor, client: Client
) -> None:
    run_id = insert_forecast(client, sensor=None)
    client.models.insert_model("Other")
    client.models.insert_model_scenario("Other", "Heatwave")

    page = admin_visitor.get(PAGE)

    assert page.status_code == 200
    assert "<li>Arima</li>" in page.text
    assert "<li>Other</li>" in page.text
    assert "<td>Heatwave</td>" in page.text
    assert "<td>Upper Bound 95% temperature</td>" in text_of(page)
    assert f'href="/models/run/{run_id}"' in page.text


def test_runs_filtered_by_scenario_and_date(admin_visitor: Visitor, client: Client) -> None:
    old = insert_forecast(client, sensor=None, created=NOW - timedelta(days=30))
    new = insert_forecast(client, sensor=None)
    client.models.insert_model_scenario("Arima", "Cold snap")
    day = (NOW - timedelta(days=30)).date().isoformat()

    by_date = admin_visitor.get(f"{PAGE}?model=Arima&dt_from={day}&dt_to={day}")
    by_scenario = admin_visitor.get(f"{PAGE}?model=Arima&scenario=Cold+snap")
    default = admin_visitor.get(f"{PAGE}?model=Arima")

    assert f'data-run="{old}"' in by_date.text
    assert f'data-run="{new}"' not in by_date.text
    assert "data-run=" not in by_scenario.text
    assert "No runs of Arima match." in by_scenario.text
    assert f'data-run="{new}"' in default.text
    assert f'data-run="{old}"' not in default.text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("dt_from=yesterday", "From: 'yesterday' is not a date (YYYY-MM-DD)."),
        ("dt_from=2024-02-02&dt_to=2024-02-01", "the first day comes after the last one"),
    ],
)
def test_bad_filter_is_a_400_with_a_reason(
    admin_visitor: Visitor, client: Client, query: str, message: str
) -> None:
    insert_forecast(client, sensor=None)

    page = admin_visitor.get(f"{PAGE}?{query}")

    assert page.status_code == 400
    assert message in text_of(page)


def test_unknown_model_has_no_runs(admin_visitor: Visitor, client: Client) -> None:
    insert_forecast(client, sensor=None)

    page = admin_visitor.get(f"{PAGE}?model=Nothing")

    assert page.status_code == 200
    assert "No runs of Nothing match." in page.text


def test_run_page_has_mean_bands_and_observed_readings(
    admin_visitor: Visitor, client: Client
) -> None:
    insert_sensor_with_readings(client, "thermo-1", NOW - timedelta(hours=8), 14)
    run_id = insert_forecast(client, sensor="thermo-1")

    page = admin_visitor.get(f"/models/run/{run_id}")

    assert page.status_code == 200
    assert "/vendor/uplot/dist/uPlot.iife.min.js" in page.text
    assert "/static/js/models.js" in page.text
    assert "<script>" not in page.text  # the data is JSON, not a script the CSP would refuse
    (chart,) = run_data(page.text)
    series = {s["label"]: s for s in chart["series"]}
    assert list(series) == [
        "95% upper",
        "95% lower",
        "68% upper",
        "68% lower",
        "Mean temperature",
        "Observed temperature",
    ]
    assert [s["role"] for s in series.values()] == [
        "upper95",
        "lower95",
        "upper68",
        "lower68",
        "mean",
        "observed",
    ]
    x = chart["x"]
    assert isinstance(x, list)
    # The run's 5 hours, and as long before them: readings from 5 hours before the run.
    assert x[0] == (NOW - timedelta(hours=5)).timestamp()
    assert x[-1] == (NOW + timedelta(hours=5)).timestamp()
    mean = series["Mean temperature"]["values"]
    assert [v for v in mean if v is not None] == pytest.approx([20.0 + 0.1 * h for h in range(6)])
    observed = series["Observed temperature"]["values"]
    assert [v for v in observed if v is not None] == [19.0 + h for h in range(3, 14)]
    assert 'data-testid="observed-note"' not in page.text
    assert chart["y_label"] == "temperature (degC)"  # the y axis: measure and units


def test_run_without_a_sensor_still_displays(admin_visitor: Visitor, client: Client) -> None:
    run_id = insert_forecast(client, sensor=None)

    page = admin_visitor.get(f"/models/run/{run_id}")

    assert page.status_code == 200
    assert "This run is not linked to a sensor" in page.text
    (chart,) = run_data(page.text)
    labels = [s["label"] for s in chart["series"]]
    assert "Mean temperature" in labels
    assert "Observed temperature" not in labels


def test_missing_run_is_a_404_page_with_the_backends_reason(admin_visitor: Visitor) -> None:
    page = admin_visitor.get("/models/run/999")

    # The API answers DTBase's 400; to the page, a run that does not exist is not found.
    assert page.status_code == 404
    assert 'class="error-detail"' in page.text
    assert "No such model run" in text_of(page)


def test_measures_without_bands_each_get_a_chart() -> None:
    from dtbase.schemas.models import ModelValuePoint

    point = ModelValuePoint(value=1.5, timestamp=NOW)
    text = ModelValuePoint(value="high", timestamp=NOW)
    charts = run_charts(
        {"Mean x": [point], "Upper Bound x": [point], "flow": [point], "state": [text]}
    )

    assert [c.title for c in charts] == ["x", "flow", "state"]
    assert [c.y_label for c in charts] == ["x", "flow", "state"]  # units unknown
    assert [s.role for s in charts[0].series] == ["upper68", "mean"]
    assert charts[2].as_json()["series"][0]["values"] == [None]  # a string is not plotted


def test_a_chart_names_the_units_of_its_measure() -> None:
    from dtbase.schemas.models import ModelMeasure, ModelValuePoint
    from frontend.models.charts import units_by_name

    point = ModelValuePoint(value=1.5, timestamp=NOW)
    measures = [
        ModelMeasure(name="Mean x", units="m/s", datatype=ValueDatatype.float),
        ModelMeasure(name="flow", units="l", datatype=ValueDatatype.float),
        ModelMeasure(name="flow", units="m3", datatype=ValueDatatype.float),
    ]

    charts = run_charts({"Mean x": [point], "flow": [point]}, units_by_name(measures))

    # "flow" exists in two units and the run does not say which: no units shown.
    assert [c.as_json()["y_label"] for c in charts] == ["x (m/s)", "flow"]
