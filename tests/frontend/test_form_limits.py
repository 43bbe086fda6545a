"""Every field a user types a line into carries a length limit (WTForms renders it as
`maxlength`), so that the browser stops the typing where the backend's 422 would refuse
the form. The live pages' attributes are checked in test_kept_input.py."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from typing import Any

from wtforms import PasswordField, StringField
from wtforms.fields.core import UnboundField
from wtforms.validators import Length

import frontend
from frontend.forms import Form

# Comma-separated lists: the backend bounds each value, not the line.
UNBOUNDED = {
    ("SubscriptionForm", name)
    for name in ("sensor", "sensor_type", "measure", "location", "model", "scenario", "service")
}


def _typed_fields() -> Iterator[tuple[str, str, UnboundField[Any]]]:
    """(form, field, field) for every one-line text field of every form of the frontend."""
    for module_info in pkgutil.walk_packages(frontend.__path__, "frontend."):
        if not module_info.name.endswith(".forms"):
            continue
        module = importlib.import_module(module_info.name)
        for form_name, form in inspect.getmembers(module, inspect.isclass):
            if not issubclass(form, Form) or form.__module__ != module.__name__:
                continue
            for field_name, field in vars(form).items():
                if isinstance(field, UnboundField) and field.field_class in (
                    StringField,
                    PasswordField,
                ):
                    yield form_name, field_name, field


def test_every_typed_field_has_a_maximum_length() -> None:
    fields = list(_typed_fields())
    unbounded = [
        (form, name)
        for form, name, field in fields
        if (form, name) not in UNBOUNDED
        and not any(
            isinstance(validator, Length) and validator.max > 0
            for validator in field.kwargs.get("validators") or ()
        )
    ]

    assert len(fields) > 20, "the forms were not found"
    assert unbounded == []
