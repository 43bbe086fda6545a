"""Schedules on a service's page: listed with their next run, created (cron or interval,
parameter set or JSON parameters), enabled, disabled and deleted; refusals are flashes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dtbase.client import Client
from dtbase.schemas.services import Schedule
from dtbase.schemas.users import Role
from frontend.services.forms import describe_interval
from tests.utils.service_pages import ECHO_PAGE, row_of
from tests.utils.visitors import Visitor, VisitorFactory, text_of

PAGE = ECHO_PAGE
CREATE = "/services/schedules/create"


def _schedules(client: Client) -> dict[str, Schedule]:
    return {s.name: s for s in client.services.list_schedules("echo")}


def _new(**fields: str) -> dict[str, str]:
    """A create form as the browser sends it: every field, `enabled` ticked."""
    return {
        "service": "echo",
        "name": "",
        "cron": "",
        "interval_seconds": "",
        "start_at": "",
        "time_zone": "UTC",
        "parameter_set": "",
        "parameters": "",
        "enabled": "y",
    } | fields


def _row(page: str, name: str) -> str:
    return row_of(page, "schedule", name)


def test_page_lists_schedules_with_their_next_run(admin_visitor: Visitor, echo: Client) -> None:
    echo.services.insert_schedule(
        "echo", "morning", cron="0 6 * * *", time_zone="Europe/London", parameter_set_name="daily"
    )
    echo.services.insert_schedule(
        "echo",
        "often",
        interval_seconds=600,
        parameters={"n": 1},
        start_at=datetime(2030, 1, 1, 0, 2, tzinfo=UTC),
    )
    echo.services.insert_schedule("echo", "paused", interval_seconds=7, enabled=False)

    page = text_of(admin_visitor.get(PAGE))

    morning, often, paused = (_row(page, name) for name in ("morning", "often", "paused"))
    assert "<code>0 6 * * *</code>" in morning
    assert "Europe/London" in morning
    assert "parameter set <strong>daily</strong>" in morning
    next_run = _schedules(echo)["morning"].next_run_at
    assert next_run is not None
    assert next_run.strftime("%Y-%m-%d %H:%M:%S") in morning
    assert ">enabled<" in morning
    assert "every 10 min" in often
    assert "2030-01-01 00:02:00" in often
    assert '"n": 1' in often
    assert "every 7 s" in paused
    assert "no body" in paused
    assert ">disabled<" in paused
    assert ">Enable<" in paused
    assert ">Disable<" in morning


def test_page_without_schedules_says_so(admin_visitor: Visitor, echo: Client) -> None:
    page = text_of(admin_visitor.get(PAGE))

    assert "No schedules yet" in page
    assert 'data-testid="new-schedule"' in page
    assert '<option value="Europe/London">' in page  # the time-zone suggestions


def test_create_a_cron_schedule_with_a_parameter_set(admin_visitor: Visitor, echo: Client) -> None:
    response = admin_visitor.submit(
        PAGE,
        CREATE,
        _new(
            name="morning",
            cron=" 0  6 * * 1-5 ",
            time_zone="Europe/London",
            parameter_set="daily",
        ),
    )

    assert response.request.path == PAGE
    assert "Schedule morning created." in text_of(response)
    created = _schedules(echo)["morning"]
    assert (created.cron, created.interval_seconds, created.time_zone) == (
        "0 6 * * 1-5",
        None,
        "Europe/London",
    )
    assert (created.parameter_set_name, created.parameters, created.enabled) == (
        "daily",
        None,
        True,
    )
    assert created.next_run_at is not None
    assert 'data-schedule="morning"' in response.text


def test_create_an_interval_schedule_with_parameters_and_a_first_run(
    admin_visitor: Visitor, echo: Client
) -> None:
    response = admin_visitor.submit(
        PAGE,
        CREATE,
        _new(
            name="often",
            interval_seconds="900",
            start_at="2031-05-01T12:30",
            parameters='{"sensors": ["TRH1"]}',
        ),
    )

    assert "Schedule often created." in text_of(response)
    created = _schedules(echo)["often"]
    assert (created.cron, created.interval_seconds) == (None, 900)
    assert created.parameters == {"sensors": ["TRH1"]}
    assert created.parameter_set_name is None
    assert created.next_run_at == datetime(2031, 5, 1, 12, 30, tzinfo=UTC)


def test_create_a_disabled_schedule(admin_visitor: Visitor, echo: Client) -> None:
    data = _new(name="later", cron="*/5 * * * *")
    del data["enabled"]  # an unticked checkbox is not sent

    admin_visitor.submit(PAGE, CREATE, data)

    created = _schedules(echo)["later"]
    assert created.enabled is False
    assert created.next_run_at is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "x"}, "Give a cron expression or an interval in seconds (one of them)."),
        (
            {"name": "x", "cron": "0 6 * * *", "interval_seconds": "60"},
            "Give a cron expression or an interval in seconds (one of them).",
        ),
        ({"name": "x", "interval_seconds": "0"}, "Number must be between 1 and"),
        ({"name": "x", "interval_seconds": "ten"}, "Not a valid integer value."),
        (
            {"name": "x", "cron": "0 6 * * *", "start_at": "2031-01-01T00:00"},
            "Only an interval schedule has a first run.",
        ),
        (
            {"name": "x", "cron": "0 6 * * *", "parameter_set": "daily", "parameters": "{}"},
            "Choose a parameter set or give parameters, not both.",
        ),
        ({"name": "x", "cron": "0 6 * * *", "parameters": "{n: 1}"}, "Not valid JSON"),
        ({"name": "x", "cron": "0 6 * * *", "parameters": "[1]"}, "Must be a JSON object"),
        ({"cron": "0 6 * * *"}, "Name: This field is required."),
        ({"name": "x", "cron": "0 6 * * *", "time_zone": ""}, "Time zone: This field is required."),
    ],
)
def test_invalid_schedules_are_refused_with_a_reason(
    admin_visitor: Visitor, echo: Client, fields: dict[str, str], message: str
) -> None:
    response = admin_visitor.submit(PAGE, CREATE, _new(**fields))

    assert (response.status_code, response.request.path) == (422, CREATE)
    assert message in text_of(response)
    assert 'class="flash flash-error"' in response.text
    assert _schedules(echo) == {}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"cron": "61 * * * *"}, "cron: Invalid cron expression"),
        ({"cron": "0 6 * *"}, "cron: A cron expression has five fields"),
        ({"cron": "0 6 * * *", "time_zone": "Mars/Olympus"}, "Unknown time zone"),
        ({"cron": "0 6 * * *", "parameter_set": "weekly"}, "Parameter set does not exist."),
    ],
)
def test_backend_refusals_are_flashed(
    admin_visitor: Visitor, echo: Client, fields: dict[str, str], message: str
) -> None:
    response = admin_visitor.submit(PAGE, CREATE, _new(name="bad", **fields))

    assert 400 <= response.status_code < 500
    assert response.request.path == CREATE
    assert 'class="flash flash-error"' in response.text
    assert message in text_of(response)
    assert _schedules(echo) == {}


def test_duplicate_name_flashes_the_backend_answer(admin_visitor: Visitor, echo: Client) -> None:
    echo.services.insert_schedule("echo", "morning", cron="0 6 * * *")

    response = admin_visitor.submit(PAGE, CREATE, _new(name="morning", interval_seconds="60"))

    assert 'class="flash flash-error"' in response.text
    assert _schedules(echo)["morning"].cron == "0 6 * * *"


def test_disable_and_enable_a_schedule(admin_visitor: Visitor, echo: Client) -> None:
    echo.services.insert_schedule("echo", "morning", cron="0 6 * * *")

    disabled = admin_visitor.submit(
        PAGE, "/services/schedules/disable", {"service": "echo", "name": "morning"}
    )

    assert "Schedule morning disabled." in text_of(disabled)
    assert _schedules(echo)["morning"].enabled is False
    assert _schedules(echo)["morning"].next_run_at is None
    row = _row(text_of(disabled), "morning")
    assert ">disabled<" in row
    assert 'action="/services/schedules/enable"' in row

    enabled = admin_visitor.submit(
        PAGE, "/services/schedules/enable", {"service": "echo", "name": "morning"}
    )

    assert "Schedule morning enabled." in text_of(enabled)
    assert _schedules(echo)["morning"].enabled is True
    assert _schedules(echo)["morning"].next_run_at is not None


def test_delete_a_schedule(admin_visitor: Visitor, echo: Client) -> None:
    echo.services.insert_schedule("echo", "morning", cron="0 6 * * *")
    echo.services.insert_schedule("echo", "evening", cron="0 18 * * *")

    response = admin_visitor.submit(
        PAGE, "/services/schedules/delete", {"service": "echo", "name": "morning"}
    )

    assert "Schedule morning deleted." in text_of(response)
    assert list(_schedules(echo)) == ["evening"]
    assert 'data-schedule="morning"' not in response.text


@pytest.mark.parametrize(
    "action",
    ["/services/schedules/enable", "/services/schedules/disable", "/services/schedules/delete"],
)
def test_acting_on_a_missing_schedule_flashes_the_backend_answer(
    admin_visitor: Visitor, echo: Client, action: str
) -> None:
    response = admin_visitor.submit(PAGE, action, {"service": "echo", "name": "nothing"})

    assert response.status_code == 200
    assert response.request.path == PAGE
    assert 'class="flash flash-error"' in response.text


def test_viewer_sees_schedules_but_cannot_change_them(
    visitor_factory: VisitorFactory, echo: Client
) -> None:
    echo.services.insert_schedule("echo", "morning", cron="0 6 * * *")
    viewer = visitor_factory(Role.viewer)

    page = viewer.get(PAGE)
    created = viewer.submit(PAGE, CREATE, _new(name="mine", cron="0 7 * * *"))
    disabled = viewer.submit(
        PAGE, "/services/schedules/disable", {"service": "echo", "name": "morning"}
    )

    assert 'data-schedule="morning"' in page.text
    assert "This action needs" in text_of(created)
    assert "This action needs" in text_of(disabled)
    assert list(_schedules(echo)) == ["morning"]
    assert _schedules(echo)["morning"].enabled is True


@pytest.mark.parametrize(
    ("action", "name"),
    [
        (CREATE, "other"),
        ("/services/schedules/enable", "morning"),
        ("/services/schedules/disable", "morning"),
        ("/services/schedules/delete", "morning"),
    ],
)
def test_schedule_posts_without_csrf_token_are_refused(
    admin_visitor: Visitor, echo: Client, action: str, name: str
) -> None:
    echo.services.insert_schedule("echo", "morning", cron="0 6 * * *", enabled=False)

    response = admin_visitor.client.post(action, data=_new(name=name, cron="0 7 * * *"))

    assert response.status_code == 400
    (kept,) = echo.services.list_schedules("echo")
    assert (kept.name, kept.cron, kept.enabled) == ("morning", "0 6 * * *", False)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (1, "every 1 s"),
        (90, "every 90 s"),
        (600, "every 10 min"),
        (7200, "every 2 h"),
        (86400 * 7, "every 7 d"),
    ],
)
def test_intervals_are_described_in_their_largest_whole_unit(seconds: int, shown: str) -> None:
    assert describe_interval(seconds) == shown
