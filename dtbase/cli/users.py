"""`dtbase user`: users, straight in the database (no running backend needed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from dtbase.cli.db import database
from dtbase.core.settings import DatabaseSettings
from dtbase.schemas.users import Role

if TYPE_CHECKING:
    from pydantic import BaseModel

T = TypeVar("T")
M = TypeVar("M", bound="BaseModel")

user_app = typer.Typer(help="Users, straight in the database (no running backend needed).")


@user_app.command("create")
def user_create(
    email: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
    role: Role = Role.user,
) -> None:
    """Create a user."""
    from dtbase.backend.auth.passwords import hash_password
    from dtbase.schemas.users import CreateUserRequest

    request = _validated(CreateUserRequest, email=email, password=password, role=role)
    password_hash = hash_password(request.password)
    _in_session(
        lambda s, store: store.create(
            s, email=request.email, password_hash=password_hash, role=request.role
        )
    )
    typer.echo(f"Created {email} ({role}).")


@user_app.command("list")
def user_list() -> None:
    """List users with their roles."""
    users = _in_session(lambda s, store: [(u.email, u.role) for u in store.list_all(s)])
    for email, role in users:
        typer.echo(f"{email}\t{role}")


@user_app.command("set-password")
def user_set_password(
    email: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
) -> None:
    """Set a user's password (their login sessions end)."""
    from dtbase.backend.auth.passwords import hash_password
    from dtbase.schemas.users import ChangePasswordRequest

    request = _validated(ChangePasswordRequest, email=email, password=password)
    password_hash = hash_password(request.password)
    _in_session(
        lambda s, store: store.set_password(s, email=request.email, password_hash=password_hash)
    )
    typer.echo(f"Password of {email} changed.")


@user_app.command("set-role")
def user_set_role(email: str, role: Role) -> None:
    """Set a user's role (never the last admin's to another): e.g. `admin` for a user
    created DTBase's way, without a role, who manages users."""
    _in_session(lambda s, store: store.set_role(s, email=email, role=role))
    typer.echo(f"{email} is now {role}.")


@user_app.command("delete")
def user_delete(email: str) -> None:
    """Delete a user (never the last admin)."""
    _in_session(lambda s, store: store.delete(s, email=email))
    typer.echo(f"Deleted {email}.")


def _in_session(work: Callable[[Any, Any], T]) -> T:
    """Run `work(session, users_store)` in one transaction on the migrated database."""
    from dtbase.backend.db import make_engine, make_session_factory
    from dtbase.backend.errors import DomainError
    from dtbase.backend.users import store

    with database(DatabaseSettings()) as url:
        engine = make_engine(url)
        try:
            with make_session_factory(engine).begin() as session:
                return work(session, store)
        except DomainError as error:
            typer.echo(f"Error: {error.detail}", err=True)
            raise typer.Exit(1) from error
        finally:
            engine.dispose()


def _validated(model: type[M], **fields: Any) -> M:
    from pydantic import ValidationError

    try:
        return model(**fields)
    except ValidationError as error:
        problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in error.errors())
        raise typer.BadParameter(problems) from error
