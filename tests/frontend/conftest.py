"""Fixtures for the frontend: the Flask app against the real backend (`live_backend`),
and visitors of it (see tests/utils/visitors.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from dtbase.client import Client
from dtbase.core.settings import DEFAULT_USER_EMAIL
from frontend import create_app
from tests.utils.settings import DEFAULT_PASSWORD
from tests.utils.visitors import Visitor, VisitorFactory, frontend_settings


@pytest.fixture
def app(live_backend: str, clean_database: None) -> Flask:
    app = create_app(frontend_settings(live_backend))
    app.config["TESTING"] = True
    return app


@pytest.fixture
def visitor(app: Flask) -> Iterator[Visitor]:
    with app.test_client() as client:
        yield Visitor(client)


@pytest.fixture
def admin_visitor(app: Flask) -> Iterator[Visitor]:
    """A visitor logged in as the default user (an admin)."""
    with app.test_client() as client:
        visitor = Visitor(client)
        assert visitor.login(DEFAULT_USER_EMAIL, DEFAULT_PASSWORD).status_code == 200
        yield visitor


@pytest.fixture
def visitor_factory(app: Flask, client: Client) -> Iterator[VisitorFactory]:
    factory = VisitorFactory(app, client)
    yield factory
    factory.close()
