"""get-model-run streams a run's values (issue 4): the same JSON as the response built
with Pydantic before, in pieces, whatever the chunk size."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import TypeAdapter
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dtbase.backend.models import store
from dtbase.backend.models.tables import ModelMeasure, ModelProduct, ModelValue
from dtbase.schemas.models import ModelRunValues, ModelValuePoint
from tests.utils.models import a_run, setup_models

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def run_values(session: Session, *, run_id: int) -> ModelRunValues:
    """The test oracle: each product's points in timestamp order, keyed by measure name,
    read through the ORM as get-model-run did before it streamed (`{}` if no run)."""
    if not -(2**31) <= run_id < 2**31:
        return {}  # not a PostgreSQL integer: no row
    products = session.execute(
        select(ModelProduct.id, ModelMeasure.name, ModelMeasure.datatype)
        .join(ModelMeasure, ModelMeasure.id == ModelProduct.measure_id)
        .where(ModelProduct.run_id == run_id)
        .order_by(ModelProduct.id)
    ).all()
    result: ModelRunValues = {name: [] for _, name, _ in products}
    by_product = {product_id: (name, datatype) for product_id, name, datatype in products}
    values = session.scalars(
        select(ModelValue)
        .where(ModelValue.product_id.in_(by_product))
        .order_by(ModelValue.product_id, ModelValue.timestamp)
    )
    for value in values:
        name, datatype = by_product[value.product_id]
        scalar = value.value_of(datatype)
        assert scalar is not None  # the CHECK constraint and insert_values agree
        result[name].append(ModelValuePoint(value=scalar, timestamp=value.timestamp))
    return result


def _old_response(engine: Engine, run_id: int) -> bytes:
    """What get-model-run answered before streaming: Pydantic's JSON of `run_values`, as
    FastAPI renders it."""
    with Session(engine) as session:
        values = run_values(session, run_id=run_id)
    python = TypeAdapter(ModelRunValues).dump_python(values, mode="json")
    return json.dumps(python, ensure_ascii=False, separators=(",", ":")).encode()


@pytest.fixture
def runs(admin: httpx.Client) -> httpx.Client:
    """Run 1 with every datatype (random values, some stamps with microseconds, unicode
    labels), run 2 with one value."""
    setup_models(admin)
    rng = random.Random(12)
    count = 700
    stamps = [
        (T0 + timedelta(seconds=rng.randrange(10**7), microseconds=rng.choice([0, 1, 250_000])))
        .isoformat()
        .replace("+00:00", "Z")
        for _ in range(count)
    ]
    outputs = [
        ("mean temp", [round(rng.gauss(280, 30), rng.randrange(8)) for _ in range(count)]),
        ("rain?", [rng.random() < 0.5 for _ in range(count)]),
        ("count", [rng.randrange(-(2**62), 2**62) for _ in range(count)]),
        ("label", [rng.choice(["a", 'é"\\', "", "雨"]) for _ in range(count)]),
    ]
    body = a_run(
        measures_and_values=[
            {"measure_name": name, "values": values, "timestamps": stamps}
            for name, values in outputs
        ]
    )
    assert admin.post("/model/insert-model-run", json=body).status_code == 201
    single = a_run(
        time_created="2024-02-01T00:00:00Z",
        measures_and_values=[
            {"measure_name": "count", "values": [5], "timestamps": [T0.isoformat()]}
        ],
    )
    assert admin.post("/model/insert-model-run", json=single).status_code == 201
    return admin


@pytest.mark.parametrize("run_id", [1, 2, 3, 2**31])
def test_streamed_values_equal_the_old_response(
    runs: httpx.Client, engine: Engine, run_id: int
) -> None:
    response = runs.post("/model/get-model-run", json={"run_id": run_id})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    old = _old_response(engine, run_id)
    assert response.json() == json.loads(old)
    assert response.content == old


@pytest.mark.parametrize("chunk_rows", [1, 7, 700, 10_000])
def test_every_chunk_size_gives_the_same_json(
    runs: httpx.Client, engine: Engine, chunk_rows: int
) -> None:
    pieces = list(store.stream_run_values(engine, run_id=1, chunk_rows=chunk_rows))

    if chunk_rows == 1:
        assert len(pieces) > 4 * 700  # streamed, not built whole
    assert json.loads(b"".join(pieces)) == json.loads(_old_response(engine, 1))
