"""What every command that talks to a running backend shares: its options, the password
lookup, the one way to fail, and time parsing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, NoReturn

import httpx
import typer
from pydantic import SecretStr

from dtbase.client import ApiError, Client
from dtbase.core.settings import ClientSettings, DtSettings

__all__ = [
    "BackendOption",
    "EmailOption",
    "PasswordOption",
    "backend_url",
    "describe",
    "fail",
    "logged_in",
    "password",
    "utc_time",
]

BackendOption = Annotated[
    str | None, typer.Option("--backend-url", help="Backend URL [DT_BACKEND_URL].")
]
EmailOption = Annotated[str, typer.Option(help="Log in as this user.")]
PasswordOption = Annotated[
    str | None,
    typer.Option(
        help="Password [DT_DEFAULT_USER_PASS, or the one `dtbase up` keeps].", show_default=False
    ),
]


class _Settings(ClientSettings, DtSettings):
    default_user_pass: SecretStr | None = None


def backend_url(given: str | None) -> str:
    """`--backend-url`, else DT_BACKEND_URL (or its default)."""
    return given or _Settings().backend_url


def password(given: str | None) -> str:
    """`--password`, else DT_DEFAULT_USER_PASS, else the password `dtbase up` keeps in the
    data directory (so commands work beside `up` with nothing set)."""
    settings = _Settings()
    secret = given
    if secret is None and settings.default_user_pass is not None:
        secret = settings.default_user_pass.get_secret_value()
    kept = settings.kept_password_file
    if not secret and kept.is_file():
        secret = kept.read_text().strip()
    if not secret:
        fail("No password: give --password or set DT_DEFAULT_USER_PASS")
    return secret


def fail(message: str) -> NoReturn:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(1)


def describe(error: ApiError) -> str:
    """The backend's detail as a sentence (one description, the client's)."""
    return error.description


def utc_time(text: str) -> datetime:
    """An ISO 8601 time (`Z` allowed) as an aware UTC datetime; a naive one is read as UTC.

    Raises ValueError with a message for the user.
    """
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise ValueError(f"{text!r} is not an ISO 8601 time") from error
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@contextmanager
def logged_in(given_url: str | None, email: str, given_password: str | None) -> Iterator[Client]:
    """A client logged in to the backend; login, transport and API errors end the command
    with their message."""
    url = backend_url(given_url)
    secret = password(given_password)
    try:
        client = Client.logged_in(url, email, secret)
    except ApiError as error:
        fail(f"Cannot log in to {url}: {describe(error)}")
    except httpx.TransportError as error:
        fail(f"Cannot reach the backend at {url} ({error}): is it running?")
    try:
        yield client
    except ApiError as error:
        fail(describe(error))
    finally:
        client.close()
