"""Who is logged in: Flask-Login over the user's own (signed) session cookie.

The session holds the user's email, role and backend token pair, and nothing is kept in
the process: two browsers of the same user have two independent token pairs, and any
worker process can serve any request. Flask-Login ships no type information, so it is
imported here once and given typed wrappers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

import flask_login  # type: ignore[import-untyped, unused-ignore]
from flask import request, session

from dtbase.schemas.auth import TokenPair
from dtbase.schemas.users import Role

P = ParamSpec("P")
R = TypeVar("R")

USER_KEY = "dt_user"
TOKENS_KEY = "dt_tokens"

login_manager = flask_login.LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please log in to see this page."
login_manager.login_message_category = "info"


@dataclass(frozen=True)
class SessionUser:
    """The logged-in user as Flask-Login sees it, built from the session on each request."""

    email: str
    role: Role

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return self.email

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin


def load_user(user_id: str) -> SessionUser | None:
    """Flask-Login's user loader: the user stored in this session, if it has tokens."""
    stored = session.get(USER_KEY)
    if not isinstance(stored, dict) or stored.get("email") != user_id:
        return None
    if stored_tokens() is None:
        return None
    try:
        return SessionUser(email=user_id, role=Role(str(stored.get("role"))))
    except ValueError:
        return None


login_manager.user_loader(load_user)


def login_required(view: Callable[P, R]) -> Callable[P, R]:
    """Send anonymous visitors to the login page, with `next` set to where they were going.

    Put it beneath `@bp.route`: a decorator above the route would never be applied.
    """
    return cast(Callable[P, R], flask_login.login_required(view))


def current() -> SessionUser:
    """The logged-in user (call only from views under `login_required`)."""
    user = flask_login.current_user._get_current_object()
    if not isinstance(user, SessionUser):
        raise RuntimeError("current() called without a logged-in user")
    return user


def current_or_none() -> SessionUser | None:
    user: Any = flask_login.current_user
    if user is None or not user.is_authenticated:
        return None
    found = user._get_current_object()
    return found if isinstance(found, SessionUser) else None


def start(email: str, role: Role, tokens: TokenPair) -> None:
    """Log in: a fresh session holding the user and the backend's tokens."""
    session.clear()
    session[USER_KEY] = {"email": email, "role": role.value}
    store_tokens(tokens)
    flask_login.login_user(SessionUser(email=email, role=role))


def end() -> None:
    """Log out: forget the user and the tokens."""
    flask_login.logout_user()
    session.clear()


def set_role(role: Role) -> None:
    """Record a role the backend reported (it may have changed since logging in)."""
    user = current_or_none()
    if user is not None and user.role != role:
        session[USER_KEY] = {"email": user.email, "role": role.value}
        flask_login.login_user(SessionUser(email=user.email, role=role))


def stored_tokens() -> TokenPair | None:
    stored = session.get(TOKENS_KEY)
    if not isinstance(stored, dict):
        return None
    try:
        return TokenPair.model_validate(stored)
    except ValueError:
        return None


def store_tokens(tokens: TokenPair) -> None:
    session[TOKENS_KEY] = tokens.model_dump()


def safe_next(target: str | None) -> str | None:
    """`target` as a path on this site, or None when it points anywhere else.

    Only a local path (`/sensors?type=x`) or an absolute URL of this very host is accepted,
    so a crafted login link cannot send the user to another site after logging in.
    """
    if not target or "\\" in target or any(ord(char) < 32 for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        if parts.scheme not in ("http", "https") or parts.netloc != request.host:
            return None
        return urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment))
    if not parts.path.startswith("/") or parts.path.startswith("//"):
        return None
    return target


def current_page() -> str | None:
    """The page to come back to after logging in again: this one, or the one a form was on."""
    if request.method == "GET":
        return request.full_path.removesuffix("?")
    return safe_next(request.referrer)
