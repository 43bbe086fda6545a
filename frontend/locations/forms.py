from __future__ import annotations

from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from dtbase.schemas.common import NAME_LENGTH, TEXT_LENGTH
from frontend.forms import Form


class CreateSchemaForm(Form):
    name = StringField("Name", validators=[DataRequired(), Length(max=NAME_LENGTH)])
    description = StringField("Description", validators=[Length(max=TEXT_LENGTH)])
    identifiers = TextAreaField(
        "Identifiers",
        validators=[DataRequired()],
        description="One per line: name, units, datatype (units may be empty).",
    )


class SchemaForm(Form):
    """A form naming a schema: delete it, or add a location to it (values by identifier)."""

    schema = HiddenField("Schema", validators=[DataRequired()])


class LocationForm(Form):
    """A location of a schema, by all its coordinates (JSON, as listed)."""

    schema = HiddenField("Schema", validators=[DataRequired()])
    coordinates = HiddenField("Coordinates", validators=[DataRequired()])
