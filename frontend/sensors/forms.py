"""Forms of the sensors area."""

from __future__ import annotations

import json
from typing import Any

from wtforms import (  # type: ignore[attr-defined]  # the stubs predate SelectChoice
    DateTimeLocalField,
    HiddenField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms import ValidationError as FieldError
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from dtbase.schemas.common import NAME_LENGTH, TEXT_LENGTH
from dtbase.schemas.sensors import SensorMeasure
from dtbase.schemas.values import ValueDatatype
from frontend.forms import Form

DATATYPES = [datatype.value for datatype in ValueDatatype]
DATATYPE_CHOICES: Any = DATATYPES  # plain values: their own labels
# The backend's limit on names and units, also shown as the inputs' `maxlength`.
NAME = Length(max=NAME_LENGTH)
TEXT = Length(max=TEXT_LENGTH)


class SensorTypeForm(Form):
    name = StringField("Name", validators=[DataRequired(), NAME])
    description = StringField("Description", validators=[Optional(), TEXT])
    # One checkbox row per measure, whose name and units show whole.
    existing = SelectMultipleField(
        "Existing measures",
        choices=[],
        validate_choice=True,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    new_measures = TextAreaField(
        "New measures",
        validators=[Optional()],
        description="One a line: name, units, datatype (units may be empty).",
    )

    def set_measures(self, measures: list[SensorMeasure]) -> None:
        choices: Any = [
            SelectChoice(_key(m), f"{m.name} ({m.units or 'no units'}, {m.datatype})")
            for m in measures
        ]
        self.existing.choices = choices

    def validate_new_measures(self, field: TextAreaField) -> None:
        parse_new_measures(str(field.data or ""))

    def measures(self, known: list[SensorMeasure]) -> list[SensorMeasure]:
        """The chosen existing measures followed by the new ones."""
        chosen = set(self.existing.data or [])
        picked = [m for m in known if _key(m) in chosen]
        return picked + parse_new_measures(str(self.new_measures.data or ""))


def _key(measure: SensorMeasure) -> str:
    return json.dumps([measure.name, measure.units])


def parse_new_measures(text: str) -> list[SensorMeasure]:
    measures = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split(",")]
        if len(parts) != 3 or not parts[0]:
            raise FieldError(f"line {number}: write name, units, datatype")
        name, units, datatype = parts
        if max(len(name), len(units)) > NAME_LENGTH:
            raise FieldError(
                f"line {number}: a name or units may have at most {NAME_LENGTH} characters"
            )
        if datatype not in DATATYPES:
            raise FieldError(f"line {number}: the datatype must be one of {', '.join(DATATYPES)}")
        measures.append(
            SensorMeasure(name=name, units=units or None, datatype=ValueDatatype(datatype))
        )
    return measures


class SensorForm(Form):
    type_name = SelectField("Type", choices=[], validators=[DataRequired()])
    unique_identifier = StringField("Unique identifier", validators=[DataRequired(), NAME])
    name = StringField("Name", validators=[Optional(), NAME])
    notes = StringField("Notes", validators=[Optional(), TEXT])


class EditSensorForm(Form):
    name = StringField("Name", validators=[NAME])
    notes = StringField("Notes", validators=[TEXT])


class DeleteForm(Form):
    """A button: only the CSRF token."""


class AssignLocationForm(Form):
    location = SelectField("Location", choices=[], validators=[DataRequired()])
    installed = DateTimeLocalField(
        "Installed at (UTC)", format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )


class EditSensorTypeForm(Form):
    name = StringField("Name", validators=[DataRequired(), NAME])
    description = StringField("Description", validators=[Optional(), TEXT])


class EditMeasureForm(Form):
    """One measure of a type page, named by its current key (`measure_key`)."""

    measure = HiddenField("Measure", validators=[DataRequired()])
    name = StringField("Name", validators=[DataRequired(), NAME])
    units = StringField("Units", validators=[Optional(), NAME])
    datatype = SelectField("Datatype", choices=DATATYPE_CHOICES)
