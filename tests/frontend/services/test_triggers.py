"""Event triggers on a service's page: listed with their query, quiet time, state and last
run; created (template or parameter set), enabled, disabled and deleted by writers;
refusals flashed, with what was typed kept."""

from __future__ import annotations

import pytest

from dtbase.client import Client
from dtbase.schemas.triggers import Trigger
from dtbase.schemas.users import Role
from tests.utils.service_pages import ECHO_PAGE, row_of
from tests.utils.visitors import Visitor, VisitorFactory, text_of

PAGE = ECHO_PAGE
CREATE = "/services/triggers/create"


def _triggers(client: Client) -> dict[str, Trigger]:
    return {t.name: t for t in client.triggers.list_triggers("echo")}


def _new(**fields: str) -> dict[str, str]:
    """A create form as the browser sends it: every field, `enabled` ticked."""
    return {
        "service": "echo",
        "name": "",
        "query": '{"kind": "readings.stored"}',
        "parameter_set": "",
        "parameters": "",
        "debounce_seconds": "10",
        "enabled": "y",
    } | fields


def _row(page: str, name: str) -> str:
    return row_of(page, "trigger", name)


def test_page_lists_triggers(admin_visitor: Visitor, echo: Client) -> None:
    echo.triggers.create_trigger(
        "per-sensor",
        "echo",
        {"kind": "readings.stored", "sensor": ["TRH1", "TRH2"]},
        parameters={"sensors": "{sensor}"},
        debounce_seconds=30,
    )
    echo.triggers.create_trigger(
        "daily", "echo", {"kind": "model.created"}, parameter_set_name="daily", enabled=False
    )

    page = text_of(admin_visitor.get(PAGE))

    per_sensor, daily = _row(page, "per-sensor"), _row(page, "daily")
    assert '{"kind": ["readings.stored"], "sensor": ["TRH1", "TRH2"]}' in per_sensor
    assert '"sensors": "{sensor}"' in per_sensor
    assert "30 s" in per_sensor
    assert "(at most 300 s)" in per_sensor
    assert "never" in per_sensor  # no run yet
    assert ">enabled<" in per_sensor
    assert ">Disable<" in per_sensor
    assert "parameter set <strong>daily</strong>" in daily
    assert ">disabled<" in daily
    assert ">Enable<" in daily


def test_page_without_triggers_says_so(admin_visitor: Visitor, echo: Client) -> None:
    page = text_of(admin_visitor.get(PAGE))

    assert "No triggers yet" in page
    assert 'data-testid="new-trigger"' in page


def test_create_a_trigger_with_a_template(admin_visitor: Visitor, echo: Client) -> None:
    response = admin_visitor.submit(
        PAGE,
        CREATE,
        _new(
            name="forecast",
            query='{"kind": "readings.stored", "sensor": "TRH1"}',
            parameters='{"sensors": "{sensor}", "measures": ["temperature"]}',
            debounce_seconds="2.5",
        ),
    )

    assert response.request.path == PAGE
    assert "Trigger forecast created." in text_of(response)
    created = _triggers(echo)["forecast"]
    assert created.query == {"kind": ["readings.stored"], "sensor": ["TRH1"]}
    assert created.parameters == {"sensors": "{sensor}", "measures": ["temperature"]}
    assert (created.debounce_seconds, created.enabled) == (2.5, True)


