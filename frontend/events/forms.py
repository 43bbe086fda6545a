"""Forms of the subscriptions page: a webhook's name, URL and event query, and the forms
that name a subscription (enable, disable, delete, new secret)."""

from __future__ import annotations

from typing import Any

from wtforms import HiddenField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from dtbase.schemas.common import NAME_LENGTH, URL_LENGTH
from dtbase.schemas.events import EventKind, EventQuery
from frontend.forms import Form

# The query's fields other than `kind`, each typed as comma-separated values.
FILTERS = {
    "sensor": "Sensors",
    "sensor_type": "Sensor types",
    "measure": "Measures",
    "location": "Locations (ids)",
    "model": "Models",
    "scenario": "Scenarios",
    "service": "Services",
}
KIND_CHOICES: Any = [kind.value for kind in EventKind]


class SubscriptionForm(Form):
    """Create a subscription, or change one (`subscription` names which)."""

    subscription = HiddenField("Subscription")
    name = StringField("Name", validators=[DataRequired(), Length(max=NAME_LENGTH)])
    url = StringField("URL", validators=[DataRequired(), Length(max=URL_LENGTH)])
    kind = SelectMultipleField(
        "Kinds",
        choices=KIND_CHOICES,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    sensor = StringField(FILTERS["sensor"])
    sensor_type = StringField(FILTERS["sensor_type"])
    measure = StringField(FILTERS["measure"])
    location = StringField(FILTERS["location"])
    model = StringField(FILTERS["model"])
    scenario = StringField(FILTERS["scenario"])
    service = StringField(FILTERS["service"])

    def query(self) -> EventQuery:
        """The query the fields give (raises pydantic's ValidationError for a bad one)."""
        fields: dict[str, Any] = {"kind": list(self.kind.data or []) or None}
        for name in FILTERS:
            values = [value.strip() for value in str(self[name].data or "").split(",")]
            fields[name] = [value for value in values if value] or None
        return EventQuery.model_validate(fields)


def query_fields(query: EventQuery) -> dict[str, Any]:
    """A query as the form's fields (for the form that changes it)."""
    given = query.model_dump(exclude_none=True)
    fields: dict[str, Any] = {"kind": list(given.get("kind", []))}
    for name in FILTERS:
        fields[name] = ", ".join(given.get(name, []))
    return fields


def describe_query(query: EventQuery) -> str:
    """ "readings.stored; sensor: a, b": a query in one line ("every event" when empty)."""
    given = query.model_dump(exclude_none=True)
    parts = [", ".join(given.pop("kind"))] if "kind" in given else []
    parts += [f"{name}: {', '.join(values)}" for name, values in given.items()]
    return "; ".join(parts) or "every event"


class SubscriptionNameForm(Form):
    """A form naming a subscription (enable, disable, delete, new secret)."""

    subscription = HiddenField("Subscription", validators=[DataRequired()])
