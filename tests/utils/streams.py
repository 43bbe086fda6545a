"""Following the frontend's relayed event stream over real HTTP, as a browser does: logged
in with a session cookie, reading server-sent events record by record."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def browser_login(http: httpx.Client, email: str, password: str) -> httpx.Client:
    """`http` (on the frontend's URL) holding a session cookie of `email`."""
    token = CSRF.search(http.get("/login").text)
    assert token is not None
    answer = http.post(
        "/login", data={"csrf_token": token.group(1), "email": email, "password": password}
    )
    assert answer.status_code == 302, answer.text
    return http


@dataclass(frozen=True)
class Record:
    id: str | None
    event: str | None
    data: str | None

    def json(self) -> Any:
        assert self.data is not None
        return json.loads(self.data)


def records(response: httpx.Response) -> Iterator[Record]:
    """The records of an open event stream, as they come (comments skipped)."""
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if not line:
            if fields:
                yield Record(fields.get("id"), fields.get("event"), fields.get("data"))
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


def next_event(stream: Iterator[Record]) -> Record:
    """The next record that carries an event (not the first, which only sets the id)."""
    for record in stream:
        if record.data:
            return record
    raise AssertionError("the stream ended")
