"""The readings table: chosen by type, sensor, measure and range; paginated; CSV."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from dtbase.client import Client
from dtbase.schemas.sensors import SensorMeasure
from dtbase.schemas.values import ValueDatatype
from frontend.readings.routes import PAGE_SIZE
from tests.utils.visitors import Visitor, text_of

START = datetime(2024, 3, 1, tzinfo=UTC)
MEASURES = {
    "temperature": SensorMeasure(name="temperature", units="C", datatype=ValueDatatype.float),
    "sky": SensorMeasure(name="sky", units=None, datatype=ValueDatatype.string),
    "door": SensorMeasure(name="door", units=None, datatype=ValueDatatype.boolean),
    "visits": SensorMeasure(name="visits", units=None, datatype=ValueDatatype.integer),
}


def _station(client: Client) -> None:
    client.sensors.insert_sensor_type("station", list(MEASURES.values()))
    client.sensors.insert_sensor("station", "s-1")


def _url(path: str, measure: str, **extra: str) -> str:
    units = MEASURES[measure].units
    key = f'["{measure}", "{units}"]' if units else f'["{measure}", null]'
    args = {
        "type": "station",
        "sensor": "s-1",
        "measure": key,
        "from": "2024-03-01T00:00",
        "to": "2024-03-02T00:00",
    }
    return f"{path}?{urlencode(args | extra)}"


def _cells(page: str) -> list[tuple[str, str, str]]:
    return re.findall(r'<td class="time">([^<]+)</td>\s*<td class="value-(\w+)">([^<]*)</td>', page)


def test_choosing_a_type_offers_its_sensors_and_measures(
    admin_visitor: Visitor, client: Client
) -> None:
    _station(client)

    page = admin_visitor.get("/readings/index?type=station").text

    assert '<option value="s-1"' in page
    assert "visits" in page
    assert "temperature (C)" in page
    assert 'data-testid="readings-table"' not in page  # no measure chosen yet


def test_every_datatype_is_shown_as_itself(admin_visitor: Visitor, client: Client) -> None:
    _station(client)
    times = [START + timedelta(hours=1), START + timedelta(hours=2)]
    client.sensors.insert_sensor_readings("temperature", "s-1", [21.5, 3.0], times)
    client.sensors.insert_sensor_readings("sky", "s-1", ["cloudy", "0.00"], times)
    client.sensors.insert_sensor_readings("door", "s-1", [True, False], times)
    client.sensors.insert_sensor_readings("visits", "s-1", [7, 0], times)

    shown = {
        measure: _cells(admin_visitor.get(_url("/readings/index", measure)).text)
        for measure in MEASURES
    }

    assert shown["temperature"] == [
        ("2024-03-01 01:00:00", "number", "21.5"),
        ("2024-03-01 02:00:00", "number", "3.0"),
    ]
    assert [c[1:] for c in shown["sky"]] == [("string", "cloudy"), ("string", "0.00")]
    assert [c[1:] for c in shown["door"]] == [("boolean", "true"), ("boolean", "false")]
    assert [c[1:] for c in shown["visits"]] == [("number", "7"), ("number", "0")]


def test_pages_of_readings(admin_visitor: Visitor, client: Client) -> None:
    _station(client)
    count = PAGE_SIZE + 20
    times = [START + timedelta(minutes=n) for n in range(count)]
    client.sensors.insert_sensor_readings("visits", "s-1", list(range(count)), times)

    first = admin_visitor.get(_url("/readings/index", "visits")).text
    second = admin_visitor.get(_url("/readings/index", "visits", page="2")).text

    assert [int(v) for _, _, v in _cells(first)] == list(range(PAGE_SIZE))
    assert [int(v) for _, _, v in _cells(second)] == list(range(PAGE_SIZE, count))
    assert f"Readings 1 to {PAGE_SIZE} of {count}" in html.unescape(first)
    assert 'rel="next"' in first
    assert 'rel="next"' not in second


def test_csv_download_has_every_reading_of_the_range(
    admin_visitor: Visitor, client: Client
) -> None:
    _station(client)
    times = [START + timedelta(minutes=n) for n in range(3)]
    client.sensors.insert_sensor_readings("sky", "s-1", ["clear", "a, b", 'say "hi"'], times)
    client.sensors.insert_sensor_readings("sky", "s-1", ["later"], [START + timedelta(days=3)])

    response = admin_visitor.get(_url("/readings/download.csv", "sky"))

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert 'filename="s-1_sky.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows == [
        ["timestamp", "value"],
        ["2024-03-01T00:00:00Z", "clear"],
        ["2024-03-01T00:01:00Z", "a, b"],
        ["2024-03-01T00:02:00Z", 'say "hi"'],
    ]


def test_bad_choices_are_flashes(admin_visitor: Visitor, client: Client) -> None:
    _station(client)

    unknown = admin_visitor.get("/readings/index?type=nothing", follow=True)
    backwards = admin_visitor.get(
        _url("/readings/index", "sky", **{"from": "2024-03-02T00:00", "to": "2024-03-01T00:00"}),
        follow=True,
    )
    bad_time = admin_visitor.get(_url("/readings/index", "sky", to="yesterday"), follow=True)
    no_sensor = admin_visitor.get("/readings/download.csv?type=station", follow=True)

    assert "There is no sensor type called nothing." in text_of(unknown)
    assert "From must be before To." in text_of(backwards)
    assert "To: 'yesterday' is not a date and time." in text_of(bad_time)
    assert "Choose a sensor and a measure to download." in text_of(no_sensor)
    for response in (unknown, backwards, bad_time, no_sensor):
        assert response.status_code == 200


def test_all_measures_as_columns_and_their_csv(admin_visitor: Visitor, client: Client) -> None:
    _station(client)
    times = [START + timedelta(hours=1), START + timedelta(hours=2)]
    client.sensors.insert_sensor_readings("temperature", "s-1", [21.5, 18.71], times)
    client.sensors.insert_sensor_readings("door", "s-1", [True], times[1:])
    args = {
        "type": "station",
        "sensor": "s-1",
        "from": "2024-03-01T00:00",
        "to": "2024-03-02T00:00",
    }

    page = admin_visitor.get(f"/readings/index?{urlencode(args)}").text
    response = admin_visitor.get(f"/readings/download.csv?{urlencode(args)}")

    headings = re.findall(r'<th scope="col">([^<]+)</th>', page)
    assert headings == ["temperature (C)", "sky", "door", "visits"]
    assert 'data-testid="page-count">Page 1 of 1<' in page
    assert 'filename="s-1.csv"' in response.headers["Content-Disposition"]
    assert list(csv.reader(io.StringIO(response.text))) == [
        ["timestamp", "temperature (C)", "sky", "door", "visits"],
        ["2024-03-01T01:00:00Z", "21.5", "", "", ""],
        ["2024-03-01T02:00:00Z", "18.71", "", "true", ""],
    ]


def test_a_page_past_the_last_is_a_404_linking_the_last(
    admin_visitor: Visitor, client: Client
) -> None:
    _station(client)
    count = PAGE_SIZE + 20
    times = [START + timedelta(minutes=n) for n in range(count)]
    client.sensors.insert_sensor_readings("visits", "s-1", list(range(count)), times)

    response = admin_visitor.get(_url("/readings/index", "visits", page="7"))

    assert response.status_code == 404
    text = html.unescape(response.text)
    words = " ".join(re.sub(r"<[^>]+>", " ", text).split())
    assert "There is no page 7: the last page is page 2 ." in words
    assert re.search(r'href="/readings/index\?page=2&[^"]*"[^>]*data-testid="last-page-link"', text)
    assert _cells(response.text) == []
    for far in ("10000000000000000000000000", "-3", "two"):
        answer = admin_visitor.get(_url("/readings/index", "visits", page=far))
        assert answer.status_code == (404 if far.isdigit() else 200)
        assert ("There is no page" in answer.text) == far.isdigit()
