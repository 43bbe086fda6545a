from __future__ import annotations

import json
from typing import Any

from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms import ValidationError as FieldError
from wtforms.fields import Field
from wtforms.validators import DataRequired

from dtbase.schemas.services import HttpMethod
from frontend.forms import Form

METHOD_CHOICES: Any = [method.value for method in HttpMethod]


def json_object(_form: Any, field: Field) -> None:
    """The field holds a JSON object (the same rule json_editor.js checks in the browser)."""
    text = str(field.data or "").strip()
    if not text:
        if field.flags.required:
            raise FieldError("Enter a JSON object, e.g. {}.")
        return
    try:
        value = json.loads(text)
    except ValueError as error:
        raise FieldError(f"Not valid JSON: {error}.") from None
    if not isinstance(value, dict):
        raise FieldError("Must be a JSON object ({...}), not a list or a single value.")


def parsed(field: Field) -> dict[str, Any] | None:
    """A field checked by `json_object` as a dict (None when left empty)."""
    text = str(field.data or "").strip()
    return None if not text else dict(json.loads(text))


class RegisterServiceForm(Form):
    name = StringField("Name", validators=[DataRequired()])
    url = StringField("URL", validators=[DataRequired()])
    http_method = SelectField("HTTP method", choices=METHOD_CHOICES, default=HttpMethod.POST.value)


class ServiceForm(Form):
    """A form naming a service (delete it)."""

    service = HiddenField("Service", validators=[DataRequired()])


class ParameterSetForm(Form):
    service = HiddenField("Service", validators=[DataRequired()])
    name = StringField("Name", validators=[DataRequired()])
    parameters = TextAreaField("Parameters (JSON)", validators=[DataRequired(), json_object])


class DeleteParameterSetForm(Form):
    service = HiddenField("Service", validators=[DataRequired()])
    name = HiddenField("Name", validators=[DataRequired()])


class RunServiceForm(Form):
    service = HiddenField("Service", validators=[DataRequired()])
    parameter_set = SelectField("Parameter set", choices=[], validate_choice=False)
    parameters = TextAreaField("Parameters (JSON, optional)", validators=[json_object])
