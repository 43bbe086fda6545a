"""The upload pages against the real backend: templates, uploads with and without the
page's script, per-line errors, skipped bad lines, dry runs, roles and size limits."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from dtbase.client import Client
from dtbase.core.settings import DEFAULT_USER_EMAIL
from dtbase.schemas.sensors import SensorMeasure
from dtbase.schemas.users import Role
from dtbase.schemas.values import ValueDatatype
from frontend import create_app
from tests.utils.settings import DEFAULT_PASSWORD
from tests.utils.visitors import Visitor, VisitorFactory, csrf_token, frontend_settings, text_of

MEASURES = [
    SensorMeasure(name="temperature", units="C", datatype=ValueDatatype.float),
    SensorMeasure(name="door", units=None, datatype=ValueDatatype.boolean),
]
TEMPERATURE = '["temperature", "C"]'
SERIES_HEADER = "sensor_unique_identifier,measure_name,measure_units,timestamp,value"
FRAGMENT = {"X-Requested-With": "XMLHttpRequest"}


@pytest.fixture
def station(client: Client) -> Client:
    client.sensors.insert_sensor_type("station", MEASURES)
    client.sensors.insert_sensor("station", "s-1")
    client.sensors.insert_sensor("station", "s-2")
    return client


def _upload(
    visitor: Visitor,
    content: str | bytes,
    *,
    page: str = "/uploads/sensor/s-1",
    headers: dict[str, str] | None = None,
    **fields: str,
) -> TestResponse:
    """Send the page's form with `content` as the file, as a browser would."""
    data: dict[str, Any] = {"csrf_token": csrf_token(visitor.get(page, follow=True)), **fields}
    if page.startswith("/uploads/sensor/"):
        data.setdefault("sensor", page.removeprefix("/uploads/sensor/"))
        data.setdefault("measure", TEMPERATURE)
    raw = content.encode() if isinstance(content, str) else content
    data["file"] = (io.BytesIO(raw), "readings.csv", "text/csv")
    return visitor.client.post(
        "/uploads/upload",
        data=data,
        content_type="multipart/form-data",
        headers={"Referer": f"http://localhost{page}", **(headers or {})},
    )


def _temperatures(client: Client, uid: str = "s-1") -> list[tuple[datetime, Any]]:
    readings = client.sensors.sensor_readings(
        "temperature",
        uid,
        datetime(2000, 1, 1, tzinfo=UTC),
        datetime(2100, 1, 1, tzinfo=UTC),
    )
    return [(reading.timestamp, reading.value) for reading in readings]


def test_the_sensor_page_offers_a_template_per_measure(
    admin_visitor: Visitor, station: Client
) -> None:
    page = text_of(admin_visitor.get("/uploads/sensor/s-1"))

    assert "Upload readings of s-1" in page
    assert 'enctype="multipart/form-data"' in page
    assert "temperature (C)" in page
    template = admin_visitor.get("/uploads/template.csv?sensor=s-1&measure=" + TEMPERATURE)
    assert template.status_code == 200
    assert template.mimetype == "text/csv"
    assert 'filename="s-1-temperature-template-' in template.headers["Content-Disposition"]
    assert template.text.splitlines()[0] == "timestamp,value"
    door = admin_visitor.get('/uploads/template.csv?sensor=s-1&measure=["door", null]').text
    assert door.splitlines()[1:] == ["2024-01-01T00:00:00Z,true", "2024-01-01T00:10:00Z,false"]


@pytest.mark.parametrize(
    "query",
    ["sensor=nope&measure=" + TEMPERATURE, 'sensor=s-1&measure=["wind", null]', "sensor=s-1"],
)
def test_a_template_of_nothing_is_404(admin_visitor: Visitor, station: Client, query: str) -> None:
    assert admin_visitor.get(f"/uploads/template.csv?{query}").status_code == 404


def test_a_template_uploads_as_it_is(admin_visitor: Visitor, station: Client) -> None:
    template = admin_visitor.get("/uploads/template.csv?sensor=s-1&measure=" + TEMPERATURE)

    response = _upload(admin_visitor, template.data)

    assert response.status_code == 201, text_of(response)
    assert len(_temperatures(station)) == 2


