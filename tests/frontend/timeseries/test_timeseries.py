"""The time-series page and its JSON endpoint (the charts themselves: tests/browser)."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from dtbase.client import Client
from dtbase.schemas.sensors import SensorMeasure
from dtbase.schemas.values import ValueDatatype
from frontend.timeseries.routes import FIRST_TICKED
from tests.utils.visitors import Visitor, text_of

START = datetime(2024, 3, 1, tzinfo=UTC)
TEMPERATURE = '["temperature", "C"]'
DOOR = '["door", null]'


def _station(client: Client) -> None:
    client.sensors.insert_sensor_type(
        "station",
        [
            SensorMeasure(name="temperature", units="C", datatype=ValueDatatype.float),
            SensorMeasure(name="door", units=None, datatype=ValueDatatype.boolean),
        ],
    )
    for identifier in ("s-1", "s-2"):
        client.sensors.insert_sensor("station", identifier)


def _data_url(
    measure: str = TEMPERATURE, sensors: tuple[str, ...] = ("s-1", "s-2"), **extra: str
) -> str:
    args = [
        ("type", "station"),
        ("measure", measure),
        ("from", "2024-03-01T00:00:00Z"),
        ("to", "2024-03-02T00:00:00Z"),
    ] + [("sensor", s) for s in sensors]
    return f"/timeseries/data?{urlencode(args + list(extra.items()))}"


def test_page_has_one_chart_per_measure(admin_visitor: Visitor, client: Client) -> None:
    _station(client)
    args = urlencode(
        [
            ("type", "station"),
            ("sensors", "s-1"),
            ("sensors", "s-2"),
            ("measures", TEMPERATURE),
            ("measures", DOOR),
            ("from", "2024-03-01T00:00"),
            ("to", "2024-03-02T00:00"),
        ]
    )

    page = admin_visitor.get(f"/timeseries/index?{args}")

    assert page.status_code == 200
    text = html.unescape(page.text)
    assert text.count("data-chart\n") == 2
    assert 'data-datatype="float"' in text
    assert 'data-datatype="boolean"' in text
    assert 'data-sensors="["s-1", "s-2"]"' in text
    assert 'data-from="2024-03-01T00:00:00+00:00"' in text
    assert "/vendor/uplot/dist/uPlot.iife.min.js" in text
    assert "as steps between false and true" in text


def test_page_without_sensors_asks_for_them(admin_visitor: Visitor, client: Client) -> None:
    _station(client)

    query = urlencode({"type": "station", "measures": TEMPERATURE})
    page = admin_visitor.get(f"/timeseries/index?{query}").text

    assert "Choose one or more sensors to plot." in page
    assert "data-chart" not in page


def test_a_type_just_chosen_plots_its_first_sensors(admin_visitor: Visitor, client: Client) -> None:
    _station(client)
    for number in range(3, 9):
        client.sensors.insert_sensor("station", f"s-{number}")

    page = html.unescape(admin_visitor.get("/timeseries/index?type=station").text)

    first = [f"s-{number}" for number in range(1, FIRST_TICKED + 1)]
    assert f'data-sensors="{json.dumps(first)}"' in page
    ticked = re.findall(r'name="sensors" value="([^"]+)" checked', page)
    assert ticked == first


def test_unknown_sensor_is_a_flash(admin_visitor: Visitor, client: Client) -> None:
    _station(client)

    response = admin_visitor.get("/timeseries/index?type=station&sensors=ghost", follow=True)

    assert response.request.path == "/timeseries/index"
    assert "The type station has no sensor ghost." in text_of(response)


def test_data_gives_columns_per_sensor(admin_visitor: Visitor, client: Client) -> None:
    _station(client)
    times = [START + timedelta(minutes=n) for n in range(5)]
    client.sensors.insert_sensor_readings("temperature", "s-1", [1.5, 2, 3, 4, 5], times)
    client.sensors.insert_sensor_readings("temperature", "s-2", [10.0], [times[2]])

    answer = admin_visitor.get(_data_url()).get_json()

    assert answer["measure"] == {"name": "temperature", "units": "C", "datatype": "float"}
    one, two = answer["series"]
    assert one["sensor"] == "s-1"
    assert one["t"] == [t.timestamp() for t in times]
    assert one["time"] == [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in times]
    assert one["value"] == [1.5, 2.0, 3.0, 4.0, 5.0]
    assert (two["sensor"], two["value"]) == ("s-2", [10.0])
    assert answer["downsampled"] is False


def test_booleans_stay_booleans(admin_visitor: Visitor, client: Client) -> None:
    _station(client)
    client.sensors.insert_sensor_readings(
        "door", "s-1", [True, False], [START, START + timedelta(hours=1)]
    )

    answer = admin_visitor.get(_data_url(DOOR, ("s-1",))).get_json()

    assert answer["series"][0]["value"] == [True, False]


def test_many_readings_come_back_as_at_most_the_points_asked_or_raw(
    admin_visitor: Visitor, client: Client
) -> None:
    _station(client)
    times = [START + timedelta(seconds=30 * n) for n in range(2000)]
    client.sensors.insert_sensor_readings(
        "temperature", "s-1", [float(n) for n in range(2000)], times
    )

    answer = admin_visitor.get(_data_url(sensors=("s-1",), points="100")).get_json()

    [series] = answer["series"]
    if series["downsampled"]:  # the backend downsamples
        assert len(series["t"]) <= 100
        assert sum(series["count"]) == 2000
        assert min(series["min"]) == 0.0
        assert max(series["max"]) == 1999.0
    else:  # a backend without downsampling: the raw readings
        assert series["value"] == [float(n) for n in range(2000)]


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        ("/timeseries/data?measure=x", "Choose a sensor type."),
        (_data_url('["pressure", "hPa"]'), "The type station has no such measure."),
        (_data_url(sensors=()), "Choose at least one sensor."),
        (_data_url(points="1"), "points must be from 2 to 10000."),
        (
            "/timeseries/data?"
            + urlencode(
                {
                    "type": "station",
                    "measure": TEMPERATURE,
                    "sensor": "s-1",
                    "from": "2024-03-02",
                    "to": "2024-03-01",
                }
            ),
            "Give from and to, from before to.",
        ),
        (_data_url().replace("2024-03-02T00", "tomorrow"), "is not a date and time"),
    ],
)
def test_bad_data_requests_are_400_with_a_detail(
    admin_visitor: Visitor, client: Client, url: str, detail: str
) -> None:
    _station(client)

    response = admin_visitor.get(url)

    assert response.status_code == 400
    assert detail in response.get_json()["detail"]


def test_script_is_served(admin_visitor: Visitor) -> None:
    response = admin_visitor.get("/static/js/timeseries.js")

    assert response.status_code == 200
    assert b"uPlot" in response.data
