"""The base of every form: Flask-WTF's `FlaskForm`, which adds and checks a CSRF token;
and how a form that failed comes back with what was typed.

Flask-WTF ships no type information, so it is imported here once; the rest of the frontend
subclasses `Form` and uses WTForms' typed fields. `csrf` protects every POST of the app,
including the ones that no form class reads (buttons, JavaScript calls).

A POST that succeeds redirects (post/redirect/get). One that fails (a field the form
refuses, a 4xx of the backend) shows its page again in the same request, with a 4xx status
and the flashed reasons: `show_again(form, page)`. The page builds its forms with
`form_to_show`, which hands back the failed form (so every field keeps its value, a
multi-row text or a set of ticked boxes whole), and hand-written inputs read their value
with `typed(...)`. Passwords are never written back: WTForms' `PasswordField` leaves its
value out of the page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import flash, g, make_response, request
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm  # type: ignore[import-untyped, unused-ignore]
from flask_wtf.csrf import (  # type: ignore[import-untyped, unused-ignore]
    CSRFError,
    CSRFProtect,
)
from wtforms import ValidationError
from wtforms.fields import Field

from dtbase.schemas.users import EMAIL_PATTERN

csrf = CSRFProtect()

__all__ = [
    "CSRFError",
    "Form",
    "csrf",
    "email_address",
    "error_messages",
    "form_to_show",
    "show_again",
    "typed",
]

# The status of a page shown again: a form's own checks failed (or the backend's 4xx,
# whose status `frontend.backend.flashing_errors` records instead).
INVALID_INPUT = 422
_KEPT = "dt_kept_form"
_STATUS = "dt_error_status"


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


@dataclass(frozen=True)
class _Kept:
    endpoint: str  # the view the failed POST went to
    form: Form | None  # None for a hand-written form (its inputs are read by `typed`)


F = TypeVar("F", bound=Form)


def record_error_status(status: int) -> None:
    """The status the page shown again answers with (the first error's)."""
    g.setdefault(_STATUS, status)


def show_again(form: Form | None, page: Callable[[], ResponseReturnValue]) -> ResponseReturnValue:
    """The page the failed `form` was on, built by `page`, with what was typed in it.

    `form` is None for a hand-written form; its inputs read their values with `typed`.
    """
    g.setdefault(_KEPT, _Kept(str(request.endpoint), form))
    response = make_response(page())
    if response.status_code < 400:
        response.status_code = g.get(_STATUS, INVALID_INPUT)
    return response


def form_to_show(
    form_class: type[F], *, endpoint: str | None = None, match: tuple[str, ...] = (), **data: Any
) -> F:
    """A form of `form_class` for a page: filled with `data`, unless this request is a
    failed POST of such a form (sent to `endpoint`, if given, and whose `match` fields hold
    the values `data` gives them), which comes back as it was sent.

    Never bound to the request otherwise: a page shown again after a failed POST has
    other forms whose fields may share names with the failed one.
    """
    kept: _Kept | None = g.get(_KEPT)
    if (
        kept is not None
        and type(kept.form) is form_class
        and endpoint in (None, kept.endpoint)
        and all(kept.form[name].data == data.get(name) for name in match)
    ):
        return kept.form
    return form_class(formdata=None, **data)


def typed(endpoint: str, name: str, default: Any = "", /, **match: str) -> Any:
    """For a hand-written input: its value as sent, if this request is a failed POST to
    `endpoint` whose `match` fields hold the given values; else `default`."""
    kept: _Kept | None = g.get(_KEPT)
    if kept is None or kept.endpoint != endpoint:
        return default
    if any(request.form.get(field) != value for field, value in match.items()):
        return default
    return request.form.get(name, default)
