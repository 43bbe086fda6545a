"""The backend as views see it: `backend()` is a `dtbase.client.Client` for this request.

The client carries the logged-in user's tokens from the session. When the access token has
expired, the client refreshes it and retries; `save_refreshed_tokens` (run after every
request) writes the new pair back into the session, so the next request starts with it.
One `httpx.Client` (a connection pool) is shared by the whole app; the tokens never are.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from flask import Flask, Response, current_app, flash, g
from pydantic import ValidationError

from dtbase.client import ApiError, Client, describe
from frontend.auth import session as user_session
from frontend.forms import INVALID_INPUT, record_error_status

HTTP_EXTENSION = "dtbase_http"


def install(app: Flask, backend_url: str, *, timeout: float = 30.0) -> None:
    app.extensions[HTTP_EXTENSION] = httpx.Client(base_url=backend_url, timeout=timeout)
    app.after_request(save_refreshed_tokens)


def anonymous_client() -> Client:
    """A client without tokens (for logging in)."""
    return Client(http=_http())


def backend() -> Client:
    """The client of the current request, logged in with the session's tokens."""
    client: Client | None = g.get("dt_client")
    if client is None:
        client = Client(http=_http(), tokens=user_session.stored_tokens())
        g.dt_client = client
    return client


def save_refreshed_tokens(response: Response) -> Response:
    """After a request: keep the tokens the client refreshed, unless the user logged out."""
    client: Client | None = g.get("dt_client")
    stored = user_session.stored_tokens()
    if client is None or client.tokens is None or stored is None:
        return response  # no backend call, or logged out meanwhile
    if client.tokens != stored:
        user_session.store_tokens(client.tokens)
    return response


def is_client_error(error: ApiError) -> bool:
    """A 4xx the user can act on; 401 is not one of them (it means: log in again)."""
    return 400 <= error.status_code < 500 and error.status_code != 401


@contextmanager
def flashing_errors() -> Iterator[None]:
    """Show a backend 4xx (or input the client refused) as a flash instead of failing.

    Used around the calls of a form's POST view, which redirects when they succeed and
    else shows its page again (`frontend.forms.show_again`) with the error's status.
    Anything else (a 401, a 5xx, an unreachable backend) goes on to the error handlers.
    """
    try:
        yield
    except ApiError as error:
        if not is_client_error(error):
            raise
        record_error_status(error.status_code)
        flash(describe(error.detail), "error")
    except ValidationError as error:
        record_error_status(INVALID_INPUT)
        flash(describe(error.errors()), "error")


def backend_url() -> str:
    return str(_http().base_url).rstrip("/")


def _http() -> httpx.Client:
    http: httpx.Client = current_app.extensions[HTTP_EXTENSION]
    return http
