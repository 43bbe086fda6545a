"""The subscriptions page: admins create (the secret shown once), change, disable, enable
and delete webhook subscriptions; everyone sees them and their delivery logs; a form that
fails comes back as typed and changes nothing."""

from __future__ import annotations

import re

from sqlalchemy import Engine
from werkzeug.test import TestResponse

from dtbase.backend.db import make_session_factory
from dtbase.client import Client
from dtbase.schemas.users import Role
from tests.utils.visitors import Visitor, VisitorFactory, text_of
from tests.utils.webhooks import emit, pruned_through

PAGE = "/events/subscriptions"
RECEIVER = "http://127.0.0.1:9/hook"  # on the tests' allow-list; nothing needs to answer


def _form(page: str, action: str) -> str:
    found = re.search(rf'<form[^>]*action="{re.escape(action)}".*?</form>', page, re.S)
    assert found, f"no form posting to {action}"
    return found.group(0)


def _create(visitor: Visitor, **fields: str | list[str]) -> TestResponse:
    data = {"name": "to-forecast", "url": RECEIVER, "kind": ["readings.stored"], **fields}
    return visitor.submit(PAGE, f"{PAGE}/create", data)  # type: ignore[arg-type]


def test_an_admin_creates_a_subscription_and_sees_its_secret_once(
    admin_visitor: Visitor, client: Client
) -> None:
    response = _create(admin_visitor, sensor="t-1, t-2", measure="temperature")

    assert response.status_code == 201
    secret = re.search(r'data-testid="subscription-secret">([^<]+)<', response.text)
    assert secret is not None
    assert len(secret.group(1)) >= 24
    [made] = client.subscriptions.list_subscriptions()
    assert made.name == "to-forecast"
    assert made.url == RECEIVER
    assert made.query.model_dump(exclude_none=True) == {
        "kind": ["readings.stored"],
        "sensor": ["t-1", "t-2"],
        "measure": ["temperature"],
    }
    listed = admin_visitor.get(PAGE).text
    assert "readings.stored; sensor: t-1, t-2; measure: temperature" in listed
    assert secret.group(1) not in listed
    page = admin_visitor.get(f"{PAGE}/subscription/to-forecast").text
    assert secret.group(1) not in page
    assert "Nothing delivered yet." in page
    assert "never" in page  # no success, no failure yet


def test_a_url_the_backend_refuses_keeps_the_form_and_creates_nothing(
    admin_visitor: Visitor, client: Client
) -> None:
    response = _create(admin_visitor, name="outside", url="http://example.org/hook", sensor="t-1")

    assert response.status_code == 400
    assert "allow" in text_of(response).lower()
    form = _form(response.text, f"{PAGE}/create")
    assert 'value="outside"' in form
    assert 'value="http://example.org/hook"' in form
    assert 'value="t-1"' in form
    assert re.search(r'checked[^>]*value="readings.stored"', form)
    assert client.subscriptions.list_subscriptions() == []


def test_an_unknown_kind_or_a_blank_name_is_refused_with_the_form_kept(
    admin_visitor: Visitor, client: Client
) -> None:
    response = _create(admin_visitor, kind=["readings.stored", "no.such-kind"])
    assert response.status_code == 422
    assert "Kinds: 'no.such-kind' is not a valid choice" in text_of(response)

    response = _create(admin_visitor, name="  ")
    assert response.status_code == 422
    assert 'value="http://127.0.0.1:9/hook"' in _form(response.text, f"{PAGE}/create")
    assert client.subscriptions.list_subscriptions() == []


def test_an_admin_changes_disables_enables_and_deletes_it(
    admin_visitor: Visitor, client: Client
) -> None:
    client.subscriptions.create_subscription("hook", RECEIVER, {"kind": ["model.created"]})
    page = f"{PAGE}/subscription/hook"
    edit = admin_visitor.get(page).text
    assert re.search(r'checked[^>]*value="model.created"', _form(edit, f"{PAGE}/edit"))

    changed = admin_visitor.submit(
        page,
        f"{PAGE}/edit",
        {"subscription": "hook", "name": "renamed", "url": RECEIVER + "2", "model": "arima"},
    )
    assert changed.request.path == f"{PAGE}/subscription/renamed"
    assert "Subscription renamed saved." in text_of(changed)
    [made] = client.subscriptions.list_subscriptions()
    assert (made.name, made.url) == ("renamed", RECEIVER + "2")
    assert made.query.model_dump(exclude_none=True) == {"model": ["arima"]}

    page = f"{PAGE}/subscription/renamed"
    disabled = admin_visitor.submit(page, f"{PAGE}/disable", {"subscription": "renamed"})
    assert "Subscription renamed disabled." in text_of(disabled)
    assert "Disabled by default_user@localhost" in text_of(disabled)
    assert client.subscriptions.list_subscriptions()[0].enabled is False
    enabled = admin_visitor.submit(page, f"{PAGE}/enable", {"subscription": "renamed"})
    assert "Subscription renamed enabled." in text_of(enabled)
    assert client.subscriptions.list_subscriptions()[0].enabled is True

    deleted = admin_visitor.submit(page, f"{PAGE}/delete", {"subscription": "renamed"})
    assert deleted.request.path == PAGE
    assert "No subscriptions yet." in text_of(deleted)
    assert client.subscriptions.list_subscriptions() == []


