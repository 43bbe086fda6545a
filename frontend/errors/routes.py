"""The app's error handlers (registered app-wide by this blueprint).

- an HTTP error of the frontend itself (404, 405, ...) and any crash (500): a page;
- a backend 401 (tokens expired and not refreshable, user deleted): log in again, then
  come back to the page;
- a backend 4xx: on a form's POST, a flash with the backend's detail and back to the
  page; on a page, the error page with the detail;
- a backend 5xx: a 502 page; the backend unreachable: a 503 page saying how to fix it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from dtbase.client import ApiError, describe
from frontend.auth import session as user_session
from frontend.backend import backend_url
from frontend.forms import CSRFError

logger = logging.getLogger(__name__)

bp = Blueprint("errors", __name__, template_folder="templates")

UNREACHABLE = 503
BACKEND_FAILED = 502


@dataclass(frozen=True)
class ErrorPage:
    title: str
    what_happened: str
    what_to_do: str


PAGES = {
    400: ErrorPage(
        "Bad request",
        "The request could not be used as it was sent.",
        "Go back, check what you entered and try again.",
    ),
    401: ErrorPage(
        "Please log in",
        "This page is only for logged-in users.",
        "Log in, and you will be brought back here.",
    ),
    403: ErrorPage(
        "Not allowed",
        "Your account's role does not allow this.",
        "Ask an administrator for a role that allows it, or go back to the home page.",
    ),
    404: ErrorPage(
        "Not found",
        "There is nothing at this address, or the thing it refers to no longer exists.",
        "Check the address, or start again from the home page.",
    ),
    405: ErrorPage(
        "Method not allowed",
        "This address does not accept that kind of request.",
        "Use the links and buttons of the pages rather than typing the address.",
    ),
    409: ErrorPage(
        "Conflict",
        "That clashes with something that already exists.",
        "Choose another name, or change the existing one instead.",
    ),
    422: ErrorPage(
        "Invalid input",
        "Some of the values sent were not accepted.",
        "Go back, correct the values named below and try again.",
    ),
    500: ErrorPage(
        "Something went wrong",
        "The frontend hit an unexpected error; it has been logged.",
        "Try again. If it keeps happening, tell whoever runs this dtbase: the frontend's "
        "log has the details.",
    ),
    BACKEND_FAILED: ErrorPage(
        "The backend failed",
        "The dtbase backend answered with an error of its own.",
        "Try again in a moment. If it keeps happening, the backend's log says why.",
    ),
    UNREACHABLE: ErrorPage(
        "Backend unreachable",
        "The frontend cannot reach the dtbase backend right now.",
        "Check that the backend is running (`dtbase up` starts everything), then try again.",
    ),
}


@bp.app_errorhandler(HTTPException)
def http_error(error: HTTPException) -> ResponseReturnValue:
    code = error.code or 500
    detail = None if code in PAGES else error.description
    return render_error(code, detail)


@bp.app_errorhandler(CSRFError)
def csrf_error(error: HTTPException) -> ResponseReturnValue:
    page = ErrorPage(
        "Form expired",
        "The form was sent without a valid security token: it was opened before your "
        "session changed, or it did not come from this site.",
        "Go back, reload the page and send the form again.",
    )
    return render_error(400, error.description, page=page)


@bp.app_errorhandler(ApiError)
def backend_error(error: ApiError) -> ResponseReturnValue:
    if error.status_code == 401:
        user_session.end()
        flash("Your session has expired: please log in again.", "info")
        return redirect(url_for("auth.login", next=user_session.current_page()))
    if 400 <= error.status_code < 500:
        return _client_error(error.status_code, describe(error.detail))
    logger.error("Backend error: %s", error)
    return render_error(BACKEND_FAILED, f"{error.status_code}: {describe(error.detail)}")


@bp.app_errorhandler(httpx.TransportError)
def backend_unreachable(error: httpx.TransportError) -> ResponseReturnValue:
    logger.warning("Backend unreachable: %r", error)
    detail = None
    if current_app.config.get("DT_SHOW_BACKEND_URL"):
        detail = f"The frontend looks for it at {backend_url()} (DT_BACKEND_URL)."
    return render_error(UNREACHABLE, detail)


def _client_error(status: int, detail: str) -> ResponseReturnValue:
    if request.method == "POST":
        flash(detail, "error")
        return redirect(user_session.safe_next(request.referrer) or url_for("home.index"))
    return render_error(status, detail)


def render_error(
    status: int, detail: str | None = None, *, page: ErrorPage | None = None
) -> ResponseReturnValue:
    page = page or PAGES.get(status) or PAGES[500 if status >= 500 else 400]
    return (
        render_template(
            "errors/error.html",
            status=status,
            page=page,
            detail=detail,
            logged_in=user_session.current_or_none() is not None,
            retry=_retry_url(status),
        ),
        status,
    )


def _retry_url(status: int) -> str | None:
    """Where "Try again" goes: the same page, for a failure that may pass."""
    if request.method != "GET" or status not in (BACKEND_FAILED, UNREACHABLE):
        return None
    return user_session.current_page()
