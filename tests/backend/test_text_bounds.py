"""Hostile texts in every field of every write request: 100,000 characters, and multibyte
text just over and exactly at each field's limit (4 bytes a character, varied so that
PostgreSQL cannot compress it into an index entry).

Too long is a 422 naming the field and its limit, and stores nothing; exactly at the
limit is never a 500 (the limits keep every indexed text under PostgreSQL's ~2,700-byte
index entry). Fields come from the live OpenAPI document, so a new write endpoint or a new
text field is walked too (a new endpoint fails here until it has a body below).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from dtbase.backend.tables import Base

WRITE_VERBS = {"insert", "create", "edit", "change", "set", "run", "assign", "rotate"}
LOOKUP_VERBS = {"delete", "enable", "disable"}
# The event query's values (dtbase.schemas.events) are matched, never indexed: left out.
NOT_WALKED = {("query",)}

TIME = "2024-01-01T00:00:00Z"
SERVICE_URL = "http://127.0.0.1:1/x"
SENSOR_MEASURE = {"name": "t", "units": "K", "datatype": "float"}
IDENTIFIER = {"name": "x", "units": "m", "datatype": "float"}
SERIES = {
    "unique_identifier": "s",
    "measure_name": "t",
    "measure_units": "K",
    "readings": [1.0],
    "timestamps": [TIME],
}
# What exists before each request (made through the API, in this order).
EXISTING: list[tuple[str, dict[str, Any]]] = [
    ("/sensor/insert-sensor-type", {"name": "T", "measures": [SENSOR_MEASURE]}),
    ("/sensor/insert-sensor", {"type_name": "T", "unique_identifier": "s"}),
    (
        "/location/insert-location-schema",
        {"name": "S", "description": None, "identifiers": [IDENTIFIER]},
    ),
    ("/location/insert-location-for-schema", {"schema_name": "S", "coordinates": {"x": 1.0}}),
    ("/model/insert-model", {"name": "m"}),
    ("/model/insert-model-scenario", {"model_name": "m", "description": "sc"}),
    ("/model/insert-model-measure", {"name": "mm", "units": "K", "datatype": "float"}),
    (
        "/fdb/assign-codes",
        {"model": "m", "scenario": "sc", "measures": [{"name": "mm", "units": "K"}]},
    ),
    ("/user/create-user", {"email": "other@example.com", "password": "x" * 12}),
    ("/service/insert-service", {"name": "svc", "url": SERVICE_URL, "http_method": "POST"}),
    ("/service/insert-parameter-set", {"service_name": "svc", "name": "ps", "parameters": {}}),
    (
        "/service/insert-schedule",
        {"service_name": "svc", "name": "sch", "interval_seconds": 3600, "enabled": False},
    ),
    (
        "/events/triggers/create",
        {"name": "trg", "service_name": "svc", "query": {"kind": "readings.stored"}},
    ),
    ("/events/subscriptions/create", {"name": "sub", "url": SERVICE_URL}),
]
# A body each write endpoint accepts, given EXISTING: the hostile text replaces one field.
BODIES: dict[str, dict[str, Any]] = {
    "/sensor/insert-sensor-type": {
        "name": "U",
        "description": "d",
        "measures": [{"name": "u", "units": "K", "datatype": "float"}],
    },
    "/sensor/insert-sensor": {
        "type_name": "T",
        "unique_identifier": "s2",
        "name": "n",
        "notes": "n",
    },
    "/sensor/insert-sensor-location": {
        "unique_identifier": "s",
        "schema_name": "S",
        "coordinates": {"x": 1.0},
    },
    "/sensor/insert-sensor-readings": {k: v for k, v in SERIES.items()},
    "/sensor/insert-readings-bulk": {"series": [SERIES]},
    "/sensor/delete-sensor": {"unique_identifier": "s"},
    "/sensor/delete-sensor-type": {"type_name": "T"},
    "/sensor/edit-sensor": {"unique_identifier": "s", "name": "n", "notes": "n"},
    "/sensor/edit-sensor-type": {"type_name": "T", "new_name": "T2", "description": "d"},
    "/sensor/edit-sensor-measure": {"name": "t", "units": "K", "new_name": "t2", "new_units": "C"},
    "/sensor/delete-sensor-measure": {"name": "t", "units": "K"},
    "/model/insert-model": {"name": "m2"},
    "/model/delete-model": {"name": "m"},
    "/model/edit-model": {"name": "m", "new_name": "m2"},
    "/model/insert-model-scenario": {"model_name": "m", "description": "sc2"},
    "/model/delete-model-scenario": {"model_name": "m", "description": "sc"},
    "/model/edit-model-scenario": {"model_name": "m", "description": "sc", "new_description": "d"},
    "/model/insert-model-measure": {"name": "mm2", "units": "K", "datatype": "float"},
    "/model/delete-model-measure": {"name": "mm", "units": "K"},
    "/model/edit-model-measure": {"name": "mm", "units": "K", "new_name": "mm2", "new_units": "C"},
    "/model/insert-model-run": {
        "model_name": "m",
        "scenario_description": "sc",
        "measures_and_values": [
            {"measure_name": "mm", "units": "K", "values": [1.0], "timestamps": [TIME]}
        ],
        "sensor_unique_id": "s",
        "sensor_measure": {"name": "t", "units": "K"},
    },
    "/model/delete-model-run": {"run_id": 1},
    "/user/create-user": {"email": "new@example.com", "password": "y" * 12, "role": "user"},
    "/user/delete-user": {"email": "other@example.com"},
    "/user/change-password": {"email": "other@example.com", "password": "z" * 12},
    "/user/set-role": {"email": "other@example.com", "role": "viewer"},
    "/location/insert-location-schema": {
        "name": "S2",
        "description": "d",
        "identifiers": [{"name": "y", "units": "m", "datatype": "float"}],
    },
    "/location/insert-location": {"identifiers": [IDENTIFIER], "values": [2.0]},
    "/location/insert-location-for-schema": {"schema_name": "S", "coordinates": {"x": 3.0}},
    "/location/delete-location-schema": {"schema_name": "S"},
    "/location/delete-location": {"schema_name": "S", "coordinates": {"x": 1.0}},
    "/location/edit-location-schema": {"schema_name": "S", "new_name": "S3", "description": "d"},
    "/location/edit-location": {
        "schema_name": "S",
        "coordinates": {"x": 1.0},
        "new_coordinates": {"x": 4.0},
    },
    "/service/insert-service": {"name": "svc2", "url": SERVICE_URL, "http_method": "GET"},
    "/service/edit-service": {"name": "svc", "new_name": "svc3", "url": SERVICE_URL},
    "/service/delete-service": {"name": "svc"},
    "/service/insert-parameter-set": {"service_name": "svc", "name": "ps2", "parameters": {}},
    "/service/delete-parameter-set": {"service_name": "svc", "name": "ps"},
    "/service/edit-parameter-set": {"service_name": "svc", "name": "ps", "parameters": {"a": 1}},
    # Waits for its run (refused at once: nothing listens on port 1), so that no run ends
    # after the test, in the next one.
    "/service/run-service": {"service_name": "svc", "parameter_set_name": "ps", "wait": True},
    "/service/insert-schedule": {
        "service_name": "svc",
        "name": "sch2",
        "cron": "0 * * * *",
        "time_zone": "UTC",
        "parameter_set_name": "ps",
        "enabled": False,
    },
    "/service/edit-schedule": {
        "service_name": "svc",
        "name": "sch",
        "new_name": "sch3",
        "time_zone": "UTC",
        "parameter_set_name": "ps",
    },
    "/service/delete-schedule": {"service_name": "svc", "name": "sch"},
    "/fdb/assign-codes": {
        "model": "m",
        "scenario": "sc",
        "measures": [{"name": "mm", "units": "K"}],
        "sensor": {"sensor": "s", "measure": "t", "units": "K"},
    },
    "/fdb/edit-model-code": {"model": "m", "new_model": "m9", "expver": "zz99"},
    "/fdb/edit-scenario-code": {"model": "m", "scenario": "sc", "new_scenario": "sc9"},
    "/fdb/edit-measure-code": {"name": "mm", "units": "K", "new_name": "mm9", "new_units": "C"},
    "/mqtt/insert-activity": {
        "sensors": [
            {
                "unique_identifier": "s",
                "messages": 1,
                "errors": 1,
                "recent_errors": [{"cause": "c", "reason": "r", "received_at": TIME}],
            }
        ]
    },
    "/events/subscriptions/create": {"name": "sub2", "url": SERVICE_URL, "secret": "s" * 32},
    "/events/subscriptions/edit": {"name": "sub", "new_name": "sub3", "url": SERVICE_URL},
    "/events/subscriptions/enable": {"name": "sub"},
    "/events/subscriptions/disable": {"name": "sub"},
    "/events/subscriptions/rotate-secret": {"name": "sub", "secret": "t" * 32},
    "/events/subscriptions/delete": {"name": "sub"},
    "/events/triggers/create": {
        "name": "trg2",
        "service_name": "svc",
        "query": {"kind": "readings.stored"},
        "parameter_set_name": "ps",
    },
    "/events/triggers/edit": {"name": "trg", "new_name": "trg3", "parameter_set_name": "ps"},
    "/events/triggers/enable": {"name": "trg"},
    "/events/triggers/disable": {"name": "trg"},
    "/events/triggers/delete": {"name": "trg"},
}

Path = tuple[str | int, ...]


def _verb(path: str) -> str:
    return path.rsplit("/", 1)[-1].split("-", 1)[0]


def _text_fields(
    spec: dict[str, Any], schema: dict[str, Any], where: Path = ()
) -> Iterator[tuple[Path, int | None]]:
    """Each plain string field of a JSON schema (not an enum, a date or a value that may
    also be a number), with its maxLength."""
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    if "anyOf" in schema:
        options = [option for option in schema["anyOf"] if option.get("type") != "null"]
        if len(options) == 1:
            yield from _text_fields(spec, options[0], where)
        return
    kind = schema.get("type")
    if kind == "string" and "enum" not in schema and "format" not in schema:
        yield where, schema.get("maxLength")
    elif kind == "object":
        for name, field in schema.get("properties", {}).items():
            if (*where, name) not in NOT_WALKED:
                yield from _text_fields(spec, field, (*where, name))
    elif kind == "array":
        yield from _text_fields(spec, schema.get("items", {}), (*where, 0))


def _placed(body: dict[str, Any], where: Path, value: str) -> dict[str, Any]:
    """A copy of `body` with `value` at `where` (made if missing)."""
    result = copy.deepcopy(body)
    node: Any = result
    for step, following in zip(where, [*where[1:], None], strict=True):
        if following is None:
            node[step] = value
        else:
            if isinstance(node, list):
                while len(node) <= int(step):
                    node.append({})
            elif node.get(step) is None:
                node[step] = [] if isinstance(following, int) else {}
            node = node[step]
    return result


def _four_byte_text(length: int) -> str:
    """`length` characters of 4 bytes each in UTF-8, varied (no run PostgreSQL compresses)."""
    return "".join(chr(0x20000 + (index * 7919) % 0xA000) for index in range(length))


def _write_operations(client: httpx.Client) -> dict[str, dict[str, Any]]:
    spec = client.get("/openapi.json").json()
    return {
        path: spec
        for path, item in spec["paths"].items()
        if "post" in item
        and _verb(path) in WRITE_VERBS | LOOKUP_VERBS
        and "application/json" in item["post"].get("requestBody", {}).get("content", {})
    }


def _fields(client: httpx.Client, path: str) -> list[tuple[Path, int | None]]:
    spec = client.get("/openapi.json").json()
    body = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    return list(_text_fields(spec, body["schema"]))


def _snapshot(engine: Engine) -> dict[str, str]:
    """Every row of every table, as text, by table: equal snapshots, unchanged data."""
    tables = [table.name for table in Base.metadata.sorted_tables]
    query = " UNION ALL ".join(
        f"SELECT '{name}', coalesce(string_agg(t::text, '|' ORDER BY t::text), '')"
        f' FROM "{name}" t'
        for name in tables
    )
    with engine.connect() as connection:
        return {row[0]: row[1] for row in connection.execute(text(query))}


@pytest.fixture
def existing(admin: httpx.Client) -> httpx.Client:
    for path, body in EXISTING:
        response = admin.post(path, json=body)
        assert response.status_code in (200, 201), (path, response.text)
    return admin


def test_every_write_endpoint_is_walked(admin: httpx.Client) -> None:
    assert set(_write_operations(admin)) == set(BODIES)


def test_every_text_a_write_stores_is_bounded(admin: httpx.Client) -> None:
    unbounded = {
        (path, where) for path in BODIES for where, limit in _fields(admin, path) if limit is None
    }

    assert unbounded == set()


@pytest.mark.parametrize("path", sorted(BODIES))
def test_too_long_is_a_422_naming_the_field_and_its_limit_and_at_the_limit_never_a_500(
    existing: httpx.Client, engine: Engine, path: str
) -> None:
    wrong: dict[str, Any] = {}
    fields = _fields(existing, path)
    for where, limit in fields:
        assert limit is not None, where
        for label, value in [
            ("100,000 characters", "n" * 100_000),
            ("one 4-byte character too many", _four_byte_text(limit + 1)),
            ("3,000 bytes", "€" * 1000),
        ]:
            if len(value) <= limit:
                continue
            before = _snapshot(engine)
            answer = existing.post(path, json=_placed(BODIES[path], where, value))
            problems = answer.json()["detail"] if answer.status_code == 422 else []
            named = [p for p in problems if p["loc"] == ["body", *where]]
            changed = [table for table, rows in _snapshot(engine).items() if before[table] != rows]
            if not (
                named
                and named[0]["type"] == "string_too_long"
                and f"at most {limit} characters" in named[0]["msg"]
                and not changed
            ):
                wrong[f"{where} {label}"] = (answer.status_code, changed, answer.text[:300])
    # The longest text each field takes, in the most bytes: stored, or refused with a 4xx.
    for where, limit in fields:
        assert limit is not None
        answer = existing.post(path, json=_placed(BODIES[path], where, _four_byte_text(limit)))
        if answer.status_code >= 500:
            wrong[f"{where} at the limit"] = (answer.status_code, answer.text[:300])

    assert wrong == {}
