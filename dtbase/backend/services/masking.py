"""Secrets in service parameters and URLs, hidden from everyone but admins.

Parameter sets, schedules and run logs hold what is sent to services, which may include
API keys; a service URL may hold an Azure Function key (`?code=`). Readers who are not
admins get the value under every key that looks like a secret replaced by `MASK`, at any
depth; admins get everything. An edit that sends `MASK` back under such a key keeps the
stored value, so a user can change a parameter set without knowing (or wiping) its key.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from dtbase.schemas.services import MAX_JSON_DEPTH
from dtbase.schemas.users import Role

MASK = "********"
TOO_DEEP = f"(nested deeper than {MAX_JSON_DEPTH} levels: not shown)"

# Matched against the key in lower case with `-`, `_`, `.` and spaces removed.
SECRET_WORDS = re.compile(
    r"password|passwd|passphrase|secret|token|credential|authorization|signature"
    r"|(api|access|private|subscription|account|master|function|host|auth)key"
    r"|^(pass|pwd|key|code|sig|sas|auth|appid)$"
)


def is_secret_key(key: str) -> bool:
    return bool(SECRET_WORDS.search(re.sub(r"[-_. ]", "", key.lower())))


def mask(value: Any) -> Any:
    """`value` with the values under secret-looking keys replaced by MASK."""
    if isinstance(value, dict):
        return {k: MASK if is_secret_key(k) else mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(item) for item in value]
    return value


def readable(value: Any, depth: int = 0) -> Any:
    """`value` with what lies deeper than MAX_JSON_DEPTH replaced by a note.

    New values cannot be that deep (refused on the way in), but rows stored before, or by
    DTBase, may be; the JSON encoder gives up on them, and one such row used to make the
    whole list a 500."""
    if isinstance(value, dict | list) and depth >= MAX_JSON_DEPTH:
        return TOO_DEEP
    if isinstance(value, dict):
        return {k: readable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [readable(item, depth + 1) for item in value]
    return value


def shown_to(role: Role) -> Callable[[Any], Any]:
    """What a reader sees of stored parameters: all for admins, secrets masked otherwise
    (and never what is nested too deep to be sent back)."""
    if role == Role.admin:
        return readable
    return lambda value: mask(readable(value))


def unmask(new: Any, stored: Any) -> Any:
    """`new`, with MASK under a secret-looking key replaced by the stored value there."""
    if isinstance(new, dict) and isinstance(stored, dict):
        return {
            key: stored[key]
            if value == MASK and is_secret_key(key) and key in stored
            else unmask(value, stored.get(key))
            for key, value in new.items()
        }
    if isinstance(new, list) and isinstance(stored, list) and len(new) == len(stored):
        return [unmask(item, old) for item, old in zip(new, stored, strict=True)]
    return new


def mask_url(url: str) -> str:
    """The URL with the values of secret-looking query parameters (and any password)
    replaced by MASK."""
    try:
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        netloc = parts.netloc
        if parts.password is not None:
            netloc = netloc.replace(f":{parts.password}@", f":{MASK}@", 1)
    except ValueError:
        return url
    if not any(is_secret_key(key) for key, _ in query) and netloc == parts.netloc:
        return url
    masked = [(key, MASK if is_secret_key(key) else value) for key, value in query]
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(masked)))
