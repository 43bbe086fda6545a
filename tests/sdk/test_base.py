"""The SDK against the real backend: DTBase's contract, 409s, failures, token refresh."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from dtbase.client import Client
from dtbase.sdk import BaseIngress, BaseModel, Outcome, ServiceRunError
from dtbase.sdk.base import BaseService
from tests.utils.settings import DEFAULT_PASSWORD, JWT_SECRET

START = datetime(2024, 1, 1, tzinfo=UTC)


class ExampleIngress(BaseIngress):
    """Written as DTBase's docs write one: pairs of endpoint and payload."""

    def get_service_data(self, n: int = 3, sensor: str = "S1") -> list[tuple[str, Any]]:
        measure = {"name": "temperature", "units": "degrees Celsius", "datatype": "float"}
        timestamps = [(START + timedelta(hours=i)).isoformat() for i in range(n)]
        return [
            (
                "/sensor/insert-sensor-type",
                {"name": "thermometer", "description": None, "measures": [measure]},
            ),
            ("/sensor/insert-sensor", {"type_name": "thermometer", "unique_identifier": sensor}),
            (
                "/sensor/insert-sensor-readings",
                {
                    "measure_name": "temperature",
                    "unique_identifier": sensor,
                    "readings": [20.0 + i for i in range(n)],
                    "timestamps": timestamps,
                },
            ),
        ]


def _readings(client: Client, sensor: str = "S1") -> list[float]:
    found = client.sensors.sensor_readings("temperature", sensor, START, START + timedelta(days=1))
    return [float(reading.value) for reading in found]


def test_a_dtbase_style_service_posts_its_pairs_in_order(backend_env: str, client: Client) -> None:
    summary = ExampleIngress()(n=3)

    assert summary.ok
    assert (summary.succeeded, summary.already_there, summary.failures) == (3, 0, [])
    assert [result.endpoint for result in summary.results] == [
        "/sensor/insert-sensor-type",
        "/sensor/insert-sensor",
        "/sensor/insert-sensor-readings",
    ]
    assert summary.results[0].detail == "Sensor type inserted"
    assert _readings(client) == [20.0, 21.0, 22.0]
    assert summary.to_dict() == {
        "service": "ExampleIngress",
        "ok": True,
        "succeeded": 3,
        "already_there": 0,
        "failed": 0,
        "problems": [],
        "failures": [],
    }


def test_a_rerun_counts_409s_on_inserts_as_already_there(backend_env: str, client: Client) -> None:
    ExampleIngress()(n=2)

    summary = ExampleIngress()(n=4)

    assert summary.ok
    assert [result.outcome for result in summary.results] == [
        Outcome.exists,
        Outcome.exists,
        Outcome.ok,
    ]
    assert summary.results[0].status_code == 409
    assert _readings(client) == [20.0, 21.0, 22.0, 23.0]


def test_failures_are_collected_and_raised_as_one_error(backend_env: str, client: Client) -> None:
    class Broken(BaseIngress):
        def get_service_data(self, **kwargs: Any) -> list[tuple[str, Any]]:
            pairs = ExampleIngress().get_service_data()
            bad = ("/sensor/insert-sensor-readings", {**pairs[2][1], "unique_identifier": "nope"})
            return [*pairs[:2], bad, ("/sensor/no-such-endpoint", {}), pairs[2]]

    with pytest.raises(ServiceRunError) as raised:
        Broken()()

    summary = raised.value.summary
    assert not summary.ok
    assert (summary.succeeded, len(summary.failures)) == (3, 2)
    assert [(f.endpoint, f.status_code) for f in summary.failures] == [
        ("/sensor/insert-sensor-readings", 400),
        ("/sensor/no-such-endpoint", 404),
    ]
    # Every pair was tried: the readings after the failures arrived.
    assert _readings(client) == [20.0, 21.0, 22.0]
    assert "2 failed" in str(raised.value)
    assert summary.to_dict()["failures"][0]["status_code"] == 400


def test_the_backend_url_and_password_are_read_when_called(
    live_backend: str, clean_database: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DT_BACKEND_URL", raising=False)
    monkeypatch.delenv("DT_DEFAULT_USER_PASS", raising=False)
    service = ExampleIngress()  # built before the environment is set

    with pytest.raises(ValueError, match="DT_DEFAULT_USER_PASS"):
        service()
    monkeypatch.setenv("DT_BACKEND_URL", live_backend)
    monkeypatch.setenv("DT_DEFAULT_USER_PASS", DEFAULT_PASSWORD)
    assert service().ok


def test_explicit_credentials_and_url(live_backend: str, client: Client) -> None:
    client.users.create_user("svc@example.com", "service-password")

    summary = ExampleIngress(live_backend)(
        dt_user_email="svc@example.com", dt_user_password="service-password"
    )

    assert summary.ok


def test_a_refused_login_is_reported_not_posted(backend_env: str) -> None:
    with pytest.raises(ServiceRunError) as raised:
        ExampleIngress()(dt_user_password="wrong")

    summary = raised.value.summary
    assert summary.results == []
    assert "Could not log in" in summary.problems[0]
    assert "Incorrect email or password" in summary.problems[0]


def test_an_expired_token_is_refreshed_during_a_run(backend_env: str, client: Client) -> None:
    class SlowModel(BaseModel):
        """As if the model had computed for longer than the access token lives."""

        def get_service_data(self, **kwargs: Any) -> list[tuple[str, Any]]:
            assert self.client.tokens is not None
            claims = {
                "sub": "default_user@localhost",
                "token_type": "access",
                "exp": int(time.time()) - 5,
            }
            expired = jwt.encode(claims, JWT_SECRET, "HS256")
            self.client.tokens = self.client.tokens.model_copy(update={"access_token": expired})
            return [("/model/insert-model", {"name": "slow"})]

    summary = SlowModel()()

    assert summary.ok
    assert [model.name for model in client.models.list_models()] == ["slow"]


def test_the_client_is_there_while_the_service_runs(backend_env: str, client: Client) -> None:
    client.models.insert_model("existing")
    seen: list[str] = []

    class Reader(BaseModel):
        def get_service_data(self, **kwargs: Any) -> list[tuple[str, Any]]:
            seen.extend(model.name for model in self.client.models.list_models())
            return []

    service = Reader()
    assert service().ok
    assert seen == ["existing"]
    with pytest.raises(RuntimeError, match="not being called"):
        _ = service.client


def test_reported_problems_fail_the_run_but_the_pairs_are_posted(
    backend_env: str, client: Client
) -> None:
    class Partial(BaseIngress):
        def get_service_data(self, **kwargs: Any) -> list[tuple[str, Any]]:
            self.report_problem("the provider answered 429 for half of the hours")
            return [("/model/insert-model", {"name": "partial"})]

    with pytest.raises(ServiceRunError) as raised:
        Partial()()

    assert raised.value.summary.succeeded == 1
    assert raised.value.summary.problems == ["the provider answered 429 for half of the hours"]
    assert [model.name for model in client.models.list_models()] == ["partial"]


def test_service_types_are_dtbase_labels() -> None:
    assert (BaseService.service_type, BaseIngress.service_type, BaseModel.service_type) == (
        "service",
        "ingress",
        "model",
    )
    with pytest.raises(NotImplementedError):
        BaseService().get_service_data()