def test_the_many_sensors_template_names_the_real_sensors_and_measures(
    admin_visitor: Visitor, station: Client
) -> None:
    rows = list(csv.reader(io.StringIO(admin_visitor.get("/uploads/template.csv").text)))

    assert rows[0] == SERIES_HEADER.split(",")
    assert {(row[0], row[1], row[2]) for row in rows[1:]} == {
        (uid, measure, units)
        for uid in ("s-1", "s-2")
        for measure, units in (("temperature", "C"), ("door", ""))
    }
    template = admin_visitor.get("/uploads/template.csv").data
    response = _upload(admin_visitor, template, page="/uploads/index")
    assert response.status_code == 201, text_of(response)
    assert len(_temperatures(station, "s-2")) == 1


def test_an_upload_without_script_shows_the_report_and_a_plot_link(
    admin_visitor: Visitor, station: Client
) -> None:
    content = "timestamp,value\n2024-03-01T10:00:00Z,20.5\n2024-03-01T10:05:30Z,21\n"

    response = _upload(admin_visitor, content)

    assert response.status_code == 201
    page = text_of(response)
    assert "<html" in page
    assert 'data-count="stored">2<' in page
    assert (
        "/timeseries/index?type=station&amp;sensors=s-1&amp;from=2024-03-01T10:00&amp;to=2024-03-01T10:06"
        in response.text
    )
    assert _temperatures(station) == [
        (datetime(2024, 3, 1, 10, tzinfo=UTC), 20.5),
        (datetime(2024, 3, 1, 10, 5, 30, tzinfo=UTC), 21.0),
    ]


def test_the_page_script_gets_the_answer_alone(admin_visitor: Visitor, station: Client) -> None:
    response = _upload(admin_visitor, "2024-03-01T10:00:00Z,20.5\n", headers=FRAGMENT)

    assert response.status_code == 201
    assert "<html" not in response.text
    assert 'data-testid="upload-result"' in response.text


def test_bad_lines_are_all_listed_and_nothing_is_stored(
    admin_visitor: Visitor, station: Client
) -> None:
    content = "timestamp,value\n2024-03-01T10:00:00Z,warm\n2024-03-01T10:01:00Z,1\nsoon,2\n"

    response = _upload(admin_visitor, content, headers=FRAGMENT)

    assert response.status_code == 422
    page = text_of(response)
    assert "Nothing was stored" in page
    assert "2 problems" in page
    assert "line 2, column 2 (value): expected a number, got 'warm'" in page
    assert "line 4, column 1 (timestamp): expected a timestamp" in page
    assert _temperatures(station) == []


def test_skip_bad_lines_stores_the_good_ones_and_says_which_were_left_out(
    admin_visitor: Visitor, station: Client
) -> None:
    station.sensors.insert_sensor_readings(
        "temperature", "s-1", [5.0], [datetime(2024, 3, 1, 9, tzinfo=UTC)]
    )
    content = (
        "2024-03-01T09:00:00Z,5\n"  # already there
        "2024-03-01T10:00:00Z,warm\n"  # rejected
        "2024-03-01T10:01:00Z,1\n"  # stored
    )

    response = _upload(admin_visitor, content, skip_bad_lines="y", headers=FRAGMENT)

    assert response.status_code == 201
    page = text_of(response)
    for name, count in (("lines", 3), ("stored", 1), ("already_stored", 1), ("rejected", 1)):
        assert f'data-count="{name}">{count}<' in page
    assert "expected a number, got 'warm'" in page
    assert _temperatures(station) == [
        (datetime(2024, 3, 1, 9, tzinfo=UTC), 5.0),
        (datetime(2024, 3, 1, 10, 1, tzinfo=UTC), 1.0),
    ]


def test_a_check_only_stores_nothing(admin_visitor: Visitor, station: Client) -> None:
    response = _upload(admin_visitor, "2024-03-01T10:00:00Z,1\n", dry_run="y", headers=FRAGMENT)

    assert response.status_code == 200
    assert "Checked: nothing stored" in text_of(response)
    assert 'data-count="stored">1<' in response.text
    assert _temperatures(station) == []


def test_a_check_of_a_bad_file_says_the_upload_would_store_nothing(
    admin_visitor: Visitor, station: Client
) -> None:
    content = "2024-03-01T10:00:00Z,1\n2024-03-01T10:01:00Z,warm\n"

    response = _upload(admin_visitor, content, dry_run="y", headers=FRAGMENT)

    assert response.status_code == 200
    page = text_of(response)
    assert "An upload would store nothing: 1 bad line;" in page
    assert "line 2, column 2 (value): expected a number, got 'warm'" in page
    assert _temperatures(station) == []


