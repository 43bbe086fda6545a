"""A service's page in tests: a registered service to show, and one row of its tables."""

from __future__ import annotations

import re

from dtbase.client import Client

ECHO_PAGE = "/services/service/echo"


def register_echo(client: Client) -> Client:
    """A registered service `echo` with a parameter set `daily`. Nothing answers at its
    URL: the pages' tests start no run (the shared backend runs no scheduler and no
    trigger worker)."""
    client.services.insert_service("echo", "http://127.0.0.1:9/api/echo", "POST")
    client.services.insert_parameter_set("echo", "daily", {"hours": 24})
    return client


def row_of(page: str, kind: str, name: str) -> str:
    """The HTML of the row of the schedule or trigger (`kind`) `name` on a service page."""
    found = re.search(rf'<tr data-{kind}="{re.escape(name)}">(.*?)</tr>', page, re.S)
    assert found, f"no row for the {kind} {name}"
    return found.group(1)
