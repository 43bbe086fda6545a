"""The base of every form: Flask-WTF's `FlaskForm`, which adds and checks a CSRF token.

Flask-WTF ships no type information, so it is imported here once; the rest of the frontend
subclasses `Form` and uses WTForms' typed fields. `csrf` protects every POST of the app,
including the ones that no form class reads (buttons, JavaScript calls).
"""

from __future__ import annotations

from typing import Any

from flask import flash
from flask_wtf import FlaskForm  # type: ignore[import-untyped, unused-ignore]
from flask_wtf.csrf import (  # type: ignore[import-untyped, unused-ignore]
    CSRFError,
    CSRFProtect,
)
from wtforms import ValidationError
from wtforms.fields import Field

from dtbase.schemas.users import EMAIL_PATTERN

csrf = CSRFProtect()

__all__ = ["CSRFError", "Form", "csrf", "email_address", "error_messages"]


class Form(FlaskForm):  # type: ignore[misc, unused-ignore]
    """A form with a CSRF token; `validate_on_submit()` is true for a valid POST."""


def email_address(_form: Any, field: Field) -> None:
    """The backend's rule for an email address, checked before the call."""
    if not EMAIL_PATTERN.fullmatch(str(field.data or "")):
        raise ValidationError("Enter a valid email address.")


def error_messages(form: Form) -> list[str]:
    """Each field error as one readable sentence, for flashing."""
    messages = []
    for field in form:
        for error in field.errors:
            messages.append(f"{field.label.text}: {error}")
    return messages


def valid_or_flashed(form: Form) -> bool:
    """Whether a submitted form is valid; if not, each problem is flashed for the next page."""
    if form.validate_on_submit():
        return True
    for message in error_messages(form):
        flash(message, "error")
    return False
