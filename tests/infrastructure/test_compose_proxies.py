"""Behind docker compose, logins reach the backend from the frontend's container, which
passes each visitor's address in X-Forwarded-For. uvicorn believes that header only from
the addresses in FORWARDED_ALLOW_IPS (default 127.0.0.1): compose sets it, or every
visitor would share the frontend's count of failed logins (docs/security.md)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from dtbase.backend.app import create_app
from dtbase.core.settings import DEFAULT_USER_EMAIL, BackendSettings
from tests.infrastructure.deploy_files import interpolate, load_compose
from tests.utils.settings import DEFAULT_PASSWORD

# Where Docker puts compose networks by default (its default address pools), and so the
# frontend's container and this machine's published ports as the backend sees them.
DOCKER_POOLS = [ipaddress.ip_network(f"172.{n}.0.0/16") for n in range(17, 32)] + [
    ipaddress.ip_network("192.168.0.0/16")
]
FRONTEND_CONTAINER = ("172.18.0.5", 45678)
VISITOR, OTHER_VISITOR = "198.51.100.7", "198.51.100.8"
PER_ADDRESS = 3


def _trusted() -> str:
    """The backend's FORWARDED_ALLOW_IPS, as compose sets it when .env leaves it out."""
    environment = load_compose()["services"]["backend"]["environment"]
    return interpolate(environment["FORWARDED_ALLOW_IPS"], {})


def test_compose_trusts_docker_s_networks_and_no_public_address() -> None:
    # uvicorn takes an entry it cannot parse as a literal name, which no peer ever matches.
    networks = [ipaddress.ip_network(entry.strip()) for entry in _trusted().split(",")]

    for pool in DOCKER_POOLS:
        assert any(pool.subnet_of(network) for network in networks), pool  # type: ignore[arg-type]
    assert all(network.is_private for network in networks)


@pytest.fixture
def behind_compose(
    settings: BackendSettings, database_url: str, clean_database: None
) -> Iterator[TestClient]:
    """The backend as uvicorn serves it in compose, called from the frontend's container."""
    limits = {"login_failures_per_address": PER_ADDRESS, "login_window_seconds": 600}
    backend = create_app(settings.model_copy(update=limits), database_url=database_url)
    # What `uvicorn --proxy-headers` wraps the app in, with compose's FORWARDED_ALLOW_IPS.
    backend.add_middleware(ProxyHeadersMiddleware, trusted_hosts=_trusted())
    with TestClient(backend, client=FRONTEND_CONTAINER) as client:
        yield client


def test_logins_through_the_frontend_are_throttled_per_visitor(
    behind_compose: TestClient,
) -> None:
    def login(visitor: str, email: str, password: str) -> int:
        answer = behind_compose.post(
            "/auth/login",
            json={"email": email, "password": password},
            headers={"X-Forwarded-For": visitor},
        )
        status: int = answer.status_code
        return status

    guesses = [login(VISITOR, f"user{n}@example.com", "guess") for n in range(PER_ADDRESS + 1)]

    assert guesses == [401] * PER_ADDRESS + [429]
    assert login(VISITOR, DEFAULT_USER_EMAIL, DEFAULT_PASSWORD) == 429
    # Another visitor, through the same frontend, is not held up by the guesser.
    assert login(OTHER_VISITOR, DEFAULT_USER_EMAIL, DEFAULT_PASSWORD) == 200
