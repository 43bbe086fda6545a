"""`dtbase events listen`: as `aviso listen`, a metadata query and a trigger per event."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

import httpx
import typer
from pydantic import ValidationError

from dtbase.cli.options import (
    BackendOption,
    EmailOption,
    PasswordOption,
    backend_url,
    fail,
    logged_in,
    utc_time,
)
from dtbase.client.errors import describe
from dtbase.core.settings import DEFAULT_USER_EMAIL
from dtbase.schemas.events import EventKind, EventOut, EventQuery

events_app = typer.Typer(help="Events: what the backend stores, as it stores it.")

# A trigger does something with an event; False: it failed (and said why on stderr).
Trigger = Callable[[EventOut], bool]
POST_TIMEOUT_SECONDS = 10.0

Values = Annotated[list[str] | None, typer.Option(show_default=False)]


@events_app.command("listen")
def listen(
    kind: Annotated[
        list[str] | None,
        typer.Option(help=f"An event kind ({', '.join(EventKind)}).", show_default=False),
    ] = None,
    sensor: Values = None,
    sensor_type: Values = None,
    measure: Values = None,
    location: Values = None,
    model: Values = None,
    scenario: Values = None,
    service: Values = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Replay first: the events after this event id, or from this ISO 8601 time.",
            show_default=False,
        ),
    ] = None,
    command: Annotated[
        str | None,
        typer.Option(
            "--exec",
            help="Run this shell command for each event, with the event's JSON on its input "
            "(and DTBASE_EVENT_ID, DTBASE_EVENT_KIND set).",
            show_default=False,
        ),
    ] = None,
    post: Annotated[
        str | None,
        typer.Option(
            help="POST each event to this URL as a CloudEvent (structured JSON).",
            show_default=False,
        ),
    ] = None,
    stop_on_error: Annotated[
        bool, typer.Option(help="Stop at the first event whose command or POST fails.")
    ] = False,
    backend_url_: BackendOption = None,
    email: EmailOption = DEFAULT_USER_EMAIL,
    password: PasswordOption = None,
) -> None:
    """Follow the events matching the query (each option repeatable for several values;
    none: every event), live, and print each as a JSON line, or run --exec or --post.
    Reconnects after a dropped connection and resumes after the last event seen."""
    try:
        query = EventQuery(
            kind=kind,
            sensor=sensor,
            sensor_type=sensor_type,
            measure=measure,
            location=location,
            model=model,
            scenario=scenario,
            service=service,
        )
    except ValidationError as error:
        fail(describe(error.errors(include_url=False)))
    from_ = _start(start)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    triggers = _triggers(command, post, source=f"{backend_url(backend_url_)}/events/stream")
    with logged_in(backend_url_, email, password) as client:
        try:
            for event in client.events.stream(query, from_=from_):
                for trigger in triggers:
                    if not trigger(event) and stop_on_error:
                        raise typer.Exit(1)
        except KeyboardInterrupt:
            return


def _start(text: str | None) -> int | datetime | None:
    if text is None:
        return None
    if text.isascii() and text.isdigit():
        return int(text)
    try:
        return utc_time(text)
    except ValueError as error:
        fail(f"--from: {error}; give an event id or an ISO 8601 time")


def _triggers(command: str | None, post: str | None, *, source: str) -> list[Trigger]:
    triggers: list[Trigger] = []
    if command is not None:
        triggers.append(lambda event: _run(command, event))
    if post is not None:
        triggers.append(_poster(post, source=source))
    return triggers or [_print]


def _print(event: EventOut) -> bool:
    sys.stdout.write(event.model_dump_json() + "\n")
    sys.stdout.flush()
    return True


def _run(command: str, event: EventOut) -> bool:
    environment = {
        **os.environ,
        "DTBASE_EVENT_ID": str(event.id),
        "DTBASE_EVENT_KIND": event.kind.value,
    }
    sys.stdout.flush()  # the command writes to the same output, after what came before
    finished = subprocess.run(
        ["/bin/sh", "-c", command],
        input=event.model_dump_json().encode(),
        env=environment,
        check=False,
    )
    if finished.returncode != 0:
        _report(event, f"the command exited with status {finished.returncode}")
        return False
    return True


def _poster(url: str, *, source: str) -> Trigger:
    """A trigger that POSTs each event to `url` as a CloudEvent."""
    # Imported here: the cloudevents package is slow to load, and only --post needs it.
    from dtbase.schemas.cloudevents import structured

    http = httpx.Client(timeout=POST_TIMEOUT_SECONDS)

    def post(event: EventOut) -> bool:
        headers, body = structured(event, source=source)
        try:
            response = http.post(url, content=body, headers=headers)
        except httpx.HTTPError as error:
            _report(event, f"POST {url} failed: {error}")
            return False
        if not response.is_success:
            _report(event, f"POST {url} answered {response.status_code}: {response.text[:200]}")
            return False
        return True

    return post


def _report(event: EventOut, problem: str) -> None:
    typer.echo(f"Error: event {event.id} ({event.kind.value}): {problem}", err=True)
