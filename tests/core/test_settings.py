from __future__ import annotations

import pytest
from pydantic import ValidationError

from dtbase.core.settings import BackendSettings, ClientSettings, DatabaseSettings

STRONG = "a-strong-secret-of-many-different-characters-0123456789"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "DT_DATABASE_URL",
        "DT_SQL_HOST",
        "DT_ENVIRONMENT",
        "DT_JWT_SECRET_KEY",
        "DT_DEFAULT_USER_PASS",
    ):
        monkeypatch.delenv(name, raising=False)


def test_no_database_settings_means_the_embedded_database() -> None:
    assert DatabaseSettings().external_database_url() is None


def test_dtbase_sql_variables_build_a_url_quoted_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DT_SQL_HOST", "db.example.org")
    monkeypatch.setenv("DT_SQL_PORT", "6543")
    monkeypatch.setenv("DT_SQL_USER", "twin")
    monkeypatch.setenv("DT_SQL_PASS", "p@ss/w:rd%")
    monkeypatch.setenv("DT_SQL_DBNAME", "MyTwin")

    url = DatabaseSettings().external_database_url()

    assert url == "postgresql+psycopg://twin:p%40ss%2Fw%3Ard%25@db.example.org:6543/MyTwin"


def test_full_database_url_wins_and_gets_the_psycopg_driver(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DT_SQL_HOST", "ignored")
    monkeypatch.setenv("DT_DATABASE_URL", "postgresql://u:p@h/db")

    assert DatabaseSettings().external_database_url() == "postgresql+psycopg://u:p@h/db"


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        (None, "is not set"),
        ("changethis", "placeholder"),
        ("short", "shorter than 32"),
        (" " * 32, "fewer than 12 different characters"),
        ("ab" * 40, "fewer than 12 different characters"),
    ],
)
def test_production_refuses_weak_jwt_secrets(
    monkeypatch: pytest.MonkeyPatch, secret: str | None, reason: str
) -> None:
    if secret is not None:
        monkeypatch.setenv("DT_JWT_SECRET_KEY", secret)

    with pytest.raises(ValidationError, match=reason):
        BackendSettings()


def test_production_accepts_a_strong_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DT_JWT_SECRET_KEY", STRONG)

    assert BackendSettings().environment == "production"


@pytest.mark.parametrize("password", ["1", "seven77"])
def test_production_refuses_a_short_default_user_password(
    monkeypatch: pytest.MonkeyPatch, password: str
) -> None:
    monkeypatch.setenv("DT_JWT_SECRET_KEY", STRONG)
    monkeypatch.setenv("DT_DEFAULT_USER_PASS", password)

    with pytest.raises(ValidationError, match="DT_DEFAULT_USER_PASS is shorter than 8"):
        BackendSettings()


def test_production_runs_without_a_default_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DT_JWT_SECRET_KEY", STRONG)

    assert BackendSettings().default_user_pass is None


def test_development_runs_without_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DT_ENVIRONMENT", "development")

    assert BackendSettings().jwt_secret_key is None


def test_backend_url_uses_dtbase_name_and_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ClientSettings().backend_url == "http://localhost:5000"
    monkeypatch.setenv("DT_BACKEND_URL", "http://twin:8080")
    assert ClientSettings().backend_url == "http://twin:8080"
