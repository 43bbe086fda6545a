"""The home page: counts, the latest readings of the sensors, the last runs, and the
recent activity; live (frontend/static/js/live_home.js): each section is fetched again
from `/home/section/<name>` when an event changes what it shows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from dtbase.client import Client
from dtbase.schemas.events import EventKind
from frontend.auth import session as user_session
from frontend.backend import backend
from frontend.events.live import live_page
from frontend.home.dashboard import (
    STALE_AFTER,
    age_text,
    last_model_runs,
    last_service_runs,
    latest_readings,
)

bp = Blueprint("home", __name__, template_folder="templates")

# The events listed under "Recent activity" (the latest before the page was made first).
ACTIVITY_SIZE = 10


@dataclass(frozen=True)
class Count:
    label: str
    value: int
    endpoint: str  # the page listing them, once that area exists


@bp.route("/")
@user_session.login_required
def root() -> ResponseReturnValue:
    return redirect(url_for("home.index"))


@bp.route("/home/index")
@user_session.login_required
def index() -> ResponseReturnValue:
    client = backend()
    # The cursor first: whatever is stored while the sections are read comes live.
    live = live_page(client, kind=list(EventKind))
    sections: dict[str, Any] = {}
    for section in SECTIONS.values():
        sections.update(section(client))
    return render_template(
        "home/index.html",
        user=user_session.current(),
        live=live,
        activity_size=ACTIVITY_SIZE,
        **sections,
    )


@bp.route("/home/section/<name>")
@user_session.login_required
def section(name: str) -> ResponseReturnValue:
    """One section of the page, as it is now (for the page's script to put in place)."""
    if name not in SECTIONS:
        abort(404)
    template = f"home/_{name.replace('-', '_')}.html"
    return render_template(template, **SECTIONS[name](backend()))


def _counts(client: Client) -> dict[str, Any]:
    schemas = client.locations.list_location_schemas()
    locations = sum(len(client.locations.list_locations(s.name)) for s in schemas)
    counts = [
        Count("Sensors", len(client.sensors.list_sensors()), "sensors.index"),
        Count("Locations", locations, "locations.index"),
        Count("Models", len(client.models.list_models()), "models.index"),
        Count("Services", len(client.services.list_services()), "services.index"),
    ]
    return {"counts": counts}


def _latest(client: Client) -> dict[str, Any]:
    latest, sensor_count = latest_readings(client)
    return {
        "latest": latest,
        "sensor_count": sensor_count,
        "stale_hours": int(STALE_AFTER.total_seconds() // 3600),
        "age_text": age_text,
    }


def _model_runs(client: Client) -> dict[str, Any]:
    return {"model_runs": last_model_runs(client)}


def _service_runs(client: Client) -> dict[str, Any]:
    return {"service_runs": last_service_runs(client)}


SECTIONS: dict[str, Callable[[Client], dict[str, Any]]] = {
    "counts": _counts,
    "latest": _latest,
    "model-runs": _model_runs,
    "service-runs": _service_runs,
}
