"""An edit racing a delete of what it edits gets the answer of an edit of something that
does not exist (400), never a 500: the edit's UPDATE may meet the row deleted meanwhile."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

RACE_SECONDS = 1.0


@dataclass(frozen=True)
class Race:
    setup: list[tuple[str, dict[str, Any]]]  # What the edited object needs, once.
    create: tuple[str, dict[str, Any]]
    edit: tuple[str, list[dict[str, Any]]]  # Bodies sent in turn.
    delete: tuple[str, dict[str, Any]]
    clashes: bool = False  # Whether an edit may clash with a recreated object (409).


SERVICE = {"name": "svc", "url": "http://localhost:7071/api/none", "http_method": "POST"}
MODEL_SCENARIO = {"model_name": "m", "description": "a"}
RACES = {
    "edit-sensor": Race(
        setup=[("/sensor/insert-sensor-type", {"name": "T", "measures": []})],
        create=("/sensor/insert-sensor", {"type_name": "T", "unique_identifier": "s"}),
        edit=("/sensor/edit-sensor", [{"unique_identifier": "s", "name": "n", "notes": "x"}]),
        delete=("/sensor/delete-sensor", {"unique_identifier": "s"}),
    ),
    "edit-sensor-type": Race(
        setup=[],
        create=("/sensor/insert-sensor-type", {"name": "T", "measures": []}),
        edit=("/sensor/edit-sensor-type", [{"type_name": "T", "description": "edited"}]),
        delete=("/sensor/delete-sensor-type", {"type_name": "T"}),
    ),
    "edit-location-schema": Race(
        setup=[],
        create=(
            "/location/insert-location-schema",
            {"name": "L", "description": None, "identifiers": []},
        ),
        edit=("/location/edit-location-schema", [{"schema_name": "L", "description": "edited"}]),
        delete=("/location/delete-location-schema", {"schema_name": "L"}),
    ),
    "edit-parameter-set": Race(
        setup=[("/service/insert-service", SERVICE)],
        create=(
            "/service/insert-parameter-set",
            {"service_name": "svc", "name": "p", "parameters": {}},
        ),
        edit=(
            "/service/edit-parameter-set",
            [{"service_name": "svc", "name": "p", "parameters": {"k": 1}}],
        ),
        delete=("/service/delete-parameter-set", {"service_name": "svc", "name": "p"}),
    ),
    "edit-model-scenario": Race(
        setup=[("/model/insert-model", {"name": "m"})],
        create=("/model/insert-model-scenario", MODEL_SCENARIO),
        # There and back: an edit that changes nothing writes nothing.
        edit=(
            "/model/edit-model-scenario",
            [
                {**MODEL_SCENARIO, "new_description": "b"},
                {"model_name": "m", "description": "b", "new_description": "a"},
            ],
        ),
        delete=("/model/delete-model-scenario", MODEL_SCENARIO),
        clashes=True,
    ),
}


@pytest.mark.parametrize("race", RACES.values(), ids=RACES.keys())
def test_an_edit_racing_a_delete_is_a_400_never_a_500(
    admin: httpx.Client, live_backend: str, race: Race
) -> None:
    for path, body in race.setup:
        assert admin.post(path, json=body).status_code == 201
    edit_path, edit_bodies = race.edit
    delete_path, delete_body = race.delete

    # Without the object, the edit's answer is the one to expect when it loses the race.
    absent = admin.post(edit_path, json=edit_bodies[0])
    assert absent.status_code == 400, absent.text
    assert admin.post(*race.create[:1], json=race.create[1]).status_code == 201

    expected = {200, absent.status_code, *([409] if race.clashes else [])}
    answers: Counter[int] = Counter()
    failures: list[str] = []
    stop = threading.Event()

    def keep_editing() -> None:
        with httpx.Client(base_url=live_backend, headers=admin.headers, timeout=30) as client:
            for turn in itertools.count():
                if stop.is_set():
                    break
                response = client.post(edit_path, json=edit_bodies[turn % len(edit_bodies)])
                answers[response.status_code] += 1
                if response.status_code not in expected:
                    failures.append(response.text)

    def keep_deleting_and_recreating() -> None:
        with httpx.Client(base_url=live_backend, headers=admin.headers, timeout=30) as client:
            while not stop.is_set():
                # Either may meet what an edit did (a renamed scenario): only 5xx is wrong.
                for response in (
                    client.post(delete_path, json=delete_body),
                    client.post(race.create[0], json=race.create[1]),
                ):
                    if response.status_code >= 500:
                        failures.append(response.text)

    threads = [threading.Thread(target=keep_editing) for _ in range(3)]
    threads.append(threading.Thread(target=keep_deleting_and_recreating))
    for thread in threads:
        thread.start()
    time.sleep(RACE_SECONDS)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)

    assert failures == [], (answers, failures[:3])
    assert answers[200] > 0
