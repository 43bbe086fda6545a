"""The SDK's tests run services in the environment a DTBase service runs in."""

from __future__ import annotations

import pytest

from tests.utils.settings import DEFAULT_PASSWORD


@pytest.fixture
def backend_env(live_backend: str, clean_database: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """The environment a DTBase service runs in: the backend URL and the password."""
    monkeypatch.setenv("DT_BACKEND_URL", live_backend)
    monkeypatch.setenv("DT_DEFAULT_USER_PASS", DEFAULT_PASSWORD)
    return live_backend
