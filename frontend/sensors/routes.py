"""The sensors area: types with their measures, sensors (with type and location, by type),
one sensor's page with its location history. Every action reports the backend's answer as
a flash; a form that fails comes back with what was typed (`frontend.forms.show_again`)."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticError
from wtforms import SelectChoice  # type: ignore[attr-defined]  # stubs predate 3.3

from dtbase.client import Client
from dtbase.schemas.common import Msg
from dtbase.schemas.sensors import EditSensorMeasureRequest, EditSensorTypeRequest, SensorType
from dtbase.schemas.values import Scalar
from frontend.auth import session as user_session
from frontend.backend import backend, flashing_errors
from frontend.forms import form_to_show, show_again, valid_or_flashed
from frontend.sensors.catalog import (
    BadChoice,
    find_measure,
    find_type,
    measure_key,
    sensor_or_404,
)
from frontend.sensors.forms import (
    AssignLocationForm,
    DeleteForm,
    EditMeasureForm,
    EditSensorForm,
    EditSensorTypeForm,
    SensorForm,
    SensorTypeForm,
)
from frontend.sensors.mqtt import panel as mqtt_panel

bp = Blueprint("sensors", __name__, template_folder="templates")

_CHOICE = TypeAdapter(dict[str, Any])
# A type's page counts its sensors up to this many ("more than 25" beyond).
PAGE_SIZE = 25


@bp.route("/sensors/index")
@user_session.login_required
def index() -> ResponseReturnValue:
    client = backend()
    types = client.sensors.list_sensor_types()
    type_name = request.args.get("type") or None
    try:
        find_type(types, type_name)
    except BadChoice as error:
        flash(str(error), "error")
        return redirect(url_for("sensors.index"))
    return _index_page(client, type_name, types)


def _index_page(
    client: Client, type_name: str | None = None, types: list[SensorType] | None = None
) -> str:
    types = client.sensors.list_sensor_types() if types is None else types
    # Every sensor (of the type): the page's table sorts, searches and pages them.
    sensors = client.sensors.list_sensors_details(type_name)
    return render_template(
        "sensors/index.html",
        types=types,
        type_name=type_name,
        sensors=sensors,
        type_form=_type_form(client),
        sensor_form=_sensor_form(client, form_to_show(SensorForm, type_name=type_name), types),
    )


@bp.route("/sensors/add-type", methods=["POST"])
@user_session.login_required
def add_type() -> ResponseReturnValue:
    client = backend()
    known = client.sensors.list_measures()
    form = SensorTypeForm()
    form.set_measures(known)
    if valid_or_flashed(form):
        measures = form.measures(known)
        if not measures:
            flash("Choose or add at least one measure.", "error")
        else:
            with flashing_errors():
                name = str(form.data["name"]).strip()
                client.sensors.insert_sensor_type(name, measures, form.description.data or None)
                flash(f"Sensor type {name} added.", "success")
                return redirect(url_for("sensors.index"))
    return show_again(form, lambda: _index_page(client))


@bp.route("/sensors/add", methods=["POST"])
@user_session.login_required
def add() -> ResponseReturnValue:
    client = backend()
    form = _sensor_form(client, SensorForm())
    if valid_or_flashed(form):
        identifier = str(form.unique_identifier.data).strip()
        with flashing_errors():
            client.sensors.insert_sensor(
                str(form.type_name.data),
                identifier,
                form.name.data or None,
                form.notes.data or None,
            )
            flash(f"Sensor {identifier} added.", "success")
            return redirect(url_for("sensors.sensor", unique_identifier=identifier))
    return show_again(form, lambda: _index_page(client))


@bp.route("/sensors/sensor/<path:unique_identifier>")
@user_session.login_required
def sensor(unique_identifier: str) -> ResponseReturnValue:
    return _sensor_page(backend(), unique_identifier)


def _sensor_page(client: Client, unique_identifier: str) -> str:
    found = sensor_or_404(client, unique_identifier)
    edit_form = form_to_show(EditSensorForm, name=found.name or "", notes=found.notes or "")
    return render_template(
        "sensors/sensor.html",
        sensor=found,
        type_name=found.type_name,
        history=client.sensors.list_sensor_locations(unique_identifier),
        edit_form=edit_form,
        delete_form=DeleteForm(formdata=None),
        location_form=_location_form(client, form_to_show(AssignLocationForm)),
        mqtt=mqtt_panel(client, unique_identifier, found.type_name),
    )


@bp.route("/sensors/edit/<path:unique_identifier>", methods=["POST"])
@user_session.login_required
def edit(unique_identifier: str) -> ResponseReturnValue:
    form = EditSensorForm()
    if valid_or_flashed(form):
        with flashing_errors():
            backend().sensors.edit_sensor(
                unique_identifier, str(form.name.data or ""), str(form.notes.data or "")
            )
            flash(f"Sensor {unique_identifier} saved.", "success")
            return redirect(url_for("sensors.sensor", unique_identifier=unique_identifier))
    return show_again(form, lambda: _sensor_page(backend(), unique_identifier))


@bp.route("/sensors/delete/<path:unique_identifier>", methods=["POST"])
@user_session.login_required
def delete(unique_identifier: str) -> ResponseReturnValue:
    if valid_or_flashed(DeleteForm()):
        with flashing_errors():
            backend().sensors.delete_sensor(unique_identifier)
            flash(f"Sensor {unique_identifier} deleted.", "success")
            return redirect(url_for("sensors.index"))
    return redirect(url_for("sensors.sensor", unique_identifier=unique_identifier))


@bp.route("/sensors/assign-location/<path:unique_identifier>", methods=["POST"])
@user_session.login_required
def assign_location(unique_identifier: str) -> ResponseReturnValue:
    client = backend()
    form = _location_form(client, AssignLocationForm())
    if valid_or_flashed(form):
        schema_name, coordinates = _location_choice(str(form.location.data))
        with flashing_errors():
            client.sensors.insert_sensor_location(
                unique_identifier, schema_name, coordinates, form.installed.data
            )
            flash(f"Sensor {unique_identifier} installed at {_describe(coordinates)}.", "success")
            return redirect(url_for("sensors.sensor", unique_identifier=unique_identifier))
    return show_again(form, lambda: _sensor_page(client, unique_identifier))


@bp.route("/sensors/type/<path:type_name>")
@user_session.login_required
def sensor_type(type_name: str) -> ResponseReturnValue:
    return _type_page(backend(), type_name)


def _type_page(client: Client, type_name: str) -> str:
    found = next((t for t in client.sensors.list_sensor_types() if t.name == type_name), None)
    if found is None:
        abort(404)
    measure_forms = [
        form_to_show(
            EditMeasureForm,
            match=("measure",),
            measure=measure_key(m),
            name=m.name,
            units=m.units or "",
            datatype=m.datatype.value,
        )
        for m in found.measures
    ]
    return render_template(
        "sensors/type.html",
        sensor_type=found,
        sensor_count=len(client.sensors.list_sensors(type_name, limit=PAGE_SIZE + 1)),
        page_size=PAGE_SIZE,
        edit_form=form_to_show(
            EditSensorTypeForm, name=found.name, description=found.description or ""
        ),
        measure_forms=measure_forms,
        delete_form=DeleteForm(formdata=None),
    )


@bp.route("/sensors/edit-type/<path:type_name>", methods=["POST"])
@user_session.login_required
def edit_type(type_name: str) -> ResponseReturnValue:
    form = EditSensorTypeForm()
    if valid_or_flashed(form):
        new_name = str(form.name.data).strip()
        # Sent as the wire model, so that an emptied description is cleared (null).
        body = EditSensorTypeRequest(
            type_name=type_name,
            description=str(form.description.data or "").strip() or None,
            **({"new_name": new_name} if new_name != type_name else {}),
        )
        with flashing_errors():
            backend().post(
                "/sensor/edit-sensor-type", body.model_dump(mode="json", exclude_unset=True), Msg
            )
            flash(f"Sensor type {new_name} saved.", "success")
            return redirect(url_for("sensors.sensor_type", type_name=new_name))
    return show_again(form, lambda: _type_page(backend(), type_name))


@bp.route("/sensors/delete-type/<path:type_name>", methods=["POST"])
@user_session.login_required
def delete_type(type_name: str) -> ResponseReturnValue:
    if valid_or_flashed(DeleteForm()):
        with flashing_errors():
            backend().sensors.delete_sensor_type(type_name)
            flash(f"Sensor type {type_name} deleted.", "success")
            return redirect(url_for("sensors.index"))
    return redirect(url_for("sensors.sensor_type", type_name=type_name))


@bp.route("/sensors/edit-measure/<path:type_name>", methods=["POST"])
@user_session.login_required
def edit_measure(type_name: str) -> ResponseReturnValue:
    """Change one of the type's measures (name, units, datatype); other types that share
    the measure change with it."""
    client = backend()
    form = EditMeasureForm()
    if valid_or_flashed(form):
        try:
            found = find_type(client.sensors.list_sensor_types(), type_name)
            if found is None:
                abort(404)
            measure = find_measure(found, str(form.measure.data))
        except BadChoice as error:
            flash(str(error), "error")
            return redirect(url_for("sensors.sensor_type", type_name=type_name))
        new_name = str(form.name.data).strip()
        new_units = str(form.units.data or "").strip() or None
        changes: dict[str, Any] = {}
        if new_name != measure.name:
            changes["new_name"] = new_name
        if new_units != measure.units:
            changes["new_units"] = new_units  # None removes the units
        if form.datatype.data != measure.datatype.value:
            changes["new_datatype"] = form.datatype.data
        if not changes:
            flash(f"Nothing to change in the measure {measure.name}.", "info")
            return redirect(url_for("sensors.sensor_type", type_name=type_name))
        with flashing_errors():
            body = EditSensorMeasureRequest(name=measure.name, units=measure.units, **changes)
            client.post(
                "/sensor/edit-sensor-measure", body.model_dump(mode="json", exclude_unset=True), Msg
            )
            flash(f"Measure {new_name} saved.", "success")
            return redirect(url_for("sensors.sensor_type", type_name=type_name))
    return show_again(form, lambda: _type_page(client, type_name))


def _type_form(client: Client) -> SensorTypeForm:
    form = form_to_show(SensorTypeForm)
    form.set_measures(client.sensors.list_measures())
    return form


def _sensor_form(
    client: Client, form: SensorForm, types: list[SensorType] | None = None
) -> SensorForm:
    """`form` choosing among the sensor types (`types`, if already fetched)."""
    types = client.sensors.list_sensor_types() if types is None else types
    names: Any = [sensor_type.name for sensor_type in types]
    form.type_name.choices = names
    return form


def _location_form(client: Client, form: AssignLocationForm) -> AssignLocationForm:
    """`form` choosing among every location of every schema, as one choice each."""
    choices: Any = []
    for schema in client.locations.list_location_schemas():
        for row in client.locations.list_locations(schema.name):
            coordinates = {key: value for key, value in row.items() if key != "id"}
            value = json.dumps({"schema": schema.name, "coordinates": coordinates})
            choices.append(SelectChoice(value, f"{schema.name}: {_describe(coordinates)}"))
    form.location.choices = choices
    return form


def _location_choice(value: str) -> tuple[str, dict[str, Scalar]]:
    try:
        choice = _CHOICE.validate_json(value)
    except PydanticError:  # not reachable: the form accepts its own choices only
        abort(400)
    return str(choice["schema"]), dict(choice["coordinates"])


def _describe(coordinates: dict[str, Scalar]) -> str:
    return ", ".join(f"{key} {value}" for key, value in coordinates.items())
