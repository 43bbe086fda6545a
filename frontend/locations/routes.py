"""The locations area: schemas, and each schema's locations (create, list, edit, delete)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from dtbase.client import Client
from dtbase.schemas.locations import LocationSchema
from frontend.auth import session as user_session
from frontend.backend import backend, flashing_errors
from frontend.forms import form_to_show, show_again, valid_or_flashed
from frontend.locations.forms import CreateSchemaForm, LocationForm, SchemaForm
from frontend.locations.values import (
    VALUE_PREFIX,
    InputProblem,
    coordinates_json,
    parse_coordinates,
    parse_identifiers,
    read_coordinates,
    shown,
)

bp = Blueprint("locations", __name__, template_folder="templates")


@bp.route("/locations/index")
@user_session.login_required
def index() -> ResponseReturnValue:
    return _index_page(backend(), request.args.get("schema"))


def _index_page(client: Client, wanted: str | None) -> ResponseReturnValue:
    """The page, showing the schema called `wanted` (default: the first)."""
    schemas = client.locations.list_location_schemas()
    selected = next((s for s in schemas if s.name == wanted), None)
    status = 200
    if wanted and selected is None:
        flash(f"There is no location schema {wanted!r}.", "error")
        status = 404
    if selected is None and schemas and not wanted:
        selected = schemas[0]
    rows = client.locations.list_locations(selected.name) if selected else []
    return (
        render_template(
            "locations/index.html",
            schemas=schemas,
            selected=selected,
            rows=rows,
            schema_form=form_to_show(CreateSchemaForm),
            value_prefix=VALUE_PREFIX,
            coordinates_json=coordinates_json,
            shown=shown,
        ),
        status,
    )


@bp.route("/locations/create-schema", methods=["POST"])
@user_session.login_required
def create_schema() -> ResponseReturnValue:
    form = CreateSchemaForm()
    name = str(form.name.data or "").strip()
    if valid_or_flashed(form):
        try:
            identifiers = parse_identifiers(str(form.identifiers.data))
        except InputProblem as problem:
            flash(str(problem), "error")
        else:
            description = str(form.description.data or "").strip() or None
            with flashing_errors():
                backend().locations.insert_location_schema(name, description, identifiers)
                flash(f"Location schema {name} created.", "success")
                return redirect(url_for("locations.index", schema=name))
    return show_again(form, lambda: _index_page(backend(), None))


@bp.route("/locations/delete-schema", methods=["POST"])
@user_session.login_required
def delete_schema() -> ResponseReturnValue:
    form = SchemaForm()
    if valid_or_flashed(form):
        with flashing_errors():
            backend().locations.delete_location_schema(str(form.schema.data))
            flash(f"Location schema {form.schema.data} deleted.", "success")
            return redirect(url_for("locations.index"))
    return _back(form)


@bp.route("/locations/create", methods=["POST"])
@user_session.login_required
def create() -> ResponseReturnValue:
    form = SchemaForm()
    if valid_or_flashed(form):
        with flashing_errors():
            schema = _schema(str(form.schema.data))
            coordinates = _coordinates(schema)
            if coordinates is not None:
                backend().locations.insert_location_for_schema(schema.name, coordinates)
                flash(f"Location {_describe(coordinates)} added to {schema.name}.", "success")
                return _back(form)
    return _again(form)


@bp.route("/locations/edit", methods=["POST"])
@user_session.login_required
def edit() -> ResponseReturnValue:
    form = LocationForm()
    if valid_or_flashed(form):
        with flashing_errors():
            schema = _schema(str(form.schema.data))
            old = _old_coordinates(form)
            new = _coordinates(schema)
            if old is not None and new is not None:
                backend().locations.edit_location(schema.name, old, new)
                flash(f"Location {_describe(old)} is now {_describe(new)}.", "success")
                return _back(form)
    return _again(form)


@bp.route("/locations/delete", methods=["POST"])
@user_session.login_required
def delete() -> ResponseReturnValue:
    form = LocationForm()
    if valid_or_flashed(form):
        old = _old_coordinates(form)
        if old is not None:
            with flashing_errors():
                backend().locations.delete_location(str(form.schema.data), old)
                flash(f"Location {_describe(old)} deleted.", "success")
    return _back(form)


def _schema(name: str) -> LocationSchema:
    return backend().locations.get_schema_details(name)


def _coordinates(schema: LocationSchema) -> dict[str, bool | int | float | str] | None:
    try:
        return parse_coordinates(schema.identifiers, request.form)
    except InputProblem as problem:
        flash(str(problem), "error")
        return None


def _old_coordinates(form: LocationForm) -> dict[str, bool | int | float | str] | None:
    try:
        return read_coordinates(str(form.coordinates.data))
    except InputProblem as problem:
        flash(str(problem), "error")
        return None


def _describe(coordinates: dict[str, bool | int | float | str]) -> str:
    return "(" + ", ".join(f"{name}={shown(value)}" for name, value in coordinates.items()) + ")"


def _again(form: SchemaForm | LocationForm) -> ResponseReturnValue:
    """The schema's page again, its inputs holding what was typed (read with `typed`)."""
    return show_again(form, lambda: _index_page(backend(), str(form.schema.data or "") or None))


def _back(form: SchemaForm | LocationForm) -> ResponseReturnValue:
    schema = str(form.schema.data or "")
    return redirect(
        url_for("locations.index", schema=schema) if schema else url_for("locations.index")
    )
