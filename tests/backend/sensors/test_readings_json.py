"""sensor-readings' JSON: one plain query for small reads, then a stream after the first
chunk's last timestamp; the same array whatever the chunk size."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dtbase.backend.sensors import readings
from dtbase.backend.sensors.tables import Sensor, SensorMeasure
from dtbase.schemas.values import ValueDatatype

T0 = datetime(2024, 5, 1, tzinfo=UTC)
COUNT = 25


@pytest.fixture
def series(admin: httpx.Client) -> list[dict[str, object]]:
    measures = [{"name": "temperature", "units": "K", "datatype": "float"}]
    response = admin.post("/sensor/insert-sensor-type", json={"name": "T", "measures": measures})
    assert response.status_code == 201
    body = {"type_name": "T", "unique_identifier": "J1"}
    assert admin.post("/sensor/insert-sensor", json=body).status_code == 201
    stamps = [T0 + timedelta(seconds=7 * i, microseconds=i) for i in range(COUNT)]
    texts = [stamp.isoformat().replace("+00:00", "Z") for stamp in stamps]
    values = [i / 3 for i in range(COUNT)]
    readings: dict[str, object] = {
        "measure_name": "temperature",
        "unique_identifier": "J1",
        "readings": values[::-1],
        "timestamps": texts[::-1],
    }
    assert admin.post("/sensor/insert-sensor-readings", json=readings).status_code == 201
    return [{"value": v, "timestamp": t} for v, t in zip(values, texts, strict=True)]


@pytest.mark.parametrize("chunk_rows", [1, 2, 5, 24, 25, 26, 1000])
@pytest.mark.parametrize(("skip", "take"), [(0, COUNT), (3, 10), (24, 1), (5, 0)])
def test_every_chunk_size_gives_the_same_array(
    series: list[dict[str, object]], engine: Engine, chunk_rows: int, skip: int, take: int
) -> None:
    dt_from = T0 + timedelta(seconds=7 * skip, microseconds=skip)
    dt_to = dt_from + timedelta(seconds=7 * take - 1)
    with Session(engine) as session:
        sensor_id = session.scalars(select(Sensor.id)).one()
        measure_id = session.scalars(select(SensorMeasure.id)).one()
        first, rest = readings.readings_json(
            session,
            engine,
            sensor_id=sensor_id,
            measure_id=measure_id,
            datatype=ValueDatatype.float,
            dt_from=dt_from,
            dt_to=dt_to,
            chunk_rows=chunk_rows,
        )
        pieces = [first, *(rest or [])]

    assert (rest is None) == (take <= chunk_rows)
    assert json.loads(b"".join(pieces)) == series[skip : skip + take]
