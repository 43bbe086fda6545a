"""The events area: the live stream for the pages' scripts, and the webhook subscriptions."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from frontend.auth import session as user_session
from frontend.events import stream

bp = Blueprint("events", __name__, template_folder="templates")


@bp.route("/events/stream")
def events_stream() -> ResponseReturnValue:
    """The backend's `/events/stream` for the logged-in user (see `frontend.events.stream`).

    Anonymous visitors get 401, not the login page: an `EventSource` cannot log in.
    """
    if user_session.current_or_none() is None:
        return jsonify(detail="Log in to follow events."), 401
    return stream.relay()
