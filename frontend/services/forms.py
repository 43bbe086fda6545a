"""Forms of the services area: services, parameter sets (edited as JSON), running one now,
and schedules."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from wtforms import (
    BooleanField,
    DateTimeLocalField,
    FloatField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms import ValidationError as FieldError
from wtforms.fields import Field
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from dtbase.schemas.common import KEY_LENGTH, NAME_LENGTH, URL_LENGTH
from dtbase.schemas.services import MAX_INTERVAL_SECONDS, HttpMethod
from dtbase.schemas.triggers import MAX_DEBOUNCE_SECONDS
from frontend.forms import Form

METHOD_CHOICES: Any = [method.value for method in HttpMethod]
# The backend's limits, so that the browser stops the typing (`maxlength`) where its 422
# would refuse the form.
KEY = Length(max=KEY_LENGTH)
URL = Length(max=URL_LENGTH)
SETTING = Length(max=NAME_LENGTH)


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
    name = StringField("Name", validators=[DataRequired(), KEY])
    url = StringField("URL", validators=[DataRequired(), URL])
    http_method = SelectField("HTTP method", choices=METHOD_CHOICES, default=HttpMethod.POST.value)


class ServiceForm(Form):
    """A form naming a service (delete it)."""

    service = HiddenField("Service", validators=[DataRequired()])


class ParameterSetForm(Form):
    service = HiddenField("Service", validators=[DataRequired()])
    name = StringField("Name", validators=[DataRequired(), KEY])
    parameters = TextAreaField("Parameters (JSON)", validators=[DataRequired(), json_object])


class DeleteParameterSetForm(Form):
    service = HiddenField("Service", validators=[DataRequired()])
    name = HiddenField("Name", validators=[DataRequired()])


class RunServiceForm(Form):
    service = HiddenField("Service", validators=[DataRequired()])
    parameter_set = SelectField("Parameter set", choices=[], validate_choice=False)
    parameters = TextAreaField("Parameters (JSON, optional)", validators=[json_object])


class ScheduleForm(Form):
    """A new schedule. The form checks what goes together (a cron expression or an interval,
    a parameter set or parameters); the backend checks the cron expression and the time
    zone themselves, and its 422 is flashed. The ids keep clear of the page's other forms."""

    service = HiddenField("Service", validators=[DataRequired()], id="schedule-service")
    name = StringField("Name", validators=[DataRequired(), KEY], id="schedule-name")
    # No Optional() here: it would skip `validate_cron`, which checks that one is given.
    cron = StringField("Cron expression", validators=[SETTING], id="schedule-cron")
    interval_seconds = IntegerField(
        "Or every (seconds)",
        validators=[Optional(), NumberRange(min=1, max=MAX_INTERVAL_SECONDS)],
        id="schedule-interval",
    )
    start_at = DateTimeLocalField(
        "First run (UTC)", format="%Y-%m-%dT%H:%M", validators=[Optional()], id="schedule-start"
    )
    time_zone = StringField(
        "Time zone", default="UTC", validators=[DataRequired(), SETTING], id="schedule-time-zone"
    )
    parameter_set = SelectField(
        "Parameter set", choices=[], validate_choice=False, id="schedule-parameter-set"
    )
    parameters = TextAreaField(
        "Parameters (JSON, optional)", validators=[json_object], id="schedule-parameters"
    )
    enabled = BooleanField("Enabled", default=True, id="schedule-enabled")

    def validate_cron(self, field: StringField) -> None:
        given = bool(str(field.data or "").strip())
        if given == (self.interval_seconds.raw_data not in (None, [], [""])):
            raise FieldError("Give a cron expression or an interval in seconds (one of them).")

    def validate_start_at(self, field: DateTimeLocalField) -> None:
        if field.data is not None and self.interval_seconds.data is None:
            raise FieldError("Only an interval schedule has a first run.")

    def validate_parameters(self, field: TextAreaField) -> None:
        if str(field.data or "").strip() and self.parameter_set.data:
            raise FieldError("Choose a parameter set or give parameters, not both.")

    def timing(self) -> dict[str, Any]:
        """The keyword arguments of `insert_schedule` that say when it runs."""
        if self.interval_seconds.data is None:
            return {"cron": " ".join(str(self.cron.data).split())}
        start_at = self.start_at.data
        return {
            "interval_seconds": self.interval_seconds.data,
            "start_at": None if start_at is None else start_at.replace(tzinfo=UTC),
        }


class ScheduleNameForm(Form):
    """A button naming one schedule (enable, disable, delete)."""

    service = HiddenField("Service", validators=[DataRequired()])
    name = HiddenField("Name", validators=[DataRequired()])


class TriggerForm(Form):
    """A new event trigger: the events (a query, as JSON), what to send and the quiet time.
    The backend checks the query and the template's `{key}`s, and its 422 is flashed."""

    service = HiddenField("Service", validators=[DataRequired()], id="trigger-service")
    name = StringField("Name", validators=[DataRequired(), KEY], id="trigger-name")
    query = TextAreaField(
        "Events (query, JSON)",
        default='{"kind": "readings.stored"}',
        validators=[DataRequired(), json_object],
        id="trigger-query",
    )
    parameter_set = SelectField(
        "Parameter set", choices=[], validate_choice=False, id="trigger-parameter-set"
    )
    parameters = TextAreaField(
        "Parameters template (JSON, optional)", validators=[json_object], id="trigger-parameters"
    )
    debounce_seconds = FloatField(
        "Quiet time (seconds)",
        default=10.0,
        validators=[
            InputRequired(message="Enter a number of seconds."),
            NumberRange(min=0, max=MAX_DEBOUNCE_SECONDS),
        ],
        id="trigger-debounce",
    )
    enabled = BooleanField("Enabled", default=True, id="trigger-enabled")

    def validate_parameters(self, field: TextAreaField) -> None:
        if str(field.data or "").strip() and self.parameter_set.data:
            raise FieldError("Choose a parameter set or give a template, not both.")


class TriggerNameForm(Form):
    """A button naming one trigger (enable, disable, delete)."""

    service = HiddenField("Service", validators=[DataRequired()])
    name = HiddenField("Name", validators=[DataRequired()])


def describe_interval(seconds: int) -> str:
    """`3600` as "every 1 h"; seconds that are no whole unit stay seconds."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds % size == 0:
            return f"every {seconds // size} {unit}"
    return f"every {seconds} s"