def test_a_failed_edit_keeps_what_was_typed_and_changes_nothing(
    admin_visitor: Visitor, client: Client
) -> None:
    client.subscriptions.create_subscription("hook", RECEIVER, {"kind": ["model.created"]})
    page = f"{PAGE}/subscription/hook"

    response = admin_visitor.submit(
        page, f"{PAGE}/edit", {"subscription": "hook", "name": "hook", "url": "ftp://x/y"}
    )

    assert response.status_code == 400
    assert 'value="ftp://x/y"' in _form(response.text, f"{PAGE}/edit")
    [kept] = client.subscriptions.list_subscriptions()
    assert kept.url == RECEIVER
    assert kept.query.model_dump(exclude_none=True) == {"kind": ["model.created"]}


def test_a_new_secret_is_shown_once(admin_visitor: Visitor, client: Client) -> None:
    first = client.subscriptions.create_subscription("hook", RECEIVER).secret
    page = f"{PAGE}/subscription/hook"

    response = admin_visitor.submit(page, f"{PAGE}/rotate-secret", {"subscription": "hook"})

    secret = re.search(r'data-testid="subscription-secret">([^<]+)<', response.text)
    assert secret is not None
    assert secret.group(1) != first
    assert secret.group(1) not in admin_visitor.get(page).text


def test_viewers_see_subscriptions_but_no_write_control(
    visitor_factory: VisitorFactory, client: Client
) -> None:
    client.subscriptions.create_subscription("hook", RECEIVER + "?code=key")
    viewer = visitor_factory(Role.viewer)

    listed = viewer.get(PAGE).text
    assert 'data-subscription="hook"' in listed
    assert f'action="{PAGE}/create"' not in listed
    assert "Only admins add and change subscriptions." in listed
    page = viewer.get(f"{PAGE}/subscription/hook").text
    assert "Delivery log" in page
    assert "<form" not in page.split('<main class="content">')[1]
    assert "code=key" not in page  # the backend masks keys in URLs for all but admins

    refused = viewer.submit(PAGE, f"{PAGE}/create", {"name": "mine", "url": RECEIVER})
    assert refused.status_code == 403
    refused = viewer.submit(f"{PAGE}/subscription/hook", f"{PAGE}/delete", {"subscription": "hook"})
    assert "Subscription hook deleted." not in text_of(refused)
    assert [s.name for s in client.subscriptions.list_subscriptions()] == ["hook"]


def test_an_unknown_subscription_is_404(admin_visitor: Visitor) -> None:
    assert admin_visitor.get(f"{PAGE}/subscription/nothing").status_code == 404


def test_the_sidebar_leads_to_the_page(admin_visitor: Visitor) -> None:
    assert f'href="{PAGE}"' in admin_visitor.get("/home/index").text


def test_enabling_a_subscription_behind_the_retention_shows_what_was_skipped(
    admin_visitor: Visitor, client: Client, engine: Engine
) -> None:
    sessions = make_session_factory(engine)
    emit(sessions, 4)
    client.subscriptions.create_subscription("hook", RECEIVER, after=1)
    client.subscriptions.disable_subscription("hook")
    pruned_through(sessions, 3)
    page = f"{PAGE}/subscription/hook"

    enabled = admin_visitor.submit(page, f"{PAGE}/enable", {"subscription": "hook"})

    shown = text_of(enabled)
    assert "Subscription hook enabled." in shown
    warning = (
        "Skipped up to 2 events: events 2 to 3 were deleted after the retention "
        "(DT_EVENTS_RETENTION_DAYS) before they could be delivered, matching or not. "
        "Delivery goes on with event 4."
    )
    assert f'<div class="flash flash-error" role="alert">{warning}</div>' in shown
    assert f'<span data-testid="delivery-warning">{warning}</span>' in shown