def test_create_a_disabled_trigger_with_a_parameter_set(
    admin_visitor: Visitor, echo: Client
) -> None:
    data = _new(name="later", parameter_set="daily", debounce_seconds="0")
    del data["enabled"]  # an unticked checkbox is not sent

    admin_visitor.submit(PAGE, CREATE, data)

    created = _triggers(echo)["later"]
    assert (created.parameter_set_name, created.parameters) == ("daily", None)
    assert (created.enabled, created.debounce_seconds) == (False, 0.0)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": ""}, "Name: This field is required."),
        ({"query": "{kind: 1}"}, "Not valid JSON"),
        ({"query": "[]"}, "Must be a JSON object"),
        ({"debounce_seconds": "-1"}, "Number must be between 0 and"),
        ({"debounce_seconds": ""}, "Enter a number of seconds."),
        (
            {"parameter_set": "daily", "parameters": '{"a": 1}'},
            "Choose a parameter set or give a template, not both.",
        ),
    ],
)
def test_invalid_triggers_are_refused_with_a_reason_and_the_input_kept(
    admin_visitor: Visitor, echo: Client, fields: dict[str, str], message: str
) -> None:
    data = _new(name="x", query='{"sensor": "typed-here"}') | fields
    response = admin_visitor.submit(PAGE, CREATE, data)

    assert (response.status_code, response.request.path) == (422, CREATE)
    assert message in text_of(response)
    assert 'class="flash flash-error"' in response.text
    assert data["query"] in text_of(response)  # what was typed is still there
    assert _triggers(echo) == {}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"query": '{"kind": "service_run.finished"}'}, "each run would start the next"),
        ({"query": '{"colour": "red"}'}, "colour"),
        ({"parameters": '{"m": "{model}"}'}, "{model} is not metadata"),
        ({"parameter_set": "weekly"}, "Parameter set does not exist."),
    ],
)
def test_backend_refusals_are_flashed(
    admin_visitor: Visitor, echo: Client, fields: dict[str, str], message: str
) -> None:
    response = admin_visitor.submit(PAGE, CREATE, _new(name="bad", **fields))

    assert 400 <= response.status_code < 500
    assert response.request.path == CREATE
    assert message in text_of(response)
    assert _triggers(echo) == {}


def test_disable_enable_and_delete_a_trigger(admin_visitor: Visitor, echo: Client) -> None:
    echo.triggers.create_trigger("t", "echo", {"kind": "readings.stored"})
    name = {"service": "echo", "name": "t"}

    disabled = admin_visitor.submit(PAGE, "/services/triggers/disable", name)
    assert "Trigger t disabled." in text_of(disabled)
    assert _triggers(echo)["t"].enabled is False
    assert 'action="/services/triggers/enable"' in _row(text_of(disabled), "t")

    enabled = admin_visitor.submit(PAGE, "/services/triggers/enable", name)
    assert "Trigger t enabled." in text_of(enabled)
    assert _triggers(echo)["t"].enabled is True

    deleted = admin_visitor.submit(PAGE, "/services/triggers/delete", name)
    assert "Trigger t deleted." in text_of(deleted)
    assert _triggers(echo) == {}

    missing = admin_visitor.submit(PAGE, "/services/triggers/delete", name)
    assert "Trigger does not exist." in text_of(missing)


def test_a_viewer_sees_triggers_but_cannot_change_them(
    visitor_factory: VisitorFactory, echo: Client
) -> None:
    echo.triggers.create_trigger("t", "echo", {"kind": "readings.stored"})
    viewer = visitor_factory(Role.viewer)

    page = viewer.get(PAGE)
    created = viewer.submit(PAGE, CREATE, _new(name="mine"))
    disabled = viewer.submit(PAGE, "/services/triggers/disable", {"service": "echo", "name": "t"})

    assert 'data-trigger="t"' in page.text
    assert 'data-testid="new-trigger"' not in page.text
    assert ">Disable<" not in _row(text_of(page), "t")
    assert "This action needs" in text_of(created)
    assert "This action needs" in text_of(disabled)
    assert list(_triggers(echo)) == ["t"]
    assert _triggers(echo)["t"].enabled is True


def test_trigger_posts_without_csrf_token_are_refused(admin_visitor: Visitor, echo: Client) -> None:
    response = admin_visitor.client.post(CREATE, data=_new(name="t"))

    assert response.status_code == 400
    assert _triggers(echo) == {}
