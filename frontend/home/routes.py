"""The home page: counts, the latest readings of the sensors, the last runs."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from dtbase.client import Client
from frontend.auth import session as user_session
from frontend.backend import backend
from frontend.home.dashboard import (
    STALE_AFTER,
    age_text,
    last_model_runs,
    last_service_runs,
    latest_readings,
)

bp = Blueprint("home", __name__, template_folder="templates")


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
    latest, sensor_count = latest_readings(client)
    return render_template(
        "home/index.html",
        user=user_session.current(),
        counts=_counts(client),
        latest=latest,
        sensor_count=sensor_count,
        stale_hours=int(STALE_AFTER.total_seconds() // 3600),
        age_text=age_text,
        model_runs=last_model_runs(client),
        service_runs=last_service_runs(client),
    )


def _counts(client: Client) -> list[Count]:
    schemas = client.locations.list_location_schemas()
    locations = sum(len(client.locations.list_locations(s.name)) for s in schemas)
    return [
        Count("Sensors", len(client.sensors.list_sensors()), "sensors.index"),
        Count("Locations", locations, "locations.index"),
        Count("Models", len(client.models.list_models()), "models.index"),
        Count("Services", len(client.services.list_services()), "services.index"),
    ]
