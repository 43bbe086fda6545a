"""The events area: the live stream for the pages' scripts, and the webhook subscriptions.

Any logged-in user sees the subscriptions and their delivery logs (the backend masks keys
in their URLs for all but admins); only admins create, change, enable, disable or delete
them, or get a new secret (the backend refuses anyone else with 403), so only admins see
those controls. A secret is shown once, in the answer to the request that made it.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from frontend.auth import session as user_session
from frontend.backend import backend, flashing_errors
from frontend.events import stream
from frontend.events.forms import (
    SubscriptionForm,
    SubscriptionNameForm,
    describe_query,
    query_fields,
)
from frontend.forms import form_to_show, show_again, valid_or_flashed

bp = Blueprint("events", __name__, template_folder="templates")

# The newest delivery attempts shown on a subscription's page.
DELIVERIES_SHOWN = 50


@bp.route("/events/stream")
@user_session.login_required
def events_stream() -> ResponseReturnValue:
    """The backend's `/events/stream` for the logged-in user (see `frontend.events.stream`).
    Anonymous visitors are sent to the login page, as from every private URL: an
    `EventSource` fails on the page that answers, and live.js tries again later."""
    return stream.relay()


@bp.route("/events/subscriptions")
@user_session.login_required
def subscriptions() -> ResponseReturnValue:
    return _subscriptions_page()


def _subscriptions_page() -> str:
    return render_template(
        "events/subscriptions.html",
        subscriptions=backend().subscriptions.list_subscriptions(),
        create_form=form_to_show(SubscriptionForm, endpoint="events.create"),
        describe_query=describe_query,
    )


@bp.route("/events/subscriptions/create", methods=["POST"])
@user_session.login_required
def create() -> ResponseReturnValue:
    form = SubscriptionForm()
    if valid_or_flashed(form):
        with flashing_errors():
            created = backend().subscriptions.create_subscription(
                str(form.name.data).strip(), str(form.url.data).strip(), form.query()
            )
            # Shown here, once, and never put in the session (flashes live in the cookie).
            return render_template("events/secret.html", created=created), 201
    return show_again(form, _subscriptions_page)


@bp.route("/events/subscriptions/subscription/<path:name>")
@user_session.login_required
def subscription(name: str) -> ResponseReturnValue:
    return _subscription_page(name)


def _subscription_page(name: str) -> str:
    client = backend()
    found = next((s for s in client.subscriptions.list_subscriptions() if s.name == name), None)
    if found is None:
        abort(404)
    return render_template(
        "events/subscription.html",
        subscription=found,
        deliveries=client.subscriptions.delivery_log(name, limit=DELIVERIES_SHOWN),
        edit_form=form_to_show(
            SubscriptionForm,
            endpoint="events.edit",
            subscription=name,
            name=name,
            url=found.url,
            **query_fields(found.query),
        ),
        describe_query=describe_query,
    )


@bp.route("/events/subscriptions/edit", methods=["POST"])
@user_session.login_required
def edit() -> ResponseReturnValue:
    form = SubscriptionForm()
    current = str(form.subscription.data or "")
    if valid_or_flashed(form):
        new_name = str(form.name.data).strip()
        renamed = {"new_name": new_name} if new_name != current else {}
        with flashing_errors():
            backend().subscriptions.edit_subscription(
                current, url=str(form.url.data).strip(), query=form.query(), **renamed
            )
            flash(f"Subscription {new_name} saved.", "success")
            return redirect(url_for("events.subscription", name=new_name))
    return show_again(form, lambda: _subscription_page(current))


@bp.route("/events/subscriptions/enable", methods=["POST"])
@user_session.login_required
def enable() -> ResponseReturnValue:
    return _change("enabled", lambda name: backend().subscriptions.enable_subscription(name))


@bp.route("/events/subscriptions/disable", methods=["POST"])
@user_session.login_required
def disable() -> ResponseReturnValue:
    return _change("disabled", lambda name: backend().subscriptions.disable_subscription(name))


@bp.route("/events/subscriptions/delete", methods=["POST"])
@user_session.login_required
def delete() -> ResponseReturnValue:
    return _change("deleted", lambda name: backend().subscriptions.delete_subscription(name))


def _change(done: str, call: Callable[[str], object]) -> ResponseReturnValue:
    form = SubscriptionNameForm()
    name = str(form.subscription.data or "")
    if valid_or_flashed(form):
        with flashing_errors():
            answer = call(name)
            flash(f"Subscription {name} {done}.", "success")
            # Enabling says when events were pruned before they could be delivered.
            warning = getattr(answer, "warning", None)
            if warning:
                flash(warning, "error")
            if done == "deleted":
                return redirect(url_for("events.subscriptions"))
    return _back_to(name)


def _back_to(name: str) -> ResponseReturnValue:
    if not name:
        return redirect(url_for("events.subscriptions"))
    return redirect(url_for("events.subscription", name=name))


@bp.route("/events/subscriptions/rotate-secret", methods=["POST"])
@user_session.login_required
def rotate_secret() -> ResponseReturnValue:
    form = SubscriptionNameForm()
    name = str(form.subscription.data or "")
    if valid_or_flashed(form):
        with flashing_errors():
            created = backend().subscriptions.rotate_secret(name)
            return render_template("events/secret.html", created=created)
    return redirect(
        url_for("events.subscription", name=name) if name else url_for("events.subscriptions")
    )
