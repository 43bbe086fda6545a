"""The services area: register, delete, parameter sets, run now against a real HTTP
service on 127.0.0.1, and the run log."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dtbase.client import Client
from dtbase.schemas.users import Role
from frontend.services.forms import json_object
from tests.frontend.services.echo_server import echo_service
from tests.utils.visitors import Visitor, VisitorFactory, text_of

PAGE = "/services/index"
ECHO = "/services/service/echo"


@pytest.fixture
def echo(client: Client) -> Iterator[list[Any]]:
    """A registered service `echo`, really listening; yields the bodies it received."""
    with echo_service() as (url, received):
        client.services.insert_service("echo", url, "POST")
        yield received


def test_page_lists_services(admin_visitor: Visitor, client: Client) -> None:
    client.services.insert_service("arima", "http://127.0.0.1:9/api/arima", "POST")

    page = admin_visitor.get(PAGE)

    assert page.status_code == 200
    assert 'data-service="arima"' in page.text
    assert 'href="/services/service/arima"' in page.text
    assert "http://127.0.0.1:9/api/arima" in page.text


def test_register_a_service(admin_visitor: Visitor, client: Client) -> None:
    response = admin_visitor.submit(
        PAGE,
        "/services/register",
        {"name": "weather", "url": "http://127.0.0.1:7071/api/weather", "http_method": "GET"},
    )

    assert "Service weather registered." in text_of(response)
    (service,) = client.services.list_services()
    assert (service.name, service.url, service.http_method) == (
        "weather",
        "http://127.0.0.1:7071/api/weather",
        "GET",
    )


def test_registering_twice_flashes_the_backend_answer(
    admin_visitor: Visitor, client: Client
) -> None:
    client.services.insert_service("weather", "http://127.0.0.1:9/a", "POST")

    response = admin_visitor.submit(
        PAGE, "/services/register", {"name": "weather", "url": "http://x/b", "http_method": "POST"}
    )

    assert 'class="flash flash-error"' in response.text
    assert [s.url for s in client.services.list_services()] == ["http://127.0.0.1:9/a"]


def test_invalid_registration_is_refused_with_a_reason(
    admin_visitor: Visitor, client: Client
) -> None:
    response = admin_visitor.submit(
        PAGE, "/services/register", {"name": "x", "url": "http://x", "http_method": "PATCH"}
    )

    assert "Not a valid choice" in text_of(response)
    assert client.services.list_services() == []


def test_admin_deletes_a_service(admin_visitor: Visitor, client: Client) -> None:
    client.services.insert_service("old", "http://127.0.0.1:9/old", "POST")

    response = admin_visitor.submit(PAGE, "/services/delete", {"service": "old"})

    assert "Service old deleted." in text_of(response)
    assert client.services.list_services() == []


def test_users_may_neither_register_nor_delete(
    visitor_factory: VisitorFactory, client: Client
) -> None:
    client.services.insert_service("kept", "http://127.0.0.1:9/kept", "POST")
    member = visitor_factory(Role.user)

    page = member.get(PAGE)
    refused = member.submit(PAGE, "/services/delete", {"service": "kept"})
    not_registered = member.submit(
        PAGE,
        "/services/register",
        {"name": "mine", "url": "http://127.0.0.1:9/", "http_method": "GET"},
    )

    assert "/services/delete" not in page.text  # no delete buttons for non-admins
    assert "/services/register" not in page.text  # nor the register form
    assert "Only admins register services." in page.text
    assert "This action needs the role 'admin'" in text_of(refused)
    assert "This action needs the role 'admin'" in text_of(not_registered)
    assert [s.name for s in client.services.list_services()] == ["kept"]


def test_a_url_off_the_allow_list_is_refused_with_the_reason(
    admin_visitor: Visitor, client: Client
) -> None:
    response = admin_visitor.submit(
        PAGE,
        "/services/register",
        {"name": "meta", "url": "http://169.254.169.254/latest/", "http_method": "GET"},
    )

    assert "not on the backend's allow-list" in text_of(response)
    assert client.services.list_services() == []


def test_unknown_service_page_is_404(admin_visitor: Visitor) -> None:
    assert admin_visitor.get("/services/service/nothing").status_code == 404


def test_parameter_sets_created_edited_and_deleted(
    admin_visitor: Visitor, client: Client, echo: list[Any]
) -> None:
    created = admin_visitor.submit(
        ECHO,
        "/services/parameter-sets/create",
        {"service": "echo", "name": "daily", "parameters": '{"hours": 24}'},
    )
    assert "Parameter set daily saved." in text_of(created)
    assert 'data-parameter-set="daily"' in created.text
    assert '"hours": 24' in text_of(created)

    edited = admin_visitor.submit(
        ECHO,
        "/services/parameter-sets/edit",
        {"service": "echo", "name": "daily", "parameters": '{"hours": 48, "tag": "x"}'},
    )
    assert "Parameter set daily changed." in text_of(edited)
    (stored,) = client.services.list_parameter_sets("echo")
    assert stored.parameters == {"hours": 48, "tag": "x"}

    deleted = admin_visitor.submit(
        ECHO, "/services/parameter-sets/delete", {"service": "echo", "name": "daily"}
    )
    assert "Parameter set daily deleted." in text_of(deleted)
    assert client.services.list_parameter_sets("echo") == []


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ("{hours: 24}", "Not valid JSON"),
        ("[1, 2]", "Must be a JSON object"),
        ("", "This field is required."),
    ],
)
def test_invalid_parameters_are_refused_by_the_server_too(
    admin_visitor: Visitor, client: Client, echo: list[Any], parameters: str, message: str
) -> None:
    response = admin_visitor.submit(
        ECHO,
        "/services/parameter-sets/create",
        {"service": "echo", "name": "bad", "parameters": parameters},
    )

    assert (response.status_code, response.request.path) == (422, "/services/parameter-sets/create")
    assert 'value="bad"' in response.text  # the name typed is kept
    assert message in text_of(response)
    assert client.services.list_parameter_sets("echo") == []


def test_duplicate_parameter_set_flashes_the_backend_answer(
    admin_visitor: Visitor, client: Client, echo: list[Any]
) -> None:
    client.services.insert_parameter_set("echo", "daily", {"hours": 24})

    response = admin_visitor.submit(
        ECHO,
        "/services/parameter-sets/create",
        {"service": "echo", "name": "daily", "parameters": "{}"},
    )

    assert 'class="flash flash-error"' in response.text
    assert client.services.list_parameter_sets("echo")[0].parameters == {"hours": 24}


def test_run_now_calls_the_service_and_logs_the_run(
    admin_visitor: Visitor, client: Client, echo: list[Any]
) -> None:
    client.services.insert_parameter_set("echo", "daily", {"hours": 24})

    response = admin_visitor.submit(
        ECHO, "/services/run", {"service": "echo", "parameter_set": "daily", "parameters": ""}
    )

    assert "echo ran:" in text_of(response)
    assert echo == [{"hours": 24}]
    log = text_of(response)
    assert 'data-testid="run-log"' in log
    assert '<td class="status-ok" data-testid="run-status">200</td>' in log
    assert '"received": {\n    "hours": 24\n  }' in log  # the response, as the service sent it
    assert "<td>daily</td>" in log


def test_run_log_is_newest_first_and_shows_failures(
    admin_visitor: Visitor, client: Client, echo: list[Any]
) -> None:
    admin_visitor.submit(ECHO, "/services/run", {"service": "echo", "parameters": '{"n": 1}'})
    failed = admin_visitor.submit(
        ECHO, "/services/run", {"service": "echo", "parameters": '{"fail": true}'}
    )

    assert echo == [{"n": 1}, {"fail": True}]
    runs = client.services.list_runs_details("echo")
    assert len(runs) == 2
    page = failed.text
    newest, oldest = max(runs, key=lambda r: r.id), min(runs, key=lambda r: r.id)
    assert page.index(f'data-run="{newest.id}"') < page.index(f'data-run="{oldest.id}"')
    assert '<td class="status-failed" data-testid="run-status">500</td>' in page


def test_a_run_the_service_refused_is_shown_failed_with_its_message(
    admin_visitor: Visitor, client: Client, echo: list[Any]
) -> None:
    """Issue 14, item 5: a weather run that answered 400 showed a green success message."""
    response = admin_visitor.submit(
        ECHO,
        "/services/run",
        {"service": "echo", "parameters": '{"refuse": "lat is required"}'},
    )

    text = text_of(response)
    assert 'class="flash flash-error"' in response.text
    assert "flash-success" not in response.text
    assert "echo failed: the service answered 400: lat is required (see the run log)." in text
    assert '<td class="status-failed" data-testid="run-status">400</td>' in response.text
    (run,) = client.services.list_runs_details("echo")
    assert (run.status, run.response_json) == ("failed", {"detail": "lat is required"})


def test_unreachable_service_is_a_flash_and_a_logged_run(
    admin_visitor: Visitor, client: Client
) -> None:
    with echo_service() as (url, _):
        pass  # the port is free again: nothing listens there now
    client.services.insert_service("gone", url, "POST")

    response = admin_visitor.submit(
        "/services/service/gone", "/services/run", {"service": "gone", "parameters": ""}
    )

    assert response.status_code == 200
    assert "gone failed:" in text_of(response)
    assert "(see the run log)" in text_of(response)
    (run,) = client.services.list_runs_details("gone")
    assert run.response_status_code == 502
    assert '<td class="status-failed" data-testid="run-status">502</td>' in response.text


def test_running_an_unknown_parameter_set_flashes_the_backend_answer(
    admin_visitor: Visitor, client: Client, echo: list[Any]
) -> None:
    response = admin_visitor.submit(
        ECHO, "/services/run", {"service": "echo", "parameter_set": "nope", "parameters": ""}
    )

    assert 'class="flash flash-error"' in response.text
    assert echo == []
    assert client.services.list_runs_details("echo") == []


def test_viewer_cannot_run_a_service(
    visitor_factory: VisitorFactory, client: Client, echo: list[Any]
) -> None:
    viewer = visitor_factory(Role.viewer)

    response = viewer.submit(ECHO, "/services/run", {"service": "echo", "parameters": ""})

    assert "This action needs" in text_of(response)
    assert echo == []


@pytest.mark.parametrize(
    "action",
    ["/services/register", "/services/delete", "/services/run", "/services/parameter-sets/create"],
)
def test_posts_without_csrf_token_are_refused(
    admin_visitor: Visitor, client: Client, echo: list[Any], action: str
) -> None:
    response = admin_visitor.client.post(
        action,
        data={
            "service": "echo",
            "name": "x",
            "url": "http://x",
            "http_method": "POST",
            "parameters": "{}",
        },
    )

    assert response.status_code == 400
    assert echo == []
    assert [s.name for s in client.services.list_services()] == ["echo"]
    assert client.services.list_parameter_sets("echo") == []


def test_json_rule_accepts_objects_only() -> None:
    class Field:
        def __init__(self, data: str, required: bool) -> None:
            self.data = data
            self.flags = type("Flags", (), {"required": required})()

    json_object(None, Field("", required=False))  # type: ignore[arg-type]
    json_object(None, Field('{"a": [1]}', required=True))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Must be a JSON object"):
        json_object(None, Field("null", required=True))  # type: ignore[arg-type]
