"""The FDB export service: parameters validated (400 naming the field), the handler over a
live backend and a real local FDB under DT_DATA_DIR, and its Azure Functions trigger."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import azure.functions as func
import pytest

from dtbase.client import Client
from dtbase.fdb import FdbStore
from dtbase.fdb.api_registry import ApiCodeRegistry
from dtbase.fdb.bridge import list_runs
from dtbase.schemas.models import MeasureValues
from dtbase.schemas.values import ValueDatatype
from services import function_app, registry
from services.common import ParameterError, respond
from services.fdb_export import handler
from tests.utils.settings import DEFAULT_PASSWORD

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
RUN_TIME = NOW - timedelta(hours=3)


def _clock() -> datetime:
    return NOW


@pytest.mark.parametrize(
    ("parameters", "field"),
    [
        ({"dt_from": "yesterday"}, "dt_from"),
        ({"dt_to": True}, "dt_to"),
        ({"dt_from": "-1h", "dt_to": "-2h"}, "dt_from"),
        ({"models": []}, "models"),
        ({"models": ["ok", 3]}, "models"),
        ({"sink": "disk"}, "sink"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_parameters_are_400_naming_the_field(parameters: dict[str, object], field: str) -> None:
    with pytest.raises(ParameterError) as raised:
        handler.parse_request(parameters, now=NOW)
    assert raised.value.field == field

    reply = respond(registry.HANDLERS["fdb_export"], json.dumps(parameters).encode())
    assert reply.status_code == 400
    assert reply.body["field"] == field


def test_defaults_are_the_last_day_with_pyfdb() -> None:
    request = handler.parse_request({}, now=NOW)

    assert request == handler.ExportRequest(NOW - timedelta(hours=24), NOW, None, "pyfdb")


def _insert_run(client: Client, values: list[float]) -> None:
    client.models.insert_model("arima")
    client.models.insert_model_measure("temperature", "K", ValueDatatype.float)
    times = [RUN_TIME + timedelta(minutes=30 * i) for i in range(len(values))]
    client.models.insert_model_run(
        "arima",
        "baseline",
        [MeasureValues(measure_name="temperature", values=values, timestamps=times)],
        time_created=RUN_TIME,
        create_scenario=True,
    )


def test_the_handler_exports_once_into_the_local_store(
    backend_env: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DT_FDB_CONFIG", raising=False)
    client = Client.logged_in(backend_env, "default_user@localhost", DEFAULT_PASSWORD)
    _insert_run(client, [280.5, 281.25, 282.0])

    first = handler.handle({"dt_from": "-6h"}, clock=_clock)
    second = handler.handle({"dt_from": "-6h"}, clock=_clock)

    assert first["ok"] is True
    assert first["service"] == "fdb_export"
    assert first["messages"] == 3
    assert [run["model"] for run in first["exported"]] == ["arima"]
    assert second["exported"] == []
    assert [run["reason"] for run in second["skipped"]] == [
        "the FDB holds it already, with the same values"
    ]
    assert second["ok"] is True
    store = FdbStore(data_dir=tmp_path / "data")
    runs = list_runs(store, ApiCodeRegistry(client))
    assert [(run.model, run.fields) for run in runs] == [("arima", 3)]
    client.close()


def test_unknown_models_are_a_400_and_nothing_is_written(
    backend_env: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DT_DATA_DIR", str(tmp_path / "data"))
    body = json.dumps({"models": ["nope"]}).encode()
    request = func.HttpRequest("POST", "http://localhost:7071/api/fdb_export", body=body)

    response = function_app.fdb_export(request)

    assert response.status_code == 400
    answer = json.loads(response.get_body())
    assert answer["field"] == "models"
    assert "no such model: 'nope'" in answer["detail"]
    store = FdbStore(data_dir=tmp_path / "data")
    assert store.list({"class": "rd"}) == []


def test_a_run_that_fails_makes_the_summary_not_ok(
    backend_env: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One run exports, one cannot be encoded: the function answers 502 (the run finished,
    some of its work failed) with the summary, which says ok false and gives the failed
    run's one reason."""
    monkeypatch.setenv("DT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DT_FDB_CONFIG", raising=False)
    client = Client.logged_in(backend_env, "default_user@localhost", DEFAULT_PASSWORD)
    _insert_run(client, [280.5, 281.25])
    client.models.insert_model("classifier")
    client.models.insert_model_measure("label", "", ValueDatatype.string)
    client.models.insert_model_run(
        "classifier",
        "baseline",
        [MeasureValues(measure_name="label", values=["sunny"], timestamps=[RUN_TIME])],
        time_created=RUN_TIME,
        create_scenario=True,
    )
    monkeypatch.setitem(registry.HANDLERS, "fdb_export", partial(handler.handle, clock=_clock))
    body = json.dumps({"dt_from": "-6h"}).encode()

    response = function_app.fdb_export(
        func.HttpRequest("POST", "http://localhost:7071/api/fdb_export", body=body)
    )

    assert response.status_code == 502
    summary = json.loads(response.get_body())
    assert summary["ok"] is False
    assert [run["model"] for run in summary["exported"]] == ["arima"]
    assert [(run["model"], run["reason"]) for run in summary["failed"]] == [
        (
            "classifier",
            "measure 'label' [] holds string values; only float measures can be exported to FDB",
        )
    ]
    client.close()