def test_a_file_of_another_layout_on_the_many_sensors_page_names_the_problem(
    admin_visitor: Visitor, station: Client
) -> None:
    response = _upload(admin_visitor, "2024-03-01T10:00:00Z,1\n", page="/uploads/index")

    assert response.status_code == 422
    assert "needs unique_identifier and measure_name" in text_of(response)


def test_an_unknown_sensor_in_the_file_is_a_400_naming_its_line(
    admin_visitor: Visitor, station: Client
) -> None:
    content = f"{SERIES_HEADER}\nnope,temperature,C,2024-03-01T10:00:00Z,1\n"

    response = _upload(admin_visitor, content, page="/uploads/index", headers=FRAGMENT)

    assert response.status_code == 400
    assert "line 2: Sensor does not exist" in text_of(response)


def test_no_file_is_a_400_saying_so(admin_visitor: Visitor, station: Client) -> None:
    token = csrf_token(admin_visitor.get("/uploads/index"))
    response = admin_visitor.client.post("/uploads/upload", data={"csrf_token": token})

    assert response.status_code == 400
    assert "Choose a CSV file to upload." in text_of(response)


def test_a_measure_the_sensor_lacks_is_a_400(admin_visitor: Visitor, station: Client) -> None:
    response = _upload(admin_visitor, "2024-03-01T10:00:00Z,1\n", measure='["wind", null]')

    assert response.status_code == 400
    assert "has no such measure" in text_of(response)
    assert _temperatures(station) == []


def test_an_unknown_sensor_page_is_404(admin_visitor: Visitor, station: Client) -> None:
    assert admin_visitor.get("/uploads/sensor/nope").status_code == 404


def test_viewers_see_no_upload_control_and_cannot_post(
    visitor_factory: VisitorFactory, station: Client
) -> None:
    viewer = visitor_factory(Role.viewer)

    sensor_page = viewer.get("/sensors/sensor/s-1").text
    upload_page = viewer.get("/uploads/sensor/s-1").text

    assert "/uploads/" not in sensor_page
    assert 'data-testid="no-upload"' in upload_page
    assert 'enctype="multipart/form-data"' not in upload_page
    assert ">Upload<" not in upload_page.replace(" ", "").replace("\n", "")
    token = csrf_token(viewer.get("/uploads/index"))
    data = {
        "csrf_token": token,
        "sensor": "s-1",
        "measure": TEMPERATURE,
        "file": (io.BytesIO(b"2024-03-01T10:00:00Z,1\n"), "r.csv"),
    }
    assert viewer.client.post("/uploads/upload", data=data).status_code == 403
    assert _temperatures(station) == []


def test_users_see_the_upload_link_and_nav_item(
    visitor_factory: VisitorFactory, station: Client
) -> None:
    user = visitor_factory(Role.user)

    page = user.get("/sensors/sensor/s-1").text

    assert 'href="/uploads/sensor/s-1"' in page
    assert 'href="/uploads/index"' in page
    assert _upload(user, "2024-03-01T10:00:00Z,1\n").status_code == 201


def test_a_file_over_the_limit_is_413_and_stores_nothing(
    live_backend: str, clean_database: None, station: Client
) -> None:
    app: Flask = create_app(frontend_settings(live_backend, max_upload_mb=1))
    app.config["TESTING"] = True
    with app.test_client() as client:
        visitor = Visitor(client)
        visitor.login(DEFAULT_USER_EMAIL, DEFAULT_PASSWORD)
        assert 'data-max-bytes="1048576"' in visitor.get("/uploads/sensor/s-1").text
        line = "2024-03-01T10:00:00Z,1\n"
        response = _upload(visitor, line * (2 * 1024 * 1024 // len(line)))

    assert response.status_code == 413
    assert _temperatures(station) == []


def test_markup_in_a_bad_line_comes_back_escaped(admin_visitor: Visitor, station: Client) -> None:
    """The page's script puts the answer in with innerHTML: the template must escape it."""
    content = '2024-03-01T10:00:00Z,"<img src=x onerror=alert(1)>"\n<script>alert(2)</script>,1\n'

    response = _upload(admin_visitor, content, skip_bad_lines="y", headers=FRAGMENT)

    assert response.status_code == 422
    assert "<img" not in response.text
    assert "<script" not in response.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in response.text
    assert _temperatures(station) == []
