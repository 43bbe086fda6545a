"""Property-based run over the whole OpenAPI schema against the live backend: no 5xx, and
every answer has a documented status, content type and body shape."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from pydantic import SecretStr
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_schema_conformance,
    status_code_conformance,
)

from dtbase.backend.app import create_app
from dtbase.core.settings import DEFAULT_USER_EMAIL, BackendSettings
from tests.utils.settings import DEFAULT_PASSWORD

# The schema is the app's own; requests go over HTTP to the live backend of the session.
_APP = create_app(
    BackendSettings(environment="development", jwt_secret_key=SecretStr("unused")),
    database_url="postgresql+psycopg://unused@127.0.0.1:1/unused",
)
# Not the event stream: its answer never ends (tests/events/test_stream.py covers it).
api = schemathesis.openapi.from_dict(_APP.openapi()).exclude(path="/events/stream")

# A registered service that cannot be reached or answers too slowly is reported as such.
UPSTREAM_FAILURES = {("POST", "/service/run-service"): {502, 504}}


def no_server_fault(_: Any, response: Any, case: schemathesis.Case[Any]) -> None:
    if response.status_code < 500:
        return
    allowed = UPSTREAM_FAILURES.get((case.method.upper(), case.path), set())
    assert response.status_code in allowed, f"{response.status_code}: {response.text[:500]}"


@pytest.fixture
def admin_token(live_backend: str, clean_database: None) -> str:
    login = {"email": DEFAULT_USER_EMAIL, "password": DEFAULT_PASSWORD}
    return str(httpx.post(f"{live_backend}/auth/login", json=login).json()["access_token"])


@api.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation(case: schemathesis.Case[Any], live_backend: str, admin_token: str) -> None:
    case.call_and_validate(
        base_url=live_backend,
        headers={"Authorization": f"Bearer {admin_token}"},
        checks=[
            no_server_fault,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
            ignored_auth,
        ],
    )
