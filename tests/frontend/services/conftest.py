"""Fixtures for the services' pages."""

from __future__ import annotations

import pytest

from dtbase.client import Client
from tests.utils.service_pages import register_echo


@pytest.fixture
def echo(client: Client) -> Client:
    """The service `echo` with its parameter set `daily` (see `register_echo`)."""
    return register_echo(client)
