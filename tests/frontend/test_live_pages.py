"""What the live pages tell their script (frontend/static/js/live.js): the query of the
events they show and the cursor to start from; and the home page's sections, fetched
again one by one."""

from __future__ import annotations

import html
import json
import re

from dtbase.client import Client
from dtbase.schemas.sensors import SensorMeasure
from dtbase.schemas.values import ValueDatatype
from tests.utils.visitors import Visitor

TEMPERATURE = SensorMeasure(name="temperature", units="C", datatype=ValueDatatype.float)


def _live(page: str) -> tuple[dict[str, list[str]], int]:
    query = re.search(r'data-live-query="([^"]*)"', page)
    cursor = re.search(r'data-live-from="(\d+)"', page)
    assert query is not None
    assert cursor is not None
    return json.loads(html.unescape(query.group(1))), int(cursor.group(1))


def test_the_home_page_follows_every_kind_from_the_newest_event(
    admin_visitor: Visitor, client: Client
) -> None:
    client.models.insert_model("forecast")
    [newest] = client.events.history({"kind": "model.created"}).events

    query, cursor = _live(admin_visitor.get("/home/index").text)

    assert cursor == newest.id
    assert "readings.stored" in query["kind"]
    assert "service_run.finished" in query["kind"]
    assert list(query) == ["kind"]


def test_the_time_series_page_follows_the_plotted_sensors_and_measures(
    admin_visitor: Visitor, client: Client
) -> None:
    client.sensors.insert_sensor_type("weather", [TEMPERATURE])
    for uid in ("w-1", "w-2", "w-3"):
        client.sensors.insert_sensor("weather", uid)

    page = admin_visitor.get("/timeseries/index?type=weather&sensors=w-1&sensors=w-3").text

    query, cursor = _live(page)
    assert query == {
        "kind": ["readings.stored"],
        "sensor": ["w-1", "w-3"],
        "measure": ["temperature"],
    }
    assert cursor == client.events.history().last_id
    assert 'data-testid="live-status"' in page


def test_a_time_series_page_without_a_chart_is_not_live(admin_visitor: Visitor) -> None:
    page = admin_visitor.get("/timeseries/index").text

    assert "data-live" not in page
    assert 'data-testid="live-status"' not in page


def test_each_home_section_comes_alone_as_the_page_shows_it(
    admin_visitor: Visitor, client: Client
) -> None:
    client.models.insert_model("forecast")
    home = admin_visitor.get("/home/index").text

    for name in ("counts", "latest", "model-runs", "service-runs"):
        section = admin_visitor.get(f"/home/section/{name}")
        assert section.status_code == 200
        assert f'data-section="{name}"' in section.text
        assert "<html" not in section.text
        assert section.text.strip() in home
    counts = admin_visitor.get("/home/section/counts").text
    assert re.search(r'count-models">\s*<div class="count-value">1<', counts)


def test_an_unknown_home_section_is_404(admin_visitor: Visitor) -> None:
    assert admin_visitor.get("/home/section/nothing").status_code == 404
